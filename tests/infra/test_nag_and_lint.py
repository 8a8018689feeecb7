"""Proof the template is clean: cdk-nag (three packs) and cfn-lint.

The cdk-nag packs run as synthesis validations (`Validations.of(app).add_plugins`): an
unacknowledged finding makes synthesis fail, so reaching these tests already means there is
none. The tests read the validation report to check that claim, that every acknowledgement
carries a reason and is still needed, and that docs/deploy.md lists each one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.nag import FINDINGS
from tests.infra.conftest import PROJECT_ROOT

PACKS = {"AwsSolutions", "Serverless", "PCI.DSS.321"}
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture(scope="module")
def report(cloud_assembly: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((cloud_assembly / "validation-report.json").read_text())
    return loaded


def test_three_packs_ran_with_zero_violations(report: dict[str, Any]) -> None:
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    # CDK adds its own "CloudFormation Validate" plugin beside the three cdk-nag packs.
    assert set(plugins) >= PACKS
    for name, plugin in plugins.items():
        assert plugin["conclusion"] == "success", name
        assert plugin["violations"] == [], name


def test_every_acknowledgement_has_a_real_reason(report: dict[str, Any]) -> None:
    suppressed = [
        v
        for p in report["pluginReports"]
        if p["pluginName"] in PACKS
        for v in p["suppressedViolations"]
    ]
    assert suppressed
    for violation in suppressed:
        assert len(violation["reason"]) >= 80, violation["acknowledgedId"]


def test_every_acknowledgement_is_still_needed(report: dict[str, Any]) -> None:
    used = {v["reason"] for p in report["pluginReports"] for v in p["suppressedViolations"]}
    for finding in FINDINGS:
        assert finding.reason in used, f"{finding.rule} is acknowledged but never triggered"


def test_docs_list_every_acknowledgement() -> None:
    docs = (PROJECT_ROOT / "docs" / "deploy.md").read_text()
    for finding in FINDINGS:
        rule = finding.rule.split("::", 1)[1]
        assert f"| `{rule}` | {finding.applies_to} | {finding.reason} |" in docs, rule


def test_cfn_lint_finds_no_errors(template_path: Path) -> None:
    result = subprocess.run(  # noqa: S603
        [str(CFN_LINT), "--format", "parseable", str(template_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], "\n".join(errors)
    assert result.returncode in (0, 4, 8), result.stderr  # 4 = warnings, 8 = informational


def test_cfn_lint_reports_errors_when_there_are_some(tmp_path: Path) -> None:
    """The linter really runs: a template with a wrong property type must be an error."""
    broken = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}
        }
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = subprocess.run(  # noqa: S603
        [str(CFN_LINT), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert any(":E" in line for line in result.stdout.splitlines()), result.stdout
