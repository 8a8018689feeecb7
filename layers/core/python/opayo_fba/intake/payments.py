"""Payment updates (Server notifications, Pi polling) joined to their orders.

A payment update may arrive before its order, twice, or out of order. The rules:
- no order yet: the update is parked under its vendorTxCode and joined when the order comes;
- an update never moves a payment backwards (a late PENDING after OK changes nothing), and
  the same update twice changes nothing the second time;
- once the payment is decided (authorised, captured, declined, failed) the saga is started,
  with a name derived from the order id, so a repeated start is a no-op;
- the transaction type and amount of a Server payment are the ones registered with the order,
  whatever the update says (only signed or registered facts move money); an update, or a
  webhook's report, that contradicts them is recorded on the order as a
  `payment_contradiction` note and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from opayo_fba.convert.harmonise import payment_state_from_server
from opayo_fba.model import OpayoServerStatus, PaymentState, PaymentTransaction
from opayo_fba.store.orders import OrderRecord, OrderStore

CONTRADICTION_NOTE = "payment_contradiction"

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


def registered_facts(
    payment: PaymentTransaction, registered: PaymentTransaction | None
) -> tuple[PaymentTransaction, str | None]:
    """`payment` with the registered Server transaction type and amount, and what disagreed.

    Pi updates are read from Opayo's API by us, not sent to us, so they pass unchanged.
    """
    if registered is None or registered.provider != "server" or payment.provider != "server":
        return payment, None
    contradiction = None
    if payment.transaction_type != registered.transaction_type:
        contradiction = (
            f"a payment update says {payment.transaction_type.value}, but the transaction was "
            f"registered as {registered.transaction_type.value}; the registration stands"
        )
    state = payment_state_from_server(
        OpayoServerStatus(payment.status), registered.transaction_type
    )
    kept = payment.model_copy(
        update={
            "transaction_type": registered.transaction_type,
            "amount": registered.amount,
            "state": state,
        }
    )
    return kept, contradiction


def apply_payment_update(
    store: OrderStore,
    starter: Starter,
    payment: PaymentTransaction,
    *,
    contradiction: str | None = None,
) -> PaymentUpdateResult:
    """Apply one payment update; `contradiction` is what the webhook found the notification's
    unsigned fields to say against the registration (recorded on the order, never applied)."""
    record = store.find_by_vendor_tx_code(payment.vendor_tx_code)
    if record is None:
        store.park_payment(payment)
        return PaymentUpdateResult("parked")
    payment, disagreement = registered_facts(payment, record.payment)
    contradictions = [c for c in (contradiction, disagreement) if c]
    if contradictions:
        record = store.update(record.order_id, lambda r: _note_contradictions(r, contradictions))
    if not supersedes(payment, record.payment):
        # Still (re)start: a crash between the update and the start must not strand it.
        return PaymentUpdateResult("ignored", record.order_id, start_if_decided(record, starter))

    def change(r: OrderRecord) -> None:
        update, _ = registered_facts(payment, r.payment)
        if supersedes(update, r.payment):
            from opayo_fba.intake.three_d_secure import settle_challenge

            amount = r.payment.amount if r.payment is not None else update.amount
            r.payment = update.model_copy(update={"amount": amount, "order_id": r.order_id})
            r.note("payment_" + update.state.value, update.status)
            settle_challenge(r, r.payment)
            r.refresh_status()

    updated = store.update(record.order_id, change)
    return PaymentUpdateResult("applied", updated.order_id, start_if_decided(updated, starter))


def _note_contradictions(record: OrderRecord, contradictions: list[str]) -> None:
    for contradiction in contradictions:
        record.note(CONTRADICTION_NOTE, contradiction)
