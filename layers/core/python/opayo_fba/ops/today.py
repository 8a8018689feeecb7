"""The console's Today page, worked out from one seller account's orders of the last days.

Orders come from the orders table's by-account index (a Query by received time, as the
Orders page and `opayo-fba status` read it); each is counted on the UTC day it was received:
received, shipped (Amazon has shipped at least one of its packages), compensated (the saga
undid what it had done and recorded an outcome: a cancellation, an order Amazon could not
fulfil), declined (Opayo declined or rejected the payment: nothing to undo, so not counted as
compensated too). Money is summed per currency, never across currencies: what was captured and what
was refunded of those orders. Authorisations still held (Deferred, not captured) are
counted by how long they have been held: Opayo lets a Deferred authorisation be released
for 30 days, and the held-authorisations check (jobs/) acts before it lapses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from opayo_fba.model import Money, OrderStatus, sum_money
from opayo_fba.store.orders import OrderRecord

DAYS = 30
HELD_AGES: tuple[tuple[str, timedelta], ...] = (
    ("under 1 day", timedelta(days=1)),
    ("1 to 3 days", timedelta(days=3)),
    ("3 to 7 days", timedelta(days=7)),
    ("7 to 25 days", timedelta(days=25)),
    ("25 days or more", timedelta.max),
)
DECLINED_OUTCOMES = frozenset({"payment_declined"})


@dataclass(frozen=True)
class Day:
    day: date
    received: int = 0
    shipped: int = 0
    compensated: int = 0
    declined: int = 0

    @property
    def decline_rate(self) -> float | None:
        """Declined as a share of the day's orders (None on a day with none)."""
        return self.declined / self.received if self.received else None


@dataclass(frozen=True)
class TodaySummary:
    seller_account: str
    now: datetime
    days: list[Day]
    """One per UTC day, oldest first, today last."""
    captured: dict[str, Money] = field(default_factory=dict)
    refunded: dict[str, Money] = field(default_factory=dict)
    held_by_age: list[tuple[str, int]] = field(default_factory=list)

    @property
    def today(self) -> Day:
        return self.days[-1]

    @property
    def period(self) -> Day:
        """The whole period's counts, as one row."""
        return Day(
            self.days[0].day,
            received=sum(d.received for d in self.days),
            shipped=sum(d.shipped for d in self.days),
            compensated=sum(d.compensated for d in self.days),
            declined=sum(d.declined for d in self.days),
        )


def first_day(now: datetime, days: int = DAYS) -> date:
    return now.astimezone(UTC).date() - timedelta(days=days - 1)


def _shipped(record: OrderRecord) -> bool:
    fulfillment = record.fulfillment
    return fulfillment is not None and any(s.packages for s in fulfillment.shipments)


def _declined(record: OrderRecord) -> bool:
    return record.status is OrderStatus.PAYMENT_FAILED or record.outcome in DECLINED_OUTCOMES


def _by_currency(amounts: Iterable[Money]) -> dict[str, Money]:
    grouped: dict[str, list[Money]] = {}
    for amount in amounts:
        grouped.setdefault(amount.currency, []).append(amount)
    return {c: sum_money(values, c) for c, values in sorted(grouped.items())}


def summarise(
    seller_account: str, records: Iterable[OrderRecord], now: datetime, days: int = DAYS
) -> TodaySummary:
    """The account's last `days` UTC days (today included) from its orders received in them;
    orders received before the first day are left out."""
    start = first_day(now, days)
    counts: dict[date, Counter[str]] = {start + timedelta(days=n): Counter() for n in range(days)}
    captured: list[Money] = []
    refunded: list[Money] = []
    held: Counter[str] = Counter()
    for record in records:
        day = record.received_at().astimezone(UTC).date()
        if day not in counts:
            continue
        tally = counts[day]
        tally["received"] += 1
        tally["shipped"] += _shipped(record)
        declined = _declined(record)
        tally["compensated"] += record.outcome is not None and not declined
        tally["declined"] += declined
        if record.captured is not None:
            captured.append(record.captured)
        if record.refunded is not None:
            refunded.append(record.refunded)
        since = record.held_since()
        if since is not None:
            age = now - since
            held[next(label for label, limit in HELD_AGES if age < limit)] += 1
    return TodaySummary(
        seller_account=seller_account,
        now=now,
        days=[Day(day, **tally) for day, tally in counts.items()],
        captured=_by_currency(captured),
        refunded=_by_currency(refunded),
        held_by_age=[(label, held[label]) for label, _ in HELD_AGES],
    )
