"""What a rule may write to, and the limits each target imposes.

A target is written as a dotted path with a prefix naming the system it feeds:

- ``amazon.<field>`` — an attribute of the createFulfillmentOrder request (use case 1), e.g.
  ``amazon.displayableOrderComment`` or ``amazon.deliveryPreferences.deliveryInstructions``;
- ``amazon.items[].<field>`` — an attribute of each fulfillment order item (per order line);
- ``opayo.description`` / ``opayo.vendorData`` — Opayo transaction fields (use case 2);
- ``payment.metadata.<key>`` — kept on the canonical PaymentTransaction for analytics;
- ``line.<attribute>`` — an extra attribute of each OrderLine, typically from the product
  master (use case 3): HS code, cost, ledger category...

Amazon's limits (type, maxLength, enum) are read from the official createFulfillmentOrder
request schema, never typed in here, so a new model version updates them. Opayo's limits come
from Elavon's field tables (see docs/mapping-templates.md for the sources).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from opayo_fba.amazon.spapi_models import definition_schema

FULFILLMENT_MODEL = "fulfillmentOutbound_2020-07-01"
FULFILLMENT_REQUEST = "CreateFulfillmentOrderRequest"

# Fields the integration itself owns: a template writing them would break idempotency
# (sellerFulfillmentOrderId), the hold-then-release saga (fulfillmentAction) or the link
# between an order line and its fulfillment item.
OWNED_BY_INTEGRATION: dict[str, str] = {
    "sellerFulfillmentOrderId": "it is the idempotency key the saga derives from the order id",
    "fulfillmentAction": "the saga creates every order on Hold and releases it after capture",
    "items": "items are built from the order lines; map their attributes as amazon.items[].X",
    "items[].sellerSku": "the SKU comes from the order line (see the SKU mapping)",
    "items[].sellerFulfillmentOrderItemId": "the saga derives it from the order line id",
    "items[].quantity": "the quantity comes from the order line",
}

OPAYO_DESCRIPTION_MAX = 100
"""Opayo `description` (Pi REST) and `Description` (Server, Direct, Form): 100 characters."""
OPAYO_VENDOR_DATA_MAX = 200
"""Opayo Server `VendorData`: 200 characters of letters, digits and spaces."""
_VENDOR_DATA_CHARS = re.compile(r"^[A-Za-z0-9 ]*$")
_EXAMPLE_KEY = {"payment.metadata": "campaignId", "line": "hsCode"}
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class TargetSystem(StrEnum):
    AMAZON_ORDER = "amazon"
    AMAZON_ITEM = "amazon.items[]"
    OPAYO = "opayo"
    PAYMENT_METADATA = "payment.metadata"
    LINE = "line"


@dataclass(frozen=True)
class Target:
    """A resolved target field: where the value goes and what it must look like."""

    path: str
    system: TargetSystem
    key: tuple[str, ...]
    """The path inside the system's object, e.g. ("deliveryPreferences", "dropOffLocation")."""
    schema: dict[str, Any] | None = None
    """The JSON schema of the field (refs resolved one level at a time), if there is one."""
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = field(default=None, compare=False)
    pattern_help: str | None = None

    @property
    def per_line(self) -> bool:
        return self.system in (TargetSystem.AMAZON_ITEM, TargetSystem.LINE)

    @property
    def value_type(self) -> str:
        """The JSON type the field expects ("string", "array", "object", or "any")."""
        if self.schema is None:
            return "string" if self.system is TargetSystem.OPAYO else "any"
        return str(self.schema.get("type", "object" if "properties" in self.schema else "any"))


class UnknownTargetError(ValueError):
    """A target path does not exist or may not be written by a template."""


@cache
def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = definition_schema(FULFILLMENT_MODEL, FULFILLMENT_REQUEST)[
        "definitions"
    ]
    return definitions


def resolve_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref`s to the definition, keeping sibling keywords (maxLength, description)."""
    seen: set[str] = set()
    while "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:  # pragma: no cover - the official models have no ref cycles
            raise RuntimeError(f"reference cycle at {ref}")
        seen.add(ref)
        name = ref.rsplit("/", 1)[-1]
        siblings = {k: v for k, v in schema.items() if k not in ("$ref", "description")}
        schema = {**_definitions()[name], **siblings}
    return schema


def fulfillment_request_schema() -> dict[str, Any]:
    return resolve_schema({"$ref": f"#/definitions/{FULFILLMENT_REQUEST}"})


def _item_schema() -> dict[str, Any]:
    items = resolve_schema(fulfillment_request_schema()["properties"]["items"])
    return resolve_schema(items["items"])


def _walk(root: dict[str, Any], key: tuple[str, ...], path: str) -> dict[str, Any]:
    schema = root
    for depth, name in enumerate(key):
        properties = schema.get("properties", {})
        if name not in properties:
            where = ".".join(key[:depth]) or "the request"
            known = ", ".join(sorted(properties)) or "none"
            raise UnknownTargetError(
                f"{path}: {where} has no field {name!r} in the official "
                f"{FULFILLMENT_REQUEST} schema (fields: {known})"
            )
        schema = resolve_schema(properties[name])
    return schema


def _from_schema(
    path: str, system: TargetSystem, key: tuple[str, ...], root: dict[str, Any]
) -> Target:
    schema = _walk(root, key, path)
    enum = schema.get("enum")
    return Target(
        path=path,
        system=system,
        key=key,
        schema=schema,
        max_length=schema.get("maxLength"),
        enum=tuple(enum) if enum else None,
    )


@cache
def resolve_target(path: str) -> Target:
    """The Target a rule's `target:` names; UnknownTargetError says what is allowed instead."""
    if path.startswith("amazon.items[]."):
        key = tuple(path.removeprefix("amazon.items[].").split("."))
        owned = OWNED_BY_INTEGRATION.get("items[]." + ".".join(key))
        if owned:
            raise UnknownTargetError(f"{path} may not be set by a template: {owned}")
        return _from_schema(path, TargetSystem.AMAZON_ITEM, key, _item_schema())
    if path.startswith("amazon."):
        key = tuple(path.removeprefix("amazon.").split("."))
        owned = OWNED_BY_INTEGRATION.get(key[0])
        if owned:
            raise UnknownTargetError(f"{path} may not be set by a template: {owned}")
        return _from_schema(path, TargetSystem.AMAZON_ORDER, key, fulfillment_request_schema())
    if path == "opayo.description":
        return Target(path, TargetSystem.OPAYO, ("description",), max_length=OPAYO_DESCRIPTION_MAX)
    if path == "opayo.vendorData":
        return Target(
            path,
            TargetSystem.OPAYO,
            ("vendorData",),
            max_length=OPAYO_VENDOR_DATA_MAX,
            pattern=_VENDOR_DATA_CHARS,
            pattern_help="Opayo accepts only letters, digits and spaces in VendorData",
        )
    if path.startswith("opayo."):
        raise UnknownTargetError(
            f"{path}: templates may set only opayo.description and opayo.vendorData"
        )
    for prefix, system in (
        ("payment.metadata.", TargetSystem.PAYMENT_METADATA),
        ("line.", TargetSystem.LINE),
    ):
        if path.startswith(prefix):
            name = path.removeprefix(prefix)
            if not _KEY.match(name):
                raise UnknownTargetError(
                    f"{path}: after {prefix!r} give one name of letters, digits and _ "
                    "(starting with a letter, at most 64 characters), e.g. "
                    f"{prefix}{_EXAMPLE_KEY[system]}"
                )
            return Target(path, system, (name,))
    raise UnknownTargetError(
        f"{path}: a target starts with amazon., amazon.items[]., opayo., payment.metadata. or line."
    )


def amazon_string_targets() -> list[str]:
    """Every writable string (or string-list) field of the request, for suggestions and docs."""
    found: list[str] = []

    def visit(schema: dict[str, Any], prefix: str, owned_prefix: str) -> None:
        for name, sub in sorted(schema.get("properties", {}).items()):
            if (owned_prefix + name) in OWNED_BY_INTEGRATION:
                continue
            resolved = resolve_schema(sub)
            kind = resolved.get("type")
            if kind == "string" or (
                kind == "array"
                and resolve_schema(resolved.get("items", {})).get("type") == "string"
            ):
                found.append(prefix + name)
            elif kind == "object" or "properties" in resolved:
                visit(resolved, f"{prefix}{name}.", f"{owned_prefix}{name}.")

    visit(fulfillment_request_schema(), "amazon.", "")
    visit(_item_schema(), "amazon.items[].", "items[].")
    return found


def check_value(target: Target, value: Any) -> str | None:
    """Why `value` does not fit `target`, or None if it fits."""
    if target.schema is not None:
        return _check_schema(value, target.schema, "")
    if target.system is TargetSystem.OPAYO:
        if not isinstance(value, str):
            return f"expected text, got {_type_name(value)}"
        if target.max_length is not None and len(value) > target.max_length:
            return _too_long(value, target.max_length)
        if target.pattern is not None and not target.pattern.match(value):
            return f"{target.pattern_help}; got {value!r} (add a regex_replace transform)"
        return None
    if isinstance(value, dict | list) and target.system is TargetSystem.PAYMENT_METADATA:
        return f"expected a single value (text, number or true/false), got {_type_name(value)}"
    return None


def _too_long(value: str, limit: int) -> str:
    return (
        f"value has {len(value)} characters; the limit is {limit} "
        "(add a truncate transform or shorten the source)"
    )


def _is_date_time(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value and parsed.tzinfo is not None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number"
    )


def _check_schema(value: Any, schema: dict[str, Any], where: str) -> str | None:
    """A small draft-4 checker for the keywords the request schema uses on writable fields.

    It checks one field as soon as a rule writes it, before a whole request exists, and
    words the problem for the person who wrote the template; the complete request is then
    validated with jsonschema by `MappingResult.apply_to_fulfillment_request`.
    """
    schema = resolve_schema(schema)
    prefix = f"{where}: " if where else ""
    kind = schema.get("type")
    if kind == "string":
        if not isinstance(value, str):
            return f"{prefix}expected text, got {_type_name(value)}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return prefix + _too_long(value, schema["maxLength"])
        if "minLength" in schema and len(value) < schema["minLength"]:
            return f"{prefix}value needs at least {schema['minLength']} characters"
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(schema["enum"])
            return f"{prefix}{value!r} is not one of the allowed values: {allowed}"
        if schema.get("format") == "date-time" and not _is_date_time(value):
            return (
                f"{prefix}{value!r} is not an ISO 8601 date-time with a time zone "
                "(add a date_format transform with output_format iso8601)"
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{prefix}{value!r} does not match the pattern {schema['pattern']}"
        return None
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{prefix}expected a number, got {_type_name(value)}"
        if kind == "integer" and not isinstance(value, int):
            return f"{prefix}expected a whole number, got {value!r}"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"{prefix}expected true/false"
    if kind == "array":
        if not isinstance(value, list):
            return f"{prefix}expected a list, got {_type_name(value)}"
        for index, item in enumerate(value):
            problem = _check_schema(item, schema.get("items", {}), f"{where}[{index}]")
            if problem:
                return problem
        return None
    if kind == "object" or "properties" in schema:
        if not isinstance(value, dict):
            return f"{prefix}expected an object, got {_type_name(value)}"
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                return f"{prefix}the field {name!r} is required"
        for name, item in value.items():
            sub_where = f"{where}.{name}" if where else name
            if name in properties:
                problem = _check_schema(item, properties[name], sub_where)
            elif "additionalProperties" in schema and isinstance(
                schema["additionalProperties"], dict
            ):
                problem = _check_schema(item, schema["additionalProperties"], sub_where)
            elif properties:
                problem = f"{sub_where}: unknown field (known: {', '.join(sorted(properties))})"
            else:
                problem = None
            if problem:
                return problem
        return None
    return None
