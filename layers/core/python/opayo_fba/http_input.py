"""What an HTTP handler reads from an API Gateway proxy event, decoded defensively.

Nothing a caller sends can break a handler here: a body that is not UTF-8, a body over the
route's size limit, JSON nested absurdly deep, or a card number in the path or the query
string is an `InvalidInputError` (400) or a `PayloadTooLargeError` (413) that names the
problem and never repeats the input.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from opayo_fba.card_numbers import contains_card_number
from opayo_fba.errors import InvalidInputError, PayloadTooLargeError

CARD_NUMBER_REFUSED = (
    "the request contains what looks like a card number; send only the cardIdentifier from "
    "Opayo's drop-in checkout, never card details"
)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The body's bytes, base64-decoded when API Gateway says so; never raises (a body that
    is not what it claims to be is passed on as it is, for the parser to refuse)."""
    body = event.get("body") or ""
    text = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return text
    return text


def body_bytes(event: Mapping[str, Any], *, max_bytes: int) -> bytes:
    """The raw body (base64-decoded when API Gateway says so), at most `max_bytes` long."""
    raw = raw_body(event)
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(
            f"the request body is {len(raw)} bytes; at most {max_bytes} are accepted"
        )
    return raw


def body_text(event: Mapping[str, Any], *, max_bytes: int) -> str:
    """The body as text; anything but valid UTF-8 (UTF-16, UTF-32, lone surrogates, stray
    bytes) is refused."""
    raw = body_bytes(event, max_bytes=max_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInputError(
            f"the request body is not valid UTF-8 (byte {error.start}); send JSON encoded as UTF-8"
        ) from None


def json_depth(text: str) -> int:
    """The deepest nesting of objects and arrays in a JSON text, without parsing it (strings
    are skipped, so brackets inside them do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def refuse_deep_json(text: str, max_depth: int) -> None:
    depth = json_depth(text)
    if depth > max_depth:
        raise InvalidInputError(
            f"the request body is nested {depth} deep; at most {max_depth} levels are accepted"
        )


def screen_parameters(event: Mapping[str, Any]) -> None:
    """Refuse a card number in a path parameter or the query string (names or values)."""
    sources = (
        event.get("pathParameters"),
        event.get("queryStringParameters"),
        event.get("multiValueQueryStringParameters"),
    )
    for source in sources:
        for name, value in (source or {}).items():
            values = value if isinstance(value, list) else [value]
            for text in (name, *values):
                if isinstance(text, str) and contains_card_number(text):
                    raise InvalidInputError(CARD_NUMBER_REFUSED)


def path_parameter(event: Mapping[str, Any], name: str) -> str:
    """A path parameter, after `screen_parameters`."""
    screen_parameters(event)
    value = (event.get("pathParameters") or {}).get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"the path parameter {name} is missing")
    return value
