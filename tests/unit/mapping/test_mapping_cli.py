"""`opayo-fba mapping ...` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from opayo_fba.mapping import check_template, parse_template
from tests.conftest import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events" / "shop"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["mapping", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_mapping_help_lists_the_commands() -> None:
    code, out, _ = _run("--help")
    assert code == 0
    for command in ("check", "preview", "suggest", "schema", "starters"):
        assert command in out


def test_check_accepts_a_valid_template_and_lists_its_rules() -> None:
    code, out, _ = _run("check", str(PROJECT_ROOT / "templates" / "shopify.yaml"))
    assert code == 0
    assert "shopify-starter v1: 16 rules" in out
    assert "amazon.displayableOrderId" in out
    assert "is a valid mapping template" in out


def test_check_names_template_rule_field_and_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "name": "acme",
                "rules": [
                    {"name": "speed", "target": "amazon.shippingSpeedCategory", "value": "Fast"}
                ],
            }
        ),
        encoding="utf-8",
    )
    code, out, err = _run("check", str(bad))
    assert code == 1
    assert out == ""
    assert "mapping template 'acme v1', rule 'speed', field amazon.shippingSpeedCategory" in err
    assert "'Fast' is not one of the allowed values" in err
    assert "fix the template" in err


def test_check_keeps_brackets_in_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: acme\nrules: []\n", encoding="utf-8")
    code, _, err = _run("check", str(bad))
    assert code == 1
    assert f"[in {bad}]" in err.replace("\n", "")


def test_check_of_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    code, _, err = _run("check", str(tmp_path / "nope.yaml"))
    assert code == 1
    assert "cannot be read" in err


def test_preview_shows_before_and_after_side_by_side() -> None:
    code, out, _ = _run(
        "preview",
        "starter:shopify",
        str(EVENTS / "shopify-order.json"),
        "--products",
        str(EVENTS / "product-master.csv"),
    )
    assert code == 0, out
    assert "before (from the order)" in out
    assert "after (sent)" in out
    row = next(line for line in out.splitlines() if "shipping-speed" in line)
    assert row.index("Express Delivery") < row.index("Expedited")
    assert "skipped: condition not met" in out
    assert "6110111000" in out


def test_preview_json_prints_the_mapped_result() -> None:
    code, out, _ = _run(
        "preview", "starter:woocommerce", str(EVENTS / "woocommerce-order.json"), "--json"
    )
    assert code == 0
    mapped = json.loads(out)
    assert mapped["fulfillment_order"]["displayableOrderId"] == "WC-7315"
    assert mapped["opayo"]["vendorData"] == "winter sale 2026"


def test_preview_reports_a_mapping_error_with_template_rule_and_field(tmp_path: Path) -> None:
    event = tmp_path / "order.json"
    event.write_text(json.dumps({"note": "x" * 800}), encoding="utf-8")
    template = tmp_path / "t.yaml"
    template.write_text(
        yaml.safe_dump(
            {
                "name": "acme",
                "rules": [
                    {"name": "note", "target": "amazon.displayableOrderComment", "source": "note"}
                ],
            }
        ),
        encoding="utf-8",
    )
    code, _, err = _run("preview", str(template), str(event))
    assert code == 1
    assert "rule 'note', field amazon.displayableOrderComment" in err
    assert "add a truncate transform" in err


def test_preview_refuses_an_event_that_is_not_json(tmp_path: Path) -> None:
    event = tmp_path / "order.json"
    event.write_text("not json", encoding="utf-8")
    code, _, err = _run("preview", "starter:shopify", str(event))
    assert code == 2
    assert "is not valid JSON" in err


def test_suggest_drafts_a_template_that_passes_check() -> None:
    code, out, err = _run("suggest", str(EVENTS / "shopify-order.json"), "--name", "acme")
    assert code == 0
    assert "Suggested rules" in err  # the table goes to stderr, the YAML to stdout
    drafted = yaml.safe_load(out)
    template = parse_template(drafted, origin="suggested")
    check_template(template)
    targets = {rule.target: rule.source for rule in template.rules}
    assert targets["amazon.notificationEmails"] == "email"
    assert targets["amazon.shippingSpeedCategory"] == "shipping_lines[0].code"
    assert (
        targets["payment.metadata.campaignId"]
        == "note_attributes[?name=='utm_campaign'].value | [0]"
    )
    speed = next(r for r in template.rules if r.target == "amazon.shippingSpeedCategory")
    assert speed.transforms[0].op == "lookup"
    assert speed.transforms[0].table == {"Express Delivery": "Standard"}  # type: ignore[union-attr]


def test_suggest_uses_product_master_columns_for_line_attributes(tmp_path: Path) -> None:
    output = tmp_path / "draft.yaml"
    code, _, _ = _run(
        "suggest",
        str(EVENTS / "woocommerce-order.json"),
        "--products",
        str(EVENTS / "product-master.csv"),
        "-o",
        str(output),
    )
    assert code == 0
    drafted = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert drafted["lines"] == {"path": "line_items", "sku": "sku"}
    targets = {rule["target"]: rule["source"] for rule in drafted["rules"]}
    assert targets["line.hsCode"] == "product.hs_code"
    assert targets["line.ledgerCategory"] == "product.ledger_category"
    code, _, err = _run("suggest", str(EVENTS / "woocommerce-order.json"), "-o", str(output))
    assert code == 2
    assert "exists" in err
    assert "--force" in err


def test_suggest_with_nothing_recognisable_says_what_to_do(tmp_path: Path) -> None:
    sample = tmp_path / "s.json"
    sample.write_text(json.dumps({"zzz": 1}), encoding="utf-8")
    code, _, err = _run("suggest", str(sample))
    assert code == 1
    assert "starter" in err


def test_starters_command_lists_the_starters() -> None:
    code, out, _ = _run("starters")
    assert code == 0
    assert out.split() == ["starter:shopify", "starter:woocommerce"]
