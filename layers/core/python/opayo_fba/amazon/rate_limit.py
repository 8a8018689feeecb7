"""SP-API usage plans and the limiter every connector call goes through.

Amazon meters each selling-partner account per operation. The limiter keeps one bucket per
(seller account, operation) in the shared DynamoDB table (`opayo_fba.store.rate_limits`), so
every concurrent Lambda instance draws from the same budget instead of each believing it has
the whole of it. A call waits for its slot when the slot comes within the caller's remaining
time; otherwise it fails fast with `Throttled`, which the state machine retries later.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from opayo_fba.amazon.errors import Throttled
from opayo_fba.store.rate_limits import RateBudgetExceeded, TokenBucketTable

RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
# The bucket table rounds slot times to a microsecond; so does the budget check.
_BUDGET_EPSILON = 1e-6


def _constant(seconds: float) -> Callable[[], float]:
    return lambda: seconds


@dataclass(frozen=True)
class UsagePlan:
    rate: float
    """Requests per second, refilled continuously."""
    burst: int


def _plans() -> dict[str, UsagePlan]:
    plans = {"getOrders": UsagePlan(0.0167, 20)}
    for operation in ("getOrder", "getOrderItems", "getOrderAddress", "getOrderBuyerInfo"):
        plans[operation] = UsagePlan(0.5, 30)
    for operation in (
        "getFulfillmentPreview",
        "createFulfillmentOrder",
        "getFulfillmentOrder",
        "listAllFulfillmentOrders",
        "cancelFulfillmentOrder",
        "updateFulfillmentOrder",
        "getPackageTrackingDetails",
        "listReturnReasonCodes",
        "createFulfillmentReturn",
    ):
        plans[operation] = UsagePlan(2.0, 30)
    plans.update(
        createReport=UsagePlan(0.0167, 15),
        getReport=UsagePlan(2.0, 15),
        getReportDocument=UsagePlan(0.0167, 15),
        getReports=UsagePlan(0.0222, 10),
        createRestrictedDataToken=UsagePlan(1.0, 10),
        getInventorySummaries=UsagePlan(2.0, 2),
    )
    return plans


USAGE_PLANS: Mapping[str, UsagePlan] = _plans()
"""The published usage plans (see docs/connectors.md); Amazon's header overrides the rate."""


def parse_rate_limit_header(value: str | None) -> float | None:
    """The rate in `x-amzn-RateLimit-Limit`, or None when absent or unreadable."""
    if not value:
        return None
    try:
        rate = float(value.strip())
    except ValueError:
        return None
    return rate if rate > 0 else None


class SellerRateLimiter:
    """Waits for (or refuses) a slot in one seller account's bucket for an operation.

    `sleep` defaults to the wall clock; benchmarks pass a time-scaled one (and a matching
    clock to the bucket table).

    Amazon's bucket for us starts when Amazon first sees a call, ours a little earlier, and
    network latency varies from call to call; so a call sent exactly on our schedule can reach
    Amazon a moment before its token. We therefore leave unused as many tokens of the burst as
    refill in `latency_cushion` seconds (at least one), which puts our schedule that far behind
    Amazon's: it absorbs that much latency jitter once, at no cost to the sustained rate.
    `rate_factor` (< 1) would also trim the rate, for clocks that drift.
    """

    def __init__(
        self,
        buckets: TokenBucketTable,
        seller_id: str,
        *,
        plans: Mapping[str, UsagePlan] = USAGE_PLANS,
        sleep: Callable[[float], None] = time.sleep,
        rate_factor: float = 1.0,
        latency_cushion: float = 0.5,
    ) -> None:
        if not 0 < rate_factor <= 1:
            raise ValueError("rate_factor must be in (0, 1]")
        if latency_cushion < 0:
            raise ValueError("latency_cushion must be >= 0 seconds")
        self._buckets = buckets
        self._seller_id = seller_id
        self._plans = plans
        self._sleep = sleep
        self._rate_factor = rate_factor
        self._latency_cushion = latency_cushion
        self._known_rates: dict[str, float] = {}

    def _key(self, operation: str) -> str:
        return f"{self._seller_id}#{operation}"

    def plan(self, operation: str) -> UsagePlan:
        try:
            return self._plans[operation]
        except KeyError:
            raise KeyError(f"no usage plan for SP-API operation {operation!r}") from None

    def usable_burst(self, plan: UsagePlan) -> int:
        """The plan's burst less the latency cushion (at least one token is kept back)."""
        cushion = (
            max(1, math.ceil(self._latency_cushion * plan.rate)) if self._latency_cushion else 0
        )
        return max(1, plan.burst - cushion)

    def acquire(self, operation: str, max_wait: float | Callable[[], float]) -> float:
        """Block until this caller may call `operation`; returns the seconds waited.

        `max_wait` is the caller's budget for waiting, in seconds, or a callable that says
        what is left of it now. A slot beyond the budget is never taken: Throttled is raised
        at once, with the seconds until the next slot, and the bucket is left as it was (so
        Step Functions or the next schedule tries again). The budget is asked again just
        before sleeping; if it ran out while the slot was being reserved, the slot is given
        back and Throttled raised, so a caller never sleeps past its own deadline.
        """
        budget = max_wait if callable(max_wait) else _constant(max_wait)
        plan = self.plan(operation)
        try:
            reservation = self._buckets.reserve(
                self._key(operation),
                rate=plan.rate * self._rate_factor,
                burst=self.usable_burst(plan),
                max_wait=max(0.0, budget()),
            )
        except RateBudgetExceeded as exhausted:
            raise Throttled(operation, exhausted.retry_after) from None
        if reservation.wait_seconds > 0:
            if reservation.wait_seconds > max(0.0, budget()) + _BUDGET_EPSILON:
                self._buckets.release(reservation)
                raise Throttled(operation, reservation.wait_seconds)
            self._sleep(reservation.wait_seconds)
        return reservation.wait_seconds

    def throttled(self, operation: str) -> None:
        """Amazon answered 429: its bucket is empty, so ours is emptied to match."""
        plan = self.plan(operation)
        self._buckets.drain(
            self._key(operation), rate=plan.rate * self._rate_factor, burst=self.usable_burst(plan)
        )

    def observe(self, operation: str, header_value: str | None) -> None:
        """Adopt the rate Amazon reports for this operation when it differs from the plan."""
        rate = parse_rate_limit_header(header_value)
        if rate is None:
            return
        # The first observation in a process is always written: the table may hold a rate
        # another instance learned earlier, which this one cannot know without reading.
        known = self._known_rates.get(operation)
        if known is not None and abs(rate - known) <= 1e-9 * max(rate, known):
            return
        self._buckets.learn(self._key(operation), rate * self._rate_factor)
        self._known_rates[operation] = rate
