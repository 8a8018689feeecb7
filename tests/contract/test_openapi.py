"""The OpenAPI document: generated from the routes and their pydantic models, kept in
docs/openapi.json (a stale file fails here), valid OpenAPI 3.1, and every reply the handlers
build matches the model the document gives it."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_schema_validator import OAS31Validator

from opayo_fba.api.openapi import document, render
from opayo_fba.api.views import OrderView
from tests.fixtures.saga_world import make_order

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_docs_openapi_json_is_the_generated_document() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is stale: run "
        "`python -m opayo_fba.api.openapi --write docs/openapi.json` and commit it"
    )


def test_every_request_and_reply_schema_is_valid_json_schema() -> None:
    generated = document()
    assert generated["openapi"].startswith("3.1")
    for schema in generated["components"]["schemas"].values():
        OAS31Validator.check_schema(schema)
    statuses = {
        f"{method.upper()} {path}": sorted(operation["responses"])
        for path, operations in generated["paths"].items()
        for method, operation in operations.items()
    }
    assert "422" not in json.dumps(statuses)  # never answered: a bad body is a 400


def test_an_order_as_the_api_shows_it_is_an_order_view() -> None:
    from opayo_fba.store.orders import OrderRecord

    record = OrderRecord(order=make_order("W-1"), seller_account="uk-main", vendor="sandbox")
    OrderView.model_validate(record.public_view())
