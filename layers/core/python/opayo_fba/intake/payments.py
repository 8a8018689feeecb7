"""Payment updates (Server notifications, Pi polling) joined to their orders.

A payment update may arrive before its order, twice, or out of order. The rules:
- no order yet: the update is parked under its vendorTxCode and joined when the order comes;
- an update never moves a payment backwards (a late PENDING after OK changes nothing), and
  the same update twice changes nothing the second time;
- once the payment is decided (authorised, captured, declined, failed) the saga is started,
  with a name derived from the order id, so a repeated start is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from opayo_fba.model import PaymentState, PaymentTransaction
from opayo_fba.store.orders import OrderRecord, OrderStore

# How far along a payment is; an update only applies if it goes further.
_PROGRESS: dict[PaymentState, int] = {
    PaymentState.NONE: 0,
    PaymentState.PENDING: 1,
    PaymentState.AUTHENTICATED: 2,
    PaymentState.AUTHORISED: 3,
    PaymentState.DECLINED: 3,
    PaymentState.FAILED: 3,
    PaymentState.CAPTURED: 4,
    PaymentState.ABORTED: 5,
    PaymentState.VOIDED: 5,
}
DECIDED = frozenset(
    {PaymentState.AUTHORISED, PaymentState.CAPTURED, PaymentState.DECLINED, PaymentState.FAILED}
)

PaymentOutcome = Literal["parked", "applied", "ignored"]


class Starter(Protocol):
    def start(self, order_id: str) -> bool: ...


@dataclass(frozen=True)
class PaymentUpdateResult:
    outcome: PaymentOutcome
    order_id: str | None = None
    saga_started: bool = False


def supersedes(new: PaymentTransaction, old: PaymentTransaction | None) -> bool:
    """Whether `new` moves the payment forward from `old`."""
    if old is None:
        return True
    if new.vendor_tx_code != old.vendor_tx_code:
        return False
    return _PROGRESS[new.state] > _PROGRESS[old.state]


def start_if_decided(record: OrderRecord, starter: Starter) -> bool:
    if record.payment is not None and record.payment.state in DECIDED:
        return starter.start(record.order_id)
    return False


def apply_payment_update(
    store: OrderStore, starter: Starter, payment: PaymentTransaction
) -> PaymentUpdateResult:
    record = store.find_by_vendor_tx_code(payment.vendor_tx_code)
    if record is None:
        store.park_payment(payment)
        return PaymentUpdateResult("parked")
    if not supersedes(payment, record.payment):
        # Still (re)start: a crash between the update and the start must not strand it.
        return PaymentUpdateResult("ignored", record.order_id, start_if_decided(record, starter))

    def change(r: OrderRecord) -> None:
        if supersedes(payment, r.payment):
            from opayo_fba.intake.three_d_secure import settle_challenge

            amount = r.payment.amount if r.payment is not None else payment.amount
            r.payment = payment.model_copy(update={"amount": amount, "order_id": r.order_id})
            r.note("payment_" + payment.state.value, payment.status)
            settle_challenge(r, r.payment)
            r.refresh_status()

    updated = store.update(record.order_id, change)
    return PaymentUpdateResult("applied", updated.order_id, start_if_decided(updated, starter))
