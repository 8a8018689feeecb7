"""Poll Opayo Pi for payments still undecided (3-D Secure in progress, or a lost answer).

Each pending Pi transaction is read back (GET /transactions/{id}), converted with
`payment_from_pi`, and fed to `apply_payment_update`: the same single entry point that
Server notifications use, so a status found here never moves a payment backwards and a
decided payment starts the saga exactly once.

One transaction that cannot be read does not stop the others; it is reported in the result.
A configuration error (wrong integration key) stops the run: every other call would fail too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from opayo_fba.errors import ConfigurationError, OpayoFbaError
from opayo_fba.intake.payments import PaymentUpdateResult, Starter, apply_payment_update
from opayo_fba.store.pending_payments import PENDING_STATES, PendingPaymentsStore
from opayo_fba.transform.opayo_pi import payment_from_pi

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
    """Updates that moved a payment forward."""
    still_pending: int
    sagas_started: int
    skipped_no_client: tuple[str, ...]
    """Order ids whose vendor has no Pi client here (another vendor's schedule reads them)."""
    failures: tuple[PiPollFailure, ...]
    abandoned: tuple[str, ...] = ()
    """Order ids placed more than `give_up_after` ago and still pending: not read back."""


def poll_pi_statuses(
    store: PendingPaymentsStore,
    pi_clients_by_vendor: Mapping[str, PiTransactionSource],
    starter: Starter,
    *,
    now: datetime | None = None,
    limit: int = MAX_TRANSACTIONS_PER_RUN,
    give_up_after: timedelta = GIVE_UP_AFTER,
) -> PiPollResult:
    """Read back every pending Pi payment of the given vendors and apply what Opayo says.

    With `now`, orders placed more than `give_up_after` before it are listed as abandoned
    rather than read back (without `now` every pending payment is read).
    """
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
            result: PaymentUpdateResult = apply_payment_update(store, starter, update)
        except ConfigurationError:
            raise
        except OpayoFbaError as error:
            failures.append(PiPollFailure(record.order_id, f"{type(error).__name__}: {error}"))
            continue
        if result.outcome == "applied":
            applied += 1
        if update.state in PENDING_STATES:
            pending += 1
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
