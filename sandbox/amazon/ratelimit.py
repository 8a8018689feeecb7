"""Usage-plan token buckets, one per operation per selling partner, on the sandbox clock."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sandbox.amazon.options import RateLimit

# The usage plans of docs/reference/sp-api.md (requests per second, burst).
USAGE_PLANS: dict[str, RateLimit] = {
    "getOrders": RateLimit(rate=0.0167, burst=20),
    **{
        op: RateLimit(rate=0.5, burst=30)
        for op in ("getOrder", "getOrderItems", "getOrderAddress", "getOrderBuyerInfo")
    },
    **{
        op: RateLimit(rate=2, burst=30)
        for op in (
            "getFulfillmentPreview",
            "createFulfillmentOrder",
            "getFulfillmentOrder",
            "listAllFulfillmentOrders",
            "cancelFulfillmentOrder",
            "updateFulfillmentOrder",
            "submitFulfillmentOrderStatusUpdate",
            "getPackageTrackingDetails",
            "listReturnReasonCodes",
            "createFulfillmentReturn",
        )
    },
    "createReport": RateLimit(rate=0.0167, burst=15),
    "getReport": RateLimit(rate=2, burst=15),
    "getReportDocument": RateLimit(rate=0.0167, burst=15),
    "getReports": RateLimit(rate=0.0222, burst=10),
    "createRestrictedDataToken": RateLimit(rate=1, burst=10),
    "getInventorySummaries": RateLimit(rate=2, burst=2),
}
DEFAULT_PLAN = RateLimit(rate=1, burst=5)


class RateLimiter:
    """Token buckets that refill at `rate` per second of sandbox time, up to `burst`."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        enabled: bool = True,
        overrides: dict[str, RateLimit] | None = None,
        scale: float = 1.0,
    ) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.enabled = enabled
        self.overrides: dict[str, RateLimit] = dict(overrides or {})
        self.scale = scale
        # (operation, seller) -> (tokens, last refill time)
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def plan(self, operation: str) -> RateLimit:
        """The enforced plan: an override, else the usage plan, with the rate scaled."""
        plan = self.overrides.get(operation) or USAGE_PLANS.get(operation, DEFAULT_PLAN)
        if self.scale == 1.0:
            return plan
        return RateLimit(rate=plan.rate * self.scale, burst=plan.burst)

    def configure(
        self, *, enabled: bool, overrides: dict[str, RateLimit], scale: float = 1.0
    ) -> None:
        with self._lock:
            self.enabled = enabled
            self.overrides = dict(overrides)
            self.scale = scale
            self._buckets.clear()

    def try_acquire(self, operation: str, seller: str) -> bool:
        """Take one token; False means the call is throttled."""
        if not self.enabled:
            return True
        plan = self.plan(operation)
        now = self._now()
        with self._lock:
            tokens, last = self._buckets.get((operation, seller), (float(plan.burst), now))
            tokens = min(float(plan.burst), tokens + max(0.0, now - last) * plan.rate)
            if tokens < 1.0:
                self._buckets[(operation, seller)] = (tokens, now)
                return False
            self._buckets[(operation, seller)] = (tokens - 1.0, now)
            return True

    def header(self, operation: str) -> str:
        return f"{self.plan(operation).rate:g}"
