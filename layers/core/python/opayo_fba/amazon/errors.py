"""Typed errors of the Amazon connector.

The class name is what Step Functions sees as the error name (a Lambda reports the exception's
type), so retry and catch rules in the state machine can name them: `Throttled` is worth
retrying later, `SpApiRequestRejected` never is.
"""

from __future__ import annotations

from opayo_fba.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OpayoFbaError,
    UpstreamError,
)


class Throttled(UpstreamError):
    """The seller's budget for `operation` is spent for longer than the caller may wait.

    `retry_after` is the number of seconds until a slot frees up, when known.
    """

    def __init__(self, operation: str, retry_after: float | None = None) -> None:
        when = f"; retry in {retry_after:.1f}s" if retry_after is not None else ""
        super().__init__(f"SP-API {operation} is rate limited{when}")
        self.operation = operation
        self.retry_after = retry_after


class SpApiError(OpayoFbaError):
    """SP-API answered with an error list; carries Amazon's first error code and message."""

    def __init__(self, operation: str, status: int, code: str, message: str) -> None:
        super().__init__(f"SP-API {operation} failed: HTTP {status} {code}: {message}")
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message


class SpApiRequestRejected(SpApiError, InvalidInputError):
    """HTTP 400: the request is invalid; retrying it unchanged cannot succeed."""


class SpApiAccessDenied(SpApiError):
    """HTTP 401/403: credentials, token or role are wrong; an operator must fix them."""


class SpApiNotFound(SpApiError, NotFoundError):
    """HTTP 404: the order, fulfillment order or report does not exist."""


class SpApiConflict(SpApiError, ConflictError):
    """HTTP 409: the request conflicts with the resource's state."""


class SpApiUnavailable(SpApiError, UpstreamError):
    """5xx, timeouts or broken connections that outlasted the retry policy."""
