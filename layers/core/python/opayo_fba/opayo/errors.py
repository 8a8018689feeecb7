"""Typed errors of the Opayo connector (class names double as Step Functions error names)."""

from __future__ import annotations

from opayo_fba.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OpayoFbaError,
    UpstreamError,
)


class OpayoError(OpayoFbaError):
    """Opayo answered with an error; `code` and `description` are Opayo's own."""

    def __init__(
        self,
        operation: str,
        status: int,
        code: str,
        description: str,
        field: str | None = None,
    ) -> None:
        where = f" ({field})" if field else ""
        super().__init__(f"Opayo {operation} failed: HTTP {status} {code}: {description}{where}")
        self.operation = operation
        self.status = status
        self.code = code
        self.description = description
        self.field = field


class OpayoRequestInvalid(OpayoError, InvalidInputError):
    """400/422: the request is malformed or a field is invalid; `field` names it."""


class OpayoAuthenticationFailed(OpayoError, ConfigurationError):
    """401: the integration key/password (or reporting user) is wrong or was replaced."""


class OpayoInstructionRefused(OpayoError, ConflictError):
    """403 on an instruction: e.g. release twice, abort after release, void after settlement."""


class OpayoTransactionNotFound(OpayoError, NotFoundError):
    """404, or the Reporting API knows no such transaction."""


class OpayoUnavailable(OpayoError, UpstreamError):
    """5xx, 429, timeouts or broken connections that outlasted the retry policy.

    Raised only when it is known that nothing was changed, or the real state was checked.
    """


class PaymentOutcomeUnknown(UpstreamError):
    """A request that may have reached Opayo could not be confirmed either way.

    Nothing is retried blindly: the saga must retry the same call later (it is idempotent on
    `vendor_tx_code` or on the transaction and instruction), which looks the outcome up first.
    """

    def __init__(self, operation: str, reference: str, detail: str) -> None:
        super().__init__(f"Opayo {operation} for {reference}: outcome unknown ({detail})")
        self.operation = operation
        self.reference = reference


class ReportingApiError(OpayoError):
    """The Reporting & Admin API answered with an errorcode other than 0000."""
