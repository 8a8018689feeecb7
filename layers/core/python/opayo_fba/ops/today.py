"""The console's Today page: one seller account's day and its last 30 days.

Each order is counted on the UTC day it was received: received, shipped (Amazon has shipped
at least one of its packages), compensated (the saga undid what it had done and recorded an
outcome: a cancellation, an order Amazon could not fulfil), declined (Opayo declined or
rejected the payment: nothing to undo, so not counted as compensated too). Money is summed
per currency, never across currencies: what was captured and what was refunded of those
orders. Those definitions live in store/daily_rollup.py, beside the daily rollups the order
writes keep with them.

The page is built from those rollups (`summary_from_rollups`: 30 items, one BatchGetItem)
and the open authorisations from the sparse held-authorisation index (`held_by_age`: the
index's keys carry the time), so it reads no order. `summarise()` works the same figures
out from the orders themselves: the reference the rollups are tested against. Orders stored
before the rollups existed are counted in by `rebuild_daily_rollups` (the backfill,
`opayo-fba today rebuild`). Authorisations still held (Deferred, not captured) are counted
by how long they have been held: Opayo lets a Deferred authorisation be released for 30 days,
and the held-authorisations check (jobs/) acts before it lapses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from opayo_fba.model import Money, sum_money
from opayo_fba.store.daily_rollup import (
    COUNTS,
    DailyRollupStore,
    DailyTotals,
    compensated,
    declined,
    shipped,
    totals_of,
)
from opayo_fba.store.orders import OrderRecord, OrderStore

DAYS = 30
HELD_AGES: tuple[tuple[str, timedelta], ...] = (
    ("under 1 day", timedelta(days=1)),
    ("1 to 3 days", timedelta(days=3)),
    ("3 to 7 days", timedelta(days=7)),
    ("7 to 25 days", timedelta(days=25)),
    ("25 days or more", timedelta.max),
)
MAX_REBUILD_ATTEMPTS = 5


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


def _by_currency(amounts: Iterable[Money]) -> dict[str, Money]:
    grouped: dict[str, list[Money]] = {}
    for amount in amounts:
        grouped.setdefault(amount.currency, []).append(amount)
    return {c: sum_money(values, c) for c, values in sorted(grouped.items())}


def held_by_age(held_since: Iterable[datetime], now: datetime) -> list[tuple[str, int]]:
    """How many authorisations have been held for how long, in the HELD_AGES bands."""
    held: Counter[str] = Counter()
    for since in held_since:
        age = now - since
        held[next(label for label, limit in HELD_AGES if age < limit)] += 1
    return [(label, held[label]) for label, _ in HELD_AGES]


def summarise(
    seller_account: str, records: Iterable[OrderRecord], now: datetime, days: int = DAYS
) -> TodaySummary:
    """The account's last `days` UTC days (today included) from its orders received in them;
    orders received before the first day are left out. The reference for
    `summary_from_rollups` (its held authorisations are those of these orders)."""
    start = first_day(now, days)
    counts: dict[date, Counter[str]] = {start + timedelta(days=n): Counter() for n in range(days)}
    captured: list[Money] = []
    refunded: list[Money] = []
    held: list[datetime] = []
    for record in records:
        day = record.received_at().astimezone(UTC).date()
        if day not in counts:
            continue
        tally = counts[day]
        tally["received"] += 1
        tally["shipped"] += shipped(record)
        tally["compensated"] += compensated(record)
        tally["declined"] += declined(record)
        if record.captured is not None:
            captured.append(record.captured)
        if record.refunded is not None:
            refunded.append(record.refunded)
        since = record.held_since()
        if since is not None:
            held.append(since)
    return TodaySummary(
        seller_account=seller_account,
        now=now,
        days=[Day(day, **tally) for day, tally in counts.items()],
        captured=_by_currency(captured),
        refunded=_by_currency(refunded),
        held_by_age=held_by_age(held, now),
    )


def summary_from_rollups(
    seller_account: str,
    rollups: Sequence[DailyTotals],
    held_since: Iterable[datetime],
    now: datetime,
    days: int = DAYS,
) -> TodaySummary:
    """The same summary as `summarise`, from the account's daily rollups (a day without one
    counts as zeros; rollups outside the period are left out) and the times the open
    authorisations are held since (the held index's, for the stack's vendors)."""
    start = first_day(now, days)
    by_day = {r.day: r for r in rollups if r.seller_account == seller_account}
    period = [start + timedelta(days=n) for n in range(days)]
    money: dict[tuple[str, str], tuple[int, int]] = {}
    for day in period:
        if day not in by_day:
            continue
        for key, (minor, orders) in by_day[day].money.items():
            total, count = money.get(key, (0, 0))
            money[key] = (total + minor, count + orders)

    def per_currency(kind: str) -> dict[str, Money]:
        # A currency shows when an order has such money, as summarise() shows it.
        return {
            currency: Money(amount=minor, currency=currency)
            for (k, currency), (minor, orders) in sorted(money.items())
            if k == kind and orders > 0
        }

    return TodaySummary(
        seller_account=seller_account,
        now=now,
        days=[
            Day(day, **{name: by_day[day].count(name) for name in COUNTS})
            if day in by_day
            else Day(day)
            for day in period
        ],
        captured=per_currency("captured"),
        refunded=per_currency("refunded"),
        held_by_age=held_by_age(held_since, now),
    )


def rebuild_daily_rollups(
    orders: OrderStore,
    rollups: DailyRollupStore,
    seller_account: str,
    first: date,
    last: date,
    progress: Callable[[date], None] | None = None,
) -> list[DailyTotals]:
    """The backfill: SET the rollup of each day from `first` to `last` (both included) to
    what the account's orders received that day add up to, read through the by-account
    index. Idempotent (it sets, never adds), and safe beside live writes: a day whose rollup
    an order write moved while it was counting is counted again. The by-account index is
    eventually consistent, so an order stored in the very second of the rebuild may be
    missed; run it again, or for days that are over. `progress` is told each day done."""
    from opayo_fba.errors import ConflictError

    rebuilt = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        for _ in range(MAX_REBUILD_ATTEMPTS):
            seen = rollups.day(seller_account, day)
            totals = totals_of(seller_account, day, _received_on(orders, seller_account, day))
            if rollups.replace(totals, seen):
                rebuilt.append(totals)
                break
        else:
            raise ConflictError(
                f"the rollup of {seller_account} on {day} kept changing while it was counted; "
                "run the rebuild again for that day"
            )
        if progress is not None:
            progress(day)
    return rebuilt


def _received_on(orders: OrderStore, seller_account: str, day: date) -> Iterable[OrderRecord]:
    """The account's orders received on `day` (UTC), every page of the by-account index."""
    start = datetime.combine(day, time.min, UTC)
    end = start + timedelta(days=1) - timedelta(microseconds=1)
    start_key = None
    while True:
        page = orders.orders_by_account(
            seller_account, received_from=start, received_to=end, limit=100, start_key=start_key
        )
        yield from page.records
        if page.next_key is None:
            return
        start_key = page.next_key
