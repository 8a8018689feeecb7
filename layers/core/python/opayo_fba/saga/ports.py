"""What the saga needs from Amazon, Opayo and the event bus.

The connectors (`opayo_fba.amazon.connector.SpApiConnector`, `opayo_fba.opayo.pi.PiClient`)
provide these as they are; unit tests pass in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opayo_fba.model import Money, PaymentState


class Preview(Protocol):
    @property
    def shipping_speed_category(self) -> str: ...

    @property
    def is_fulfillable(self) -> bool: ...

    @property
    def raw(self) -> Mapping[str, Any]: ...


class FulfillmentPort(Protocol):
    def fulfillment_preview(self, request: Mapping[str, Any]) -> Sequence[Preview]: ...

    def create_fulfillment_order_on_hold(self, request: Mapping[str, Any]) -> str: ...

    def release_fulfillment_order(
        self, seller_fulfillment_order_id: str, marketplace_id: str | None = None
    ) -> None: ...

    def cancel_fulfillment_order(self, seller_fulfillment_order_id: str) -> None: ...

    def get_fulfillment_order(self, seller_fulfillment_order_id: str) -> dict[str, Any]: ...


class AfterSalePort(Protocol):
    """Package tracking and returns at Amazon (SpApiConnector provides them as they are)."""

    def package_tracking(self, package_number: int) -> dict[str, Any]: ...

    def return_reason_codes(
        self, seller_sku: str, seller_fulfillment_order_id: str | None = None
    ) -> Sequence[Any]: ...

    def create_fulfillment_return(
        self, seller_fulfillment_order_id: str, items: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]: ...


class PaymentResult(Protocol):
    @property
    def succeeded(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def status_detail(self) -> str: ...

    @property
    def transaction_id(self) -> str: ...


@dataclass(frozen=True)
class ObservedPayment:
    """What the payment provider itself says about a transaction, read just now.

    Compensations decide on this, never on what the saga believes happened: a capture whose
    response was lost, or whose step timed out while its function went on, is still a capture.
    `state` is AUTHORISED (a Deferred still held), CAPTURED (a Payment, or a released
    Deferred), ABORTED, VOIDED, DECLINED, FAILED or NONE (the provider has no such
    transaction). `captured` and `refunded` are set where the provider says them.
    """

    state: PaymentState
    captured: Money | None = None
    refunded: Money | None = None
    detail: str = ""


class PaymentPort(Protocol):
    def observe(self, transaction_id: str) -> ObservedPayment: ...

    def release(self, transaction_id: str, amount: Money) -> object: ...

    def abort(self, transaction_id: str) -> object: ...

    def refund(
        self,
        reference_transaction_id: str,
        amount: Money,
        *,
        refund_id: str,
        description: str,
    ) -> PaymentResult: ...

    def repeat(
        self,
        reference_transaction_id: str,
        amount: Money,
        *,
        vendor_tx_code: str,
        description: str,
    ) -> PaymentResult: ...

    def recover_transaction_id(self, vendor_tx_code: str) -> str | None: ...


class EventPort(Protocol):
    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None: ...


class SagaResumer(Protocol):
    """Completes the saga's waiting task (Step Functions SendTaskSuccess)."""

    def resume(self, task_token: str, output: Mapping[str, Any]) -> bool: ...
