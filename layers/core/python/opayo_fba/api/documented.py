"""The responses a route documents (Powertools' `responses=`): its successes with their
models, and the refusals every route shares, in the shape `errors.py` gives them.

Routes name their reply models (classes of api/views.py, `"A | B"` for either) rather than
import them: the models are imported and put in place by `resolve_models()`, which the
resolver calls before its first request and the OpenAPI generator before the document, so a
function's cold start imports none of them.
"""

from __future__ import annotations

import threading
from functools import reduce
from operator import or_
from typing import Any

_NAMED: list[dict[str, Any]] = []
_LOCK = threading.Lock()

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
    """JSON content of `model`: a class, or the name of one in api/views.py ("A | B")."""
    entry: dict[str, Any] = {"model": model}
    if isinstance(model, str):
        with _LOCK:
            _NAMED.append(entry)
    return {"application/json": entry}


def resolve_models() -> None:
    """Put each named model in place (once; later calls find nothing left to do)."""
    with _LOCK:
        if not _NAMED:
            return
        from opayo_fba.api import views

        for entry in _NAMED:
            names = [name.strip() for name in str(entry["model"]).split("|")]
            entry["model"] = reduce(or_, (getattr(views, name) for name in names))
        _NAMED.clear()


def responses(
    successes: dict[int, tuple[str, Any]], refusals: tuple[int, ...], *, body: bool = True
) -> dict[int, Any]:
    """`{status: (description, model)}` of the successes, and the listed refusals."""
    documented: dict[int, Any] = {
        status: {"description": description, "content": json_content(model)}
        for status, (description, model) in successes.items()
    }
    for status in refusals:
        model = "ErrorBody"
        if body and status in _GATEWAY_REFUSES:
            model = "ErrorBody | GatewayErrorBody"
        documented[status] = {"description": _REFUSALS[status], "content": json_content(model)}
    return documented
