"""`opayo-fba routing preview` decides as intake does, from cdk.json's rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from tests.unit.routing.test_routing_rules import order_to

PROJECT_ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def _write(tmp_path: Path, body: dict[str, Any]) -> Path:
    path = tmp_path / "order.json"
    path.write_text(json.dumps(body))
    return path


def _flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


def _preview(*args: str) -> Any:
    return runner.invoke(
        app, ["routing", "preview", *args, "--config", str(PROJECT_ROOT / "cdk.json")]
    )


@pytest.mark.parametrize(
    ("country", "currency", "account", "marketplace", "vendor"),
    [
        ("GB", "GBP", "uk-main", "A1F83G8C2ARO7P", "exampleuk"),
        ("DE", "EUR", "eu-main", "A1PA6795UKMFR9", "exampleeu"),
        ("FR", "EUR", "eu-main", "A13V1IB3VIYZZH", "exampleeu"),
    ],
)
def test_the_prod_rules_route_by_country_and_currency(
    tmp_path: Path, country: str, currency: str, account: str, marketplace: str, vendor: str
) -> None:
    order = order_to(country, currency).model_dump(mode="json")
    result = _preview(str(_write(tmp_path, {"order": order})), "--stage", "prod")
    assert result.exit_code == 0, result.output
    for value in (account, marketplace, vendor):
        assert value in result.output


def test_an_order_intake_would_refuse_exits_1_with_the_reason(tmp_path: Path) -> None:
    order = order_to("US", "USD").model_dump(mode="json")
    result = _preview(str(_write(tmp_path, {"order": order})), "--stage", "prod")
    assert result.exit_code == 1
    assert "intake would refuse this order (400): sellerAccount: no fulfillment rule" in _flat(
        result.output
    )
    contradiction = _preview(
        str(
            _write(
                tmp_path, {"order": order_to("GB").model_dump(mode="json"), "vendor": "exampleeu"}
            )
        ),
        "--stage",
        "prod",
    )
    assert contradiction.exit_code == 1
    assert "vendor: 'exampleeu' contradicts payment rule 1" in _flat(contradiction.output)


def test_unusable_input_exits_2_with_the_fix(tmp_path: Path) -> None:
    missing_stage = _preview(str(_write(tmp_path, {"order": {}})), "--stage", "staging")
    assert missing_stage.exit_code == 2
    assert "choose one with --stage" in _flat(missing_stage.output)
    bad_order = _preview(str(_write(tmp_path, {"order": {"order_id": "X"}})), "--stage", "prod")
    assert bad_order.exit_code == 2
    assert "fix the order and preview again" in _flat(bad_order.output)
    assert "Traceback" not in bad_order.output
