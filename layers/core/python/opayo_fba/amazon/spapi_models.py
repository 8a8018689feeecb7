"""Amazon's official SP-API models as executable contracts.

The models in `official_models/` are byte-for-byte copies of Amazon's published files
(amzn/selling-partner-api-models, Apache-2.0; a test keeps them equal to the project's
reference copy). Everything the connector sends and everything the sandbox answers is checked
against them here, so a field we invent or misspell fails a test instead of a production call.

Swagger 2.0 definitions are JSON Schema draft 4 with `#/definitions/...` references; the
notification schemas are draft 7. Validators are built lazily and cached: jsonschema is
imported only when something is validated, which keeps it off the Lambda cold-start path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

MODELS_PACKAGE = "opayo_fba.amazon.official_models"

NOTIFICATION_SCHEMAS: dict[str, str] = {
    "FULFILLMENT_ORDER_STATUS": "FulfillmentOrderStatusNotification",
    "ORDER_CHANGE": "OrderChangeNotification",
    "REPORT_PROCESSING_FINISHED": "ReportProcessingFinishedNotification",
    "FBA_INVENTORY_AVAILABILITY_CHANGES": "FBAInventoryAvailabilityChangeNotification",
}

API_MODELS: tuple[str, ...] = (
    "fulfillmentOutbound_2020-07-01",
    "ordersV0",
    "reports_2021-06-30",
    "notifications",
    "tokens_2021-03-01",
    "fbaInventory",
)

_HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete"})


class ContractError(ValueError):
    """An instance does not match the official model; `errors` lists every violation."""

    def __init__(self, subject: str, errors: list[str]) -> None:
        self.subject = subject
        self.errors = errors
        shown = "; ".join(errors[:10])
        more = f" (+{len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{subject} does not match the official SP-API model: {shown}{more}")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    model: str
    method: str
    path: str
    spec: dict[str, Any]


@cache
def load_model(name: str) -> dict[str, Any]:
    """The parsed model file `name` (file stem, e.g. "fulfillmentOutbound_2020-07-01")."""
    try:
        text = resources.files(MODELS_PACKAGE).joinpath(f"{name}.json").read_text("utf-8")
    except FileNotFoundError:
        known = ", ".join((*API_MODELS, *NOTIFICATION_SCHEMAS.values()))
        raise KeyError(f"unknown SP-API model {name!r}; known models: {known}") from None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _operations() -> dict[str, Operation]:
    index: dict[str, Operation] = {}
    for model in API_MODELS:
        for path, item in load_model(model)["paths"].items():
            for method, spec in item.items():
                if method not in _HTTP_METHODS:
                    continue
                operation_id = spec["operationId"]
                if operation_id in index:
                    raise RuntimeError(f"operationId {operation_id} appears in two models")
                index[operation_id] = Operation(operation_id, model, method.upper(), path, spec)
    return index


def operation(operation_id: str) -> Operation:
    """The operation with this operationId in any of the API models."""
    try:
        return _operations()[operation_id]
    except KeyError:
        raise KeyError(f"unknown SP-API operationId {operation_id!r}") from None


def operations() -> list[Operation]:
    return list(_operations().values())


def definition_schema(model: str, name: str) -> dict[str, Any]:
    """A self-contained schema for `#/definitions/name` of `model`."""
    definitions = load_model(model)["definitions"]
    if name not in definitions:
        raise KeyError(f"model {model} has no definition {name!r}")
    return {"$ref": f"#/definitions/{name}", "definitions": definitions}


def _schema_in_model(model: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "definitions": load_model(model)["definitions"]}


def request_body_schema(operation_id: str) -> dict[str, Any]:
    """The schema of the operation's JSON body parameter."""
    op = operation(operation_id)
    for parameter in op.spec.get("parameters", []):
        if parameter.get("in") == "body":
            return _schema_in_model(op.model, parameter["schema"])
    raise KeyError(f"operation {operation_id} takes no request body")


def response_schema(operation_id: str, status_code: int) -> dict[str, Any] | None:
    """The schema of the response body for this status, or None where the model has none."""
    op = operation(operation_id)
    responses = op.spec.get("responses", {})
    response = responses.get(str(status_code)) or responses.get("default")
    if response is None:
        raise ContractError(
            f"{operation_id} response",
            [f"HTTP {status_code} is not a documented response (documented: {sorted(responses)})"],
        )
    schema = response.get("schema")
    return _schema_in_model(op.model, schema) if schema is not None else None


@cache
def _validator(schema_json: str, draft: str) -> Validator:
    from jsonschema import Draft4Validator, Draft7Validator, FormatChecker

    schema = json.loads(schema_json)
    cls = Draft7Validator if draft == "7" else Draft4Validator
    validator: Validator = cls(schema, format_checker=FormatChecker())
    return validator


def _check(subject: str, schema: dict[str, Any], instance: Any, draft: str = "4") -> None:
    validator = _validator(json.dumps(schema, sort_keys=True), draft)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        raise ContractError(
            subject,
            [
                f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in errors
            ],
        )


def validate_definition(model: str, name: str, instance: Any) -> None:
    _check(f"{model}#{name}", definition_schema(model, name), instance)


def validate_request_body(operation_id: str, body: Any) -> None:
    _check(f"{operation_id} request body", request_body_schema(operation_id), body)


def validate_response(operation_id: str, status_code: int, body: Any) -> None:
    schema = response_schema(operation_id, status_code)
    if schema is None:
        return
    _check(f"{operation_id} HTTP {status_code} response", schema, body)


def validate_notification(notification_type: str, body: Any) -> None:
    try:
        model = NOTIFICATION_SCHEMAS[notification_type]
    except KeyError:
        raise KeyError(
            f"no schema for notification type {notification_type!r}; "
            f"known: {', '.join(NOTIFICATION_SCHEMAS)}"
        ) from None
    _check(f"{notification_type} notification", load_model(model), body, draft="7")
