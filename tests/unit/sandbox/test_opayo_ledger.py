"""The Opayo sandbox's fidelity ledger (docs/sandbox-opayo.md) covers every rule in its code.

Each rule in `sandbox/opayo/` carries a `# rule: OPAYO-<AREA>-<NN>` comment; the ledger has one
row per id with the public source the rule follows, or "our assumption". These tests fail when
a rule has no row, a row names a rule the code no longer has, an id is used twice, or a row's
source says nothing checkable.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SANDBOX = ROOT / "sandbox" / "opayo"
LEDGER = ROOT / "docs" / "sandbox-opayo.md"
RULE_ID = r"OPAYO-[A-Z]+-\d{2,3}"
MARKER = re.compile(rf"#\s*rule:\s*({RULE_ID}(?:\s*,\s*{RULE_ID})*)")
ROW = re.compile(rf"^\|\s*({RULE_ID})\s*\|(.*)\|\s*$")
# What a source column must name: a web page, a repository file (owner/repo then a path or
# file name in backticks), the reference page, or an honest "our assumption"/"sandbox control".
CHECKABLE_SOURCE = re.compile(
    r"https?://\S+"
    r"|\b[\w.-]+/[\w.-]+\s+`[^`]+`"
    r"|\breference\b"
    r"|\bour assumption\b"
    r"|\bsandbox control\b",
    re.IGNORECASE,
)


def rule_markers(root: Path = SANDBOX) -> Counter[str]:
    """Every rule id marked in the sandbox's code, with how often it is marked."""
    found: Counter[str] = Counter()
    for path in sorted(root.rglob("*.py")):
        for match in MARKER.finditer(path.read_text(encoding="utf-8")):
            found.update(re.findall(RULE_ID, match.group(1)))
    return found


def ledger_rows(text: str) -> dict[str, list[str]]:
    """Ledger rows by id: the cells after the id (behaviour, source)."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = ROW.match(line.strip())
        if match:
            rows.setdefault(match.group(1), []).append(match.group(2))
    return rows


@pytest.fixture(scope="module")
def markers() -> Counter[str]:
    return rule_markers()


@pytest.fixture(scope="module")
def rows() -> dict[str, list[str]]:
    return ledger_rows(LEDGER.read_text(encoding="utf-8"))


def test_the_sandbox_marks_its_rules(markers: Counter[str]) -> None:
    # The Pi, Server, notification, Reporting and settlement rules are all marked.
    areas = {rule_id.split("-")[1] for rule_id in markers}
    assert {"PI", "CARD", "OUT", "SRV", "NTF", "RPT", "STL"} <= areas


def test_every_rule_in_the_code_has_a_ledger_row(
    markers: Counter[str], rows: dict[str, list[str]]
) -> None:
    missing = sorted(set(markers) - set(rows))
    assert missing == [], f"add a row to docs/sandbox-opayo.md for {missing}"


def test_every_ledger_row_names_a_rule_in_the_code(
    markers: Counter[str], rows: dict[str, list[str]]
) -> None:
    stale = sorted(set(rows) - set(markers))
    assert stale == [], f"no `# rule:` marker in sandbox/opayo for {stale}"


def test_each_id_is_used_once(markers: Counter[str], rows: dict[str, list[str]]) -> None:
    assert [rule_id for rule_id, count in markers.items() if count > 1] == []
    assert [rule_id for rule_id, cells in rows.items() if len(cells) > 1] == []


def test_every_row_says_where_its_rule_comes_from(rows: dict[str, list[str]]) -> None:
    for rule_id, (cells,) in rows.items():
        behaviour, _, source = cells.rpartition("|")
        assert behaviour.strip(), f"{rule_id}: the behaviour is empty"
        assert CHECKABLE_SOURCE.search(source), (
            f"{rule_id}: the source {source.strip()!r} names no page, repository file, "
            "reference section, 'our assumption' or 'sandbox control'"
        )


def test_the_checks_catch_a_rule_without_a_row(tmp_path: Path) -> None:
    """The mechanism itself: a marked rule with no row, and a row without a rule, are found."""
    (tmp_path / "new_rule.py").write_text("# rule: OPAYO-SHP-01\nx = 1\n# rule: OPAYO-SHP-02\n")
    ledger = "| OPAYO-SHP-01 | refund.vsp | thephpleague/omnipay-sagepay `src/Message/X.php` |\n"
    marked, listed = rule_markers(tmp_path), ledger_rows(ledger)
    assert sorted(set(marked) - set(listed)) == ["OPAYO-SHP-02"]
    assert ledger_rows("| OPAYO-SHP-09 | x | |")["OPAYO-SHP-09"] == [" x | "]
    assert not CHECKABLE_SOURCE.search(" ")
    assert not CHECKABLE_SOURCE.search(" Opayo says so ")
