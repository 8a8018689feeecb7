"""The edge and the domain agree: every field API Gateway's request models check (in the
synthesized template) has exactly the constraints docs/openapi.json gives it, and the
document is the one the routes' pydantic models generate (tests/contract/test_openapi.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.api_models import CONSTRAINTS, EDGE_FIELDS, OPENAPI_DOCUMENT
from opayo_fba.model.common import OrderId
from tests.infra.conftest import of_type
from tests.infra.test_api import _methods

DOCUMENT: dict[str, Any] = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
ROUTES = {
    "submitOrder": ("POST", "/orders"),
    "completeChallenge": ("POST", "/orders/{orderId}/3ds-challenge"),
    "refundOrder": ("POST", "/orders/{orderId}/refunds"),
    "returnOrder": ("POST", "/orders/{orderId}/returns"),
    "resubmitOrder": ("POST", "/orders/{orderId}/resubmit"),
}


def _deref(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    options = [o for o in schema.get("anyOf", []) if o != {"type": "null"}]
    return _deref(options[0]) if len(options) == 1 else schema


def _walk(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema of `a.b` / `a[].b` under `schema` (refs followed, a nullable's non-null)."""
    for part in path.split("."):
        name = part.removesuffix("[]")
        tagged = _deref(schema).get("discriminator", {})
        if tagged.get("propertyName") == name:  # a discriminated union's tag: its values
            return {"type": "string", "enum": sorted(tagged["mapping"])}
        schema = _deref(_deref(schema)["properties"][name])
        if part.endswith("[]"):
            schema = _deref(schema["items"])
    return _deref(schema)


def _document_body(operation_id: str) -> dict[str, Any]:
    for operations in DOCUMENT["paths"].values():
        for operation in operations.values():
            if operation["operationId"] == operation_id:
                body: dict[str, Any] = operation["requestBody"]["content"]["application/json"]
                return body["schema"]
    raise AssertionError(operation_id)


def _edge_model(resources: dict[str, Any], operation_id: str) -> dict[str, Any]:
    method = _methods(resources)[ROUTES[operation_id]]
    model_ref = method["RequestModels"]["application/json"]["Ref"]
    schema: dict[str, Any] = of_type(resources, "AWS::ApiGateway::Model")[model_ref]["Properties"][
        "Schema"
    ]
    return schema


@pytest.mark.parametrize(
    ("operation_id", "field"),
    [(operation_id, field) for operation_id, fields in EDGE_FIELDS.items() for field in fields],
)
def test_each_field_the_edge_checks_has_the_documents_constraints(
    resources: dict[str, Any], operation_id: str, field: str
) -> None:
    edge = _walk(_edge_model(resources, operation_id), field)
    documented = _walk(_document_body(operation_id), field)
    assert {k: edge[k] for k in CONSTRAINTS if k in edge} == {
        k: documented[k] for k in CONSTRAINTS if k in documented
    }


@pytest.mark.parametrize("operation_id", sorted(EDGE_FIELDS))
def test_the_edge_requires_what_the_document_requires(
    resources: dict[str, Any], operation_id: str
) -> None:
    edge = _edge_model(resources, operation_id)
    assert edge["required"] == _deref(_document_body(operation_id))["required"]
    assert edge["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_the_edge_and_the_domain_take_the_same_order_ids(resources: dict[str, Any]) -> None:
    # Once 40 characters of [A-Za-z0-9._-] at the edge and 64 of another alphabet inside.
    from pydantic import TypeAdapter

    expected = TypeAdapter(OrderId).json_schema()
    order_id = _walk(_edge_model(resources, "submitOrder"), "order.order_id")
    assert order_id["maxLength"] == expected["maxLength"] == 64
    assert order_id["pattern"] == expected["pattern"]
    assert order_id["minLength"] == expected["minLength"]
