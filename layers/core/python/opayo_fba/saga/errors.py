"""The error names the saga's state machine retries and catches on, and the one mapping to them.

A Lambda reports an unhandled exception by its class name, so these classes ARE the names the
CDK state machine matches (`infra/constants.py`). `step_errors()` is the one place where the
connectors' typed errors become saga errors; every step runs inside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opayo_fba.amazon.errors import Throttled
from opayo_fba.errors import OpayoFbaError
from opayo_fba.errors import UpstreamError as DomainUpstreamError


class SagaError(OpayoFbaError):
    """Base of the errors a saga step raises on purpose."""


class PaymentDeclined(SagaError):
    """The payment is not authorised: nothing may be fulfilled."""


class FulfillmentRejected(SagaError):
    """Amazon refused the fulfillment order (Invalid, Unfulfillable, or a 400)."""


class CaptureFailed(SagaError):
    """Opayo refused to release the Deferred payment."""


class MerchantCancelled(SagaError):
    """The merchant cancelled the order before it could be captured."""


class FulfillmentUnderway(SagaError):
    """Amazon is shipping (or has shipped) the goods: the order goes on, nothing is refunded."""


class CancellationRefused(SagaError):
    """Amazon refused to cancel the fulfillment order the merchant asked to cancel (it is
    already Processing or shipped): the order goes on, and the saga follows the shipment."""


class RefundFailed(SagaError):
    """Opayo refused a refund; the compensation cannot complete without an operator."""


class UpstreamError(SagaError):
    """Amazon or Opayo failed transiently; the state machine retries with backoff."""


class ThrottledError(SagaError):
    """SP-API's rate limit is spent; the state machine retries later."""


@contextmanager
def step_errors() -> Iterator[None]:
    """Translate the connectors' transient errors into the names the state machine retries."""
    try:
        yield
    except SagaError:
        raise
    except Throttled as error:
        raise ThrottledError(str(error)) from error
    except DomainUpstreamError as error:
        raise UpstreamError(str(error)) from error
