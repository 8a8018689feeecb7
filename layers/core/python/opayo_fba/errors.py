"""The domain's exception hierarchy.

Handlers never invent their own: they map these to HTTP status codes or Step Functions error
names in one place, so a new error needs one mapping, not one per handler.
"""

from __future__ import annotations


class OpayoFbaError(Exception):
    """Base class of every error the domain raises on purpose."""


class InvalidInputError(OpayoFbaError):
    """Input from outside failed validation; nothing was changed."""


class NotFoundError(OpayoFbaError):
    """A referenced order, transaction or fulfillment order does not exist."""


class ConflictError(OpayoFbaError):
    """The request contradicts the current state (e.g. release twice, cancel after shipping)."""


class CardPaymentAbandoned(ConflictError):
    """The order's card payment was ended at Opayo because the order never reached us in
    time (intake/abandoned.py); the order id cannot be paid again."""


class UpstreamError(OpayoFbaError):
    """Amazon or Opayo failed in a way a retry may fix."""


class ConfigurationError(OpayoFbaError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class PayloadTooLargeError(InvalidInputError):
    """The request is larger than we accept; the message states the limit."""
