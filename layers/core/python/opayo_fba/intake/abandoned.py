"""Card payments whose order never reached us: found and ended from Opayo's own records.

Intake notes each card payment before it asks Opayo for it (`OrderStore.begin_card_intake`)
and removes the note in the same write that stores the order. A note that outlives
`older_than` means the order was never stored: Opayo's answer was lost and so was our look-up,
our function crashed after Opayo authorised, or the shop gave up before a retry found the
transaction. Money may be held for an order we do not know, so each such note is resolved
from Opayo, never from our belief:

- the note is first claimed (`claim_card_intake`): from then on intake refuses to store
  that order, so a late retry and the sweep never both win;
- Opayo has no transaction under the order's vendorTxCode: nothing was held; the note is
  removed and the order may be submitted again;
- an authorisation still held: aborted; anything captured: refunded in full; either way (and
  when the money was already ended elsewhere) the note stays as a tombstone, so a late retry
  is told (409) instead of paying again;
- nothing held (declined, failed, still awaiting 3-D Secure): the note is removed, and a late
  retry stores the order with Opayo's answer.

A note that cannot be resolved now (Opayo unreachable) stays claimed for the next run.
`older_than` must leave the shop time to retry: more than a merchant session key lives
(400 s), so a retry can no longer create a payment the sweep has not seen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from opayo_fba.errors import OpayoFbaError
from opayo_fba.model import Money, PaymentState
from opayo_fba.saga.ports import ObservedPayment
from opayo_fba.store.orders import CardIntake, OrderStore

logger = logging.getLogger(__name__)


class _Found(Protocol):
    @property
    def transaction_id(self) -> str: ...

    @property
    def amount(self) -> Money | None: ...


class AbandonedPaymentPort(Protocol):
    """The part of `opayo_fba.opayo.pi.PiClient` the sweep uses."""

    def recover_transaction(self, vendor_tx_code: str) -> _Found | None: ...

    def observe(self, transaction_id: str) -> ObservedPayment: ...

    def abort(self, transaction_id: str) -> object: ...

    def refund(
        self, reference_transaction_id: str, amount: Money, *, refund_id: str, description: str
    ) -> object: ...


@dataclass(frozen=True)
class AbandonedSweep:
    notes: int = 0  # notes older than the age
    stored_meanwhile: int = 0  # stored after all (or ended by another sweep): nothing to do
    never_created: int = 0  # Opayo has no such transaction
    nothing_held: int = 0  # declined, failed or still awaiting 3-D Secure: note removed
    aborted: int = 0
    refunded: int = 0
    unresolved: int = 0  # Opayo could not be asked now; tried again next run


def sweep_abandoned_card_payments(
    vendor: str, store: OrderStore, pi: AbandonedPaymentPort, *, older_than: datetime
) -> AbandonedSweep:
    counts = dict.fromkeys(
        ("notes", "stored", "none", "nothing_held", "aborted", "refunded", "unresolved"), 0
    )
    for note in list(store.abandoned_card_intakes(vendor, older_than)):
        counts["notes"] += 1
        # The claim itself checks that the order is still missing (and removes the note if
        # it was stored after all).
        if not store.claim_card_intake(note.order_id):
            counts["stored"] += 1
            continue
        try:
            counts[_end(note, store, pi)] += 1
        except OpayoFbaError as error:
            logger.warning(
                "abandoned card payment of order %s not resolved yet: %s", note.order_id, error
            )
            counts["unresolved"] += 1
    return AbandonedSweep(
        notes=counts["notes"],
        stored_meanwhile=counts["stored"],
        never_created=counts["none"],
        nothing_held=counts["nothing_held"],
        aborted=counts["aborted"],
        refunded=counts["refunded"],
        unresolved=counts["unresolved"],
    )


def _end(note: CardIntake, store: OrderStore, pi: AbandonedPaymentPort) -> str:
    found = pi.recover_transaction(note.vendor_tx_code)
    if found is None:
        store.forget_card_intake(note.order_id)
        return "none"
    observed = pi.observe(found.transaction_id)
    outcome = "none"
    if observed.state is PaymentState.AUTHORISED:
        pi.abort(found.transaction_id)
        outcome = "aborted"
    elif observed.state is PaymentState.CAPTURED:
        captured = observed.captured or found.amount
        if captured is None:
            raise OpayoFbaError(f"Opayo does not say how much {found.transaction_id} captured")
        pi.refund(
            found.transaction_id,
            captured,
            refund_id=f"abandoned-{note.order_id}",
            description="Order not completed: payment returned",
        )
        outcome = "refunded"
    detail = f"Opayo {found.transaction_id}: {observed.state.value}" + (
        f", {outcome}" if outcome != "none" else ""
    )
    logger.warning("card payment of order %s never reached an order: %s", note.order_id, detail)
    if outcome == "none" and observed.state not in _ENDED_ELSEWHERE:
        # Nothing was held (declined, failed, still awaiting 3-D Secure): a late retry may
        # still store the order with Opayo's answer, so the order id is not taken away.
        store.forget_card_intake(note.order_id)
        return "nothing_held"
    store.end_card_intake(note.order_id, detail)
    return outcome


# Money someone already released, aborted or voided: the order id must not be paid again.
_ENDED_ELSEWHERE = frozenset({PaymentState.ABORTED, PaymentState.VOIDED})
