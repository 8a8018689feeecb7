"""Deferred authorisations held too long: counted (the count alarms), and aborted where the
merchant's policy says so, before Opayo's 30-day limit on releasing a Deferred.

An authorisation still held after days means an order is stuck before capture (a saga that
never started, or one an operator stopped): the customer's money is blocked and will never
be taken. The orders come from a Query of the sparse held-authorisation index
(`OrderStore.held_authorisations`), never from a scan. Each abort first asks Opayo: a capture
the saga missed is recorded instead, and an authorisation already gone is just written down.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opayo_fba.model import PaymentState
from opayo_fba.saga import steps
from opayo_fba.saga.errors import step_errors
from opayo_fba.saga.steps import SagaDependencies
from opayo_fba.store.orders import OrderRecord

OPAYO_DEFERRED_LIMIT_DAYS = 30
OUTCOME_EXPIRED = "authorisation_expired"


@dataclass(frozen=True)
class HeldAuthorisationsResult:
    vendor: str
    held_too_long: int  # older than the alarm age: the metric the alarm reads
    aborted: int
    already_settled: int  # Opayo no longer held them (captured or aborted elsewhere)
    oldest_order_id: str = ""
    # held_too_long by seller account, for the per-account alarms.
    held_by_account: dict[str, int] = field(default_factory=dict)


def check_held_authorisations(
    vendor: str,
    deps: SagaDependencies,
    *,
    now: datetime,
    alarm_after: timedelta,
    abort_after: timedelta | None,
) -> HeldAuthorisationsResult:
    if abort_after is not None and abort_after >= timedelta(days=OPAYO_DEFERRED_LIMIT_DAYS):
        raise ValueError(f"abort_after must be under Opayo's {OPAYO_DEFERRED_LIMIT_DAYS} days")
    aged = list(deps.store.held_authorisations(vendor, now - alarm_after))
    aborted = settled = 0
    for record in aged:
        held = record.held_since()
        if abort_after is None or held is None or held >= now - abort_after:
            continue
        if _abort_if_still_held(record, deps):
            aborted += 1
        else:
            settled += 1
    return HeldAuthorisationsResult(
        vendor=vendor,
        held_too_long=len(aged),
        aborted=aborted,
        already_settled=settled,
        oldest_order_id=aged[0].order_id if aged else "",
        held_by_account=dict(Counter(record.seller_account for record in aged)),
    )


def _abort_if_still_held(record: OrderRecord, deps: SagaDependencies) -> bool:
    order_id = record.order_id
    port = deps.payments(record)
    transaction_id = steps.pi_transaction_id(record)
    with step_errors():
        observed = port.observe(transaction_id)
    steps.record_observed_payment(deps, order_id, observed)
    if observed.state is not PaymentState.AUTHORISED:
        return False
    with step_errors():
        port.abort(transaction_id)

    def keep(r: OrderRecord) -> None:
        if r.payment is not None:
            r.payment = r.payment.model_copy(update={"state": PaymentState.ABORTED})
        r.note("payment_aborted", "held past the merchant's limit")
        r.outcome = r.outcome or OUTCOME_EXPIRED

    steps.save(deps, order_id, keep)
    return True
