"""The responses a route documents (Powertools' `responses=`): its successes with their
models, and the refusals every route shares, in the shape `errors.py` gives them."""

from __future__ import annotations

from typing import Any

from opayo_fba.api.views import ErrorBody, GatewayErrorBody

_REFUSALS = {
    400: "Bad input, with the reason (and each field that broke the model)",
    404: "No such order",
    409: "The request contradicts the order's state, with the reason",
    413: "The request body is larger than the route accepts",
    503: "Amazon or Opayo could not be asked: send the same request again",
}
_GATEWAY_REFUSES = (400, 413)
"""Statuses API Gateway itself may answer, before any function runs, for a body route."""


def json_content(model: Any) -> dict[str, Any]:
    return {"application/json": {"model": model}}


def responses(
    successes: dict[int, tuple[str, Any]], refusals: tuple[int, ...], *, body: bool = True
) -> dict[int, Any]:
    """`{status: (description, model)}` of the successes, and the listed refusals."""
    documented: dict[int, Any] = {
        status: {"description": description, "content": json_content(model)}
        for status, (description, model) in successes.items()
    }
    for status in refusals:
        model: Any = ErrorBody
        if body and status in _GATEWAY_REFUSES:
            model = ErrorBody | GatewayErrorBody
        documented[status] = {"description": _REFUSALS[status], "content": json_content(model)}
    return documented
