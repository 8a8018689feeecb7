"""Domain exceptions become HTTP statuses here and nowhere else: the resolver's exception
handlers.

Every reply is JSON with anything shaped like a card number masked, whatever put it there:
`{"error": reason}`, or for a request that breaks its model `{"error": "invalid request",
"details": [{"field", "reason"}]}` (400 naming the field: Powertools' own 422 is never
answered). A 5xx names only the kind of failure; the reason goes to the log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import ValidationError

from opayo_fba.card_numbers import mask_value
from opayo_fba.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    UpstreamError,
)
from opayo_fba.observability import logger

STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (PayloadTooLargeError, 413),
    (InvalidInputError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (UpstreamError, 503),
    (ConfigurationError, 500),
)
"""What each domain exception answers (a subclass before its base: Powertools looks a
handler up along the exception's MRO, so a PayloadTooLargeError is a 413, not a 400)."""

INVALID_REQUEST = "invalid request"
_FIELD_NAME_MAX = 80


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response[str]:
    """A JSON reply, serialized here (as the API always has) with card numbers masked."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(mask_value(body), default=str),
        headers=dict(headers or {}),
    )


def _field(location: Iterable[int | str]) -> str:
    # A location may hold a caller's dict key: never echo more than a field name's worth.
    name = ".".join(str(part) for part in location)
    return name if len(name) <= _FIELD_NAME_MAX else name[:_FIELD_NAME_MAX] + "..."


def invalid_request(errors: Iterable[Mapping[str, Any]]) -> Response[str]:
    """400 naming each field that broke the model (never the value that broke it)."""
    details = [{"field": _field(e["loc"]), "reason": e["msg"]} for e in errors]
    return json_reply(400, {"error": INVALID_REQUEST, "details": details})


def model_error_reply(error: ValidationError) -> Response[str]:
    """A pydantic ValidationError raised by the domain (or by a body that is not JSON)."""
    return invalid_request(error.errors(include_url=False, include_input=False))


def request_validation_reply(error: RequestValidationError) -> Response[str]:
    """Powertools' validation of the body: its locations start with "body", which the caller
    never wrote (the field is `order.order_id`, as the domain's own validation names it)."""
    return invalid_request(
        {**e, "loc": tuple(e["loc"])[1:] if tuple(e["loc"])[:1] == ("body",) else e["loc"]}
        for e in error.errors()
    )


def domain_error_reply(error: Exception) -> Response[str]:
    """The status of the error's kind; a 5xx names only the kind (its reason is logged)."""
    status = next(status for kind, status in STATUS_BY_ERROR if isinstance(error, kind))
    if status >= 500:
        logger.exception("request failed")
        return json_reply(status, {"error": type(error).__name__})
    return json_reply(status, {"error": str(error)})


def error_reply(error: Exception) -> Response[str]:
    """The reply for any mapped exception (as the resolver would give it); anything else is
    re-raised, so the function fails and the invocation is retried or alarmed on."""
    if isinstance(error, RequestValidationError):
        return request_validation_reply(error)
    if isinstance(error, ValidationError):
        return model_error_reply(error)
    if isinstance(error, tuple(kind for kind, _ in STATUS_BY_ERROR)):
        return domain_error_reply(error)
    raise error


def register_error_handlers(app: ApiGatewayResolver) -> None:
    """Install the mapping as `app`'s exception handlers."""
    handlers: list[tuple[type[Exception], Callable[[Any], Response[str]]]] = [
        (RequestValidationError, request_validation_reply),
        (ValidationError, model_error_reply),
        *((kind, domain_error_reply) for kind, _ in STATUS_BY_ERROR),
    ]
    for kind, reply in handlers:
        app.exception_handler(kind)(reply)
