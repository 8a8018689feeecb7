"""What every handler shares: the wiring, the time budget, HTTP error mapping, saga steps.

Domain exceptions become HTTP statuses here and nowhere else; saga steps raise their errors
by name (`opayo_fba.saga.errors`) for the state machine, through `step_errors()`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from opayo_fba.card_numbers import mask_value
from opayo_fba.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    UpstreamError,
)
from opayo_fba.http_input import path_parameter
from opayo_fba.model import OrderId
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import Settings, load_settings, settings
from opayo_fba.wiring import Wiring

# Seconds kept back from the Lambda timeout for writing results after a rate-limit wait.
TIME_MARGIN_SECONDS = 5.0


class _Invocation:
    context: Any = None


_invocation = _Invocation()


def time_budget() -> float:
    """Seconds this invocation may still spend waiting (rate limits, retries)."""
    context = _invocation.context
    if context is None:
        return 10.0
    remaining_ms = float(context.get_remaining_time_in_millis())
    return max(0.0, remaining_ms / 1000 - TIME_MARGIN_SECONDS)


def remember_context(context: Any) -> None:
    _invocation.context = context


@cache
def wiring() -> Wiring:
    return Wiring(settings(), time_budget=time_budget)


# -- HTTP --------------------------------------------------------------------------------------

_STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (ValidationError, 400),
    (PayloadTooLargeError, 413),
    (InvalidInputError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (UpstreamError, 503),
    (ConfigurationError, 500),
)


_ORDER_ID: TypeAdapter[str] = TypeAdapter(OrderId)
_FIELD_NAME_MAX = 80


def order_id_parameter(event: Mapping[str, Any]) -> str:
    """The `{orderId}` of the path: no card number, and shaped like an order id."""
    order_id = path_parameter(event, "orderId")
    try:
        return _ORDER_ID.validate_python(order_id)
    except ValidationError:
        raise InvalidInputError(
            "orderId is not an order id (1-64 of letters, digits and . _ : / # -)"
        ) from None


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A JSON reply; anything shaped like a card number in it is masked, whatever put it there."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(mask_value(body), default=str),
    }


def _field(location: tuple[int | str, ...]) -> str:
    # A location may hold a caller's dict key: never echo more than a field name's worth.
    name = ".".join(str(part) for part in location)
    return name if len(name) <= _FIELD_NAME_MAX else name[:_FIELD_NAME_MAX] + "..."


def error_response(error: Exception) -> dict[str, Any]:
    """The one mapping from domain exceptions to HTTP; anything else is re-raised."""
    for kind, status in _STATUS_BY_ERROR:
        if isinstance(error, kind):
            if isinstance(error, ValidationError):
                details = [
                    {"field": _field(e["loc"]), "reason": e["msg"]}
                    for e in error.errors(include_url=False, include_input=False)
                ]
                return json_response(status, {"error": "invalid request", "details": details})
            if status >= 500:
                logger.exception("request failed")
                return json_response(status, {"error": type(error).__name__})
            return json_response(status, {"error": str(error)})
    raise error


# -- Step Functions tasks -----------------------------------------------------------------------

Step = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def saga_step_handler(
    step: Step, model: type[Settings]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for one saga step: observability, the wiring, the step. Nothing else.

    Built at import with the step's settings `model`, so a missing setting fails the cold
    start, not the first order.
    """
    load_settings(model)

    @logger.inject_lambda_context(correlation_id_path="orderId")
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remember_context(context)
        return step(event, wiring().saga())

    handler.__name__ = f"{step.__name__}_handler"
    return handler


def saga_event_handler(
    job: Step, model: type[Settings], *, correlation_id_path: str
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for an EventBridge event about the saga (e.g. an execution ended)."""
    load_settings(model)

    @logger.inject_lambda_context(correlation_id_path=correlation_id_path)
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remember_context(context)
        return job(event, wiring().saga())

    handler.__name__ = f"{job.__name__}_handler"
    return handler


# -- scheduled jobs -----------------------------------------------------------------------------

Job = Callable[[Mapping[str, Any], Wiring], dict[str, Any]]
FollowUp = Callable[[Wiring], dict[str, Any]]


def scheduled_handler(
    job: Job, model: type[Settings], *, then: FollowUp | None = None
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for one scheduled job: observability, the wiring, the job, and the
    step `then` runs after it (e.g. the journal, once a poll may have made reports ready);
    its settings `model` is loaded at import (the cold start fails on a missing variable)."""
    load_settings(model)

    @logger.inject_lambda_context
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remember_context(context)
        w = wiring()
        result = job(event, w)
        if then is not None:
            result = {**result, **then(w)}
        logger.info("scheduled job done", extra={"job": job.__name__, **result})
        return result

    handler.__name__ = f"{job.__name__}_handler"
    return handler
