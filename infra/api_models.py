"""API Gateway's request models, generated from the API's OpenAPI document (docs/openapi.json,
itself generated from the routes' pydantic models), so the edge and the domain agree.

The edge is a first screen, not a second copy of the domain: it checks the fields each route
lists in EDGE_FIELDS (their types, patterns, lengths, bounds and enums, exactly as the
document has them) and the objects on the way to them (required members, and no unknown
members where the edge sees the whole object). Everything else reaches the function, whose
400 names the field; API Gateway's own refusal only says `Invalid request body`.

A document schema becomes an API Gateway model (JSON Schema draft 4): `$ref`s are resolved,
`const` is a one-value `enum`, a discriminated `oneOf` is an object whose discriminator is one
of the mapping's values, an optional member stays `anyOf [..., null]`, and OpenAPI-only
keywords (title, description, discriminator, default) are left out.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from aws_cdk import aws_apigateway as apigw

OPENAPI_DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
EDGE_FIELDS: dict[str, tuple[str, ...]] = {
    "submitOrder": ("order.order_id", "vendor", "sellerAccount", "payment.type"),
    "completeChallenge": ("cRes", "threeDSSessionData"),
    "refundOrder": (
        "refundId",
        "reason",
        "amount.amount",
        "amount.currency",
        "lines[].lineId",
        "lines[].quantity",
    ),
    "returnOrder": ("returnId", "reasonCode", "comment", "items[].lineId", "items[].quantity"),
    "resubmitOrder": ("resubmitId",),
}
"""What the edge checks of each route's body (`a.b` a member, `a[].b` each item's member)."""
CONSTRAINTS = ("type", "pattern", "minLength", "maxLength", "minimum", "maximum", "enum")
"""The keywords of a field the edge copies from the document."""
_ARRAY_BOUNDS = ("minItems", "maxItems")


@cache
def openapi_document(path: Path = OPENAPI_DOCUMENT) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for operations in document["paths"].values():
        for found in operations.values():
            if found.get("operationId") == operation_id:
                return dict(found)
    raise KeyError(f"docs/openapi.json has no operation {operation_id}")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` (to the document's components) followed."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def request_schema(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    body = operation(document, operation_id)["requestBody"]["content"]["application/json"]
    return resolve(document, body["schema"])


def _split(paths: list[str]) -> dict[str, list[str]]:
    """`["a.b", "a.c", "d"]` -> `{"a": ["b", "c"], "d": []}` (`a[]` keeps its brackets)."""
    children: dict[str, list[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        children.setdefault(head, [])
        if rest:
            children[head].append(rest)
    return children


def _nullable(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    options = schema.get("anyOf")
    if options and len(options) == 2 and {"type": "null"} in options:
        return next(o for o in options if o != {"type": "null"}), True
    return schema, False


def edge_schema(
    document: dict[str, Any], schema: dict[str, Any], paths: list[str]
) -> dict[str, Any]:
    """The draft-4 schema the edge checks for `schema` and the listed paths below it."""
    schema, nullable = _nullable(resolve(document, schema))
    edge = _edge(document, resolve(document, schema), paths)
    return {"anyOf": [edge, {"type": "null"}]} if nullable else edge


def _edge(document: dict[str, Any], schema: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    if "oneOf" in schema and "discriminator" in schema:
        tag = schema["discriminator"]["propertyName"]
        return {
            "type": "object",
            "required": [tag],
            "properties": {
                tag: {"type": "string", "enum": sorted(schema["discriminator"]["mapping"])}
            },
        }
    if not paths:
        edge = {key: schema[key] for key in CONSTRAINTS if key in schema}
        if "const" in schema:
            edge["enum"] = [schema["const"]]
        return edge
    if schema.get("type") == "array":
        items = [path.removeprefix("[].") for path in paths]
        edge = {"type": "array", **{k: schema[k] for k in _ARRAY_BOUNDS if k in schema}}
        edge["items"] = edge_schema(document, schema["items"], items)
        return edge
    properties: dict[str, Any] = schema["properties"]
    children = {name.removesuffix("[]"): ["[]." + p if name.endswith("[]") else p for p in rest]
                for name, rest in _split(paths).items()}  # fmt: skip
    edge = {
        "type": "object",
        "properties": {
            name: edge_schema(document, properties[name], rest) for name, rest in children.items()
        },
    }
    required = [name for name in schema.get("required", []) if name in children]
    if required:
        edge["required"] = required
    if set(children) == set(properties) and schema.get("additionalProperties") is False:
        edge["additionalProperties"] = False
    return edge


def request_model_schema(operation_id: str, title: str) -> dict[str, Any]:
    """The API Gateway model (draft 4) of an operation's body, from docs/openapi.json."""
    document = openapi_document()
    schema = request_schema(document, operation_id)
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": title,
        **_edge(document, schema, list(EDGE_FIELDS[operation_id])),
    }


def to_json_schema(schema: dict[str, Any]) -> apigw.JsonSchema:
    """A draft-4 schema as CDK's `JsonSchema`."""
    simple = {
        "title": "title",
        "pattern": "pattern",
        "minLength": "min_length",
        "maxLength": "max_length",
        "minimum": "minimum",
        "maximum": "maximum",
        "minItems": "min_items",
        "maxItems": "max_items",
        "required": "required",
        "enum": "enum",
        "additionalProperties": "additional_properties",
    }
    arguments: dict[str, Any] = {simple[k]: v for k, v in schema.items() if k in simple}
    if "$schema" in schema:
        arguments["schema"] = apigw.JsonSchemaVersion.DRAFT4
    if "type" in schema:
        arguments["type"] = apigw.JsonSchemaType[schema["type"].upper()]
    if "properties" in schema:
        arguments["properties"] = {
            name: to_json_schema(child) for name, child in schema["properties"].items()
        }
    if "items" in schema:
        arguments["items"] = to_json_schema(schema["items"])
    if "anyOf" in schema:
        arguments["any_of"] = [to_json_schema(option) for option in schema["anyOf"]]
    return apigw.JsonSchema(**arguments)


def request_model(operation_id: str, title: str) -> apigw.JsonSchema:
    return to_json_schema(request_model_schema(operation_id, title))
