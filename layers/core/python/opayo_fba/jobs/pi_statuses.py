"""Poll Opayo Pi for payments still undecided (3-D Secure in progress, or a lost answer).

Each pending Pi transaction is read back (GET /transactions/{id}) and converted with
`payment_from_pi`. A status that moves the payment forward then goes either
- to `apply_payment_update` directly (given a `starter`), or
- onto the payment-events FIFO queue (given a `queue`), where the payment-events consumer
  applies it exactly like a Server notification. This is the deployed path: the poller's role
  may only read the orders table (infra/schedules.py).
Either way it ends in the single entry point, so a payment never moves backwards and a
decided payment starts the saga exactly once. A status that changes nothing costs no write.

A card order whose 3-D Secure challenge was abandoned (Opayo ended the transaction without our
cRes, or it still awaits one past the deadline) is aborted: intake/three_d_secure.py's
`poll_update` decides, from Opayo's state.

One transaction that cannot be read does not stop the others; it is reported in the result.
A configuration error (wrong integration key) stops the run: every other call would fail too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from opayo_fba.convert.opayo_pi import payment_from_pi
from opayo_fba.errors import ConfigurationError, OpayoFbaError
from opayo_fba.intake.payments import Starter, apply_payment_update, supersedes
from opayo_fba.intake.three_d_secure import poll_update
from opayo_fba.intake.webhook import PaymentEvent, PaymentEventQueue
from opayo_fba.model import PaymentTransaction
from opayo_fba.store.pending_payments import PENDING_STATES, PendingPaymentsStore

MAX_TRANSACTIONS_PER_RUN = 200
"""A bound on one run (the Lambda has 300 s); the rest are read by the next run."""
GIVE_UP_AFTER = timedelta(days=1)
"""A shopper who has not finished 3-D Secure a day after ordering never will: such orders are
listed in the result (for a person to close) instead of being read back on every run."""


class _PiBody(Protocol):
    @property
    def raw(self) -> dict[str, Any]: ...


class PiTransactionSource(Protocol):
    """The part of `opayo_fba.opayo.pi.PiClient` this poller uses."""

    def get_transaction(self, transaction_id: str) -> _PiBody: ...


@dataclass(frozen=True)
class PiPollFailure:
    order_id: str
    reason: str


@dataclass(frozen=True)
class PiPollResult:
    checked: int
    applied: int
    """Updates that moved a payment forward (applied here, or queued)."""
    still_pending: int
    sagas_started: int
    skipped_no_client: tuple[str, ...]
    """Order ids whose vendor has no Pi client here (another vendor's schedule reads them)."""
    failures: tuple[PiPollFailure, ...]
    abandoned: tuple[str, ...] = ()
    """Order ids placed more than `give_up_after` ago and still pending: not read back."""


def queue_payment_update(
    queue: PaymentEventQueue, vendor: str, payment: PaymentTransaction
) -> None:
    """Send a Pi status to the payment-events queue in the Server notifications' shape.

    The event id is the transaction id and status (as VPSTxId:Status is for Server), so the
    consumer's idempotency applies it once however often a poll finds it.
    """
    event_id = f"{payment.transaction_id}:{payment.status}"
    event = PaymentEvent(
        event_id=event_id,
        vendor=vendor,
        source="opayo-pi-poll",
        payment=payment.model_dump(mode="json"),
    )
    queue.send(
        json.dumps(event.__dict__),
        group_id=payment.vendor_tx_code,
        deduplication_id=hashlib.sha256(event_id.encode()).hexdigest(),
    )


def poll_pi_statuses(
    store: PendingPaymentsStore,
    pi_clients_by_vendor: Mapping[str, PiTransactionSource],
    starter: Starter | None,
    *,
    queue: PaymentEventQueue | None = None,
    now: datetime | None = None,
    limit: int = MAX_TRANSACTIONS_PER_RUN,
    give_up_after: timedelta = GIVE_UP_AFTER,
) -> PiPollResult:
    """Read back every pending Pi payment of the given vendors and apply what Opayo says.

    With `now`, orders placed more than `give_up_after` before it are listed as abandoned
    rather than read back (without `now` every pending payment is read).
    """
    if (starter is None) == (queue is None):
        raise ValueError("give either a starter (apply here) or a queue (apply downstream)")
    checked = applied = pending = started = 0
    skipped: list[str] = []
    abandoned: list[str] = []
    failures: list[PiPollFailure] = []
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    vendor = next(iter(pi_clients_by_vendor)) if len(pi_clients_by_vendor) == 1 else None
    for record in store.pending_pi_payments(vendor):
        client = pi_clients_by_vendor.get(record.vendor or "")
        if client is None:
            skipped.append(record.order_id)
            continue
        if now is not None and now - record.order.placed_at > give_up_after:
            abandoned.append(record.order_id)
            continue
        if checked >= limit:
            break
        payment = record.payment
        if payment is None or not payment.transaction_id:
            continue  # the scan only yields Pi payments with an id; keeps mypy sure of it
        checked += 1
        try:
            transaction = client.get_transaction(payment.transaction_id)
            update = payment_from_pi(
                transaction.raw,
                vendor_tx_code=payment.vendor_tx_code,
                order_id=record.order_id,
                expected_amount=payment.amount,
            )
            update = poll_update(record, update, now or datetime.now(UTC))
            if update.state in PENDING_STATES:
                pending += 1
            if not supersedes(update, payment):
                continue
            if queue is not None:
                queue_payment_update(queue, record.vendor or "", update)
                applied += 1
                continue
            assert starter is not None
            result = apply_payment_update(store, starter, update)
        except ConfigurationError:
            raise
        except OpayoFbaError as error:
            failures.append(PiPollFailure(record.order_id, f"{type(error).__name__}: {error}"))
            continue
        if result.outcome == "applied":
            applied += 1
        if result.saga_started:
            started += 1
    return PiPollResult(
        checked=checked,
        applied=applied,
        still_pending=pending,
        sagas_started=started,
        skipped_no_client=tuple(skipped),
        failures=tuple(failures),
        abandoned=tuple(abandoned),
    )


if TYPE_CHECKING:
    from opayo_fba.opayo.pi import PiClient

    def _client_is_a_transaction_source(client: PiClient) -> PiTransactionSource:
        return client  # mypy checks the real client against the protocol
