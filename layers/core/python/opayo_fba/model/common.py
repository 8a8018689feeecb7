"""Small annotated types every model uses: UTC datetimes, validated identifiers, bounded JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, JsonValue, StringConstraints


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, converted to UTC. A naive datetime is rejected."""

OrderId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$",
    ),
]
"""Our order id, or a channel's: letters, digits and . _ : / # - (Amazon's are 3-7-7 digits)."""

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
"""A SKU (internal or Amazon seller SKU); Amazon allows up to 50 characters."""

Asin = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9]{10}$")
]
"""An Amazon Standard Identification Number: ten letters or digits."""

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
"""An e-mail address, checked for shape only (local@domain.tld); delivery proves the rest."""


def json_size_and_depth(value: Any) -> tuple[int, int]:
    """(UTF-8 bytes of its compact JSON, nesting depth) of a JSON-like value, without
    recursion, so a document nested thousands deep is measured, not a RecursionError."""
    size, deepest = 0, 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            size += 2 + 2 * len(item)
            for key, child in item.items():
                size += len(str(key).encode("utf-8", "surrogatepass")) + 2
                pending.append((child, depth + 1))
        elif isinstance(item, list | tuple):
            deepest = max(deepest, depth)
            size += 2 + len(item)
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            size += len(item.encode("utf-8", "surrogatepass")) + 2
        else:
            size += len(str(item))
    return size, deepest


def bounded_json(max_bytes: int, max_depth: int) -> BeforeValidator:
    """A validator that refuses a JSON value larger or deeper than the given bounds."""

    def check(value: Any) -> Any:
        if value is None:
            return value
        size, depth = json_size_and_depth(value)
        if depth > max_depth:
            raise ValueError(f"is nested {depth} deep; at most {max_depth} levels are accepted")
        if size > max_bytes:
            raise ValueError(f"is about {size} bytes as JSON; at most {max_bytes} are accepted")
        return value

    return BeforeValidator(check)


OpenFields = Annotated[dict[str, JsonValue], bounded_json(16 * 1024, 8)]
"""Open data passed through (custom fields, line attributes, payment metadata): at most
16 KiB as JSON and 8 levels deep."""

SOURCE_MAX_BYTES = 64 * 1024
SOURCE_MAX_DEPTH = 16
SourceDocument = Annotated[dict[str, JsonValue], bounded_json(SOURCE_MAX_BYTES, SOURCE_MAX_DEPTH)]
"""The order as the shop or ERP has it: at most 64 KiB as JSON and 16 levels deep (a Shopify
order is about 7)."""
