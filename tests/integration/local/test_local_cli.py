"""`opayo-fba local invoke` runs one handler of a synthesized template with an event."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opayo_fba.cli.main import app

STACK = Path(__file__).parent / "stack"


def test_invoke_prints_the_handler_result(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"order": "ORDER-7"}')
    template = str(STACK / "Mini.template.json")
    result = CliRunner().invoke(
        app, ["local", "invoke", "StepFn", str(event), "--template", template]
    )
    assert result.exit_code == 0, result.output
    # The secret was seeded with the Opayo sandbox's vendor for this template.
    assert json.loads(result.output) == {"order": "ORDER-7", "vendor": "sandbox"}


def test_invoke_reports_a_failing_handler_with_exit_1(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    template = str(STACK / "Mini.template.json")
    result = CliRunner().invoke(
        app, ["local", "invoke", "StepFn", str(event), "--template", template]
    )
    assert result.exit_code == 1
    assert json.loads(result.output)["errorType"] == "KeyError"


def test_invoke_rejects_bad_json_and_unknown_functions(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    template = str(STACK / "Mini.template.json")
    runner = CliRunner()
    result = runner.invoke(app, ["local", "invoke", "StepFn", str(bad), "--template", template])
    assert result.exit_code == 2
    assert "is not JSON" in result.output
    good = tmp_path / "good.json"
    good.write_text("{}")
    result = runner.invoke(app, ["local", "invoke", "Nope", str(good), "--template", template])
    assert result.exit_code == 2
    assert "no function 'Nope'" in result.output


def test_missing_synth_says_how_to_fix(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    event = tmp_path / "event.json"
    event.write_text("{}")
    result = CliRunner().invoke(app, ["local", "invoke", "StepFn", str(event)])
    assert result.exit_code == 2
    assert "make synth" in result.output
