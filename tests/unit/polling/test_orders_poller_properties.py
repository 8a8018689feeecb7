"""Property: however Amazon's eventual consistency delays an update (less than the overlap),
however small the per-run bound and wherever a run crashes, the poller ends with every order's
latest version stored and one event per status change. (With a lag longer than the overlap
the same test fails: the overlap is what it checks.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from opayo_fba.amazon.errors import SpApiUnavailable
from opayo_fba.amazon.results import OrdersUpdate
from opayo_fba.jobs.amazon_orders import OVERLAP, poll_amazon_orders
from opayo_fba.jobs.events import ORDER_STATUS_CHANGED
from opayo_fba.store.amazon_orders import AmazonOrderStore
from opayo_fba.store.watermarks import WatermarkStore
from tests.unit.polling.support import RecordingEvents, create_orders_table, create_state_table
from tests.unit.polling.test_amazon_orders_poller import NOW, amazon_order, order_item

STATUSES = ("Pending", "Unshipped", "Shipped", "Canceled")


@dataclass(frozen=True)
class Update:
    order: int
    at: datetime
    visible_after: timedelta
    """How long Amazon's LastUpdatedAfter index takes to show it (eventual consistency)."""
    status: str


@dataclass
class LaggingAmazon:
    updates: list[Update]
    now: datetime = NOW
    fail_items: set[str] = field(default_factory=set)

    def _visible(self) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for update in sorted(self.updates, key=lambda u: u.at):
            if update.at + update.visible_after <= self.now:
                order_id = f"202-{update.order}"
                latest[order_id] = amazon_order(order_id, update.at, update.status)
        return latest

    def orders_updated_since(
        self, since: datetime, marketplace_ids: Sequence[str] = ()
    ) -> OrdersUpdate:
        found = [
            order
            for order in self._visible().values()
            if since <= datetime.fromisoformat(order["LastUpdateDate"].replace("Z", "+00:00"))
        ]
        return OrdersUpdate(orders=found, last_updated_before=self.now)

    def order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        if amazon_order_id in self.fail_items:
            self.fail_items.discard(amazon_order_id)
            raise SpApiUnavailable("getOrderItems", 503, "ServiceUnavailable", "try later")
        return [order_item()]


updates = st.lists(
    st.builds(
        Update,
        order=st.integers(0, 4),
        at=st.integers(0, 3600).map(lambda s: NOW + timedelta(seconds=s)),
        visible_after=st.integers(0, int(OVERLAP.total_seconds()) - 1).map(
            lambda s: timedelta(seconds=s)
        ),
        status=st.sampled_from(STATUSES),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda u: (u.order, u.at),
)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    timeline=updates,
    every=st.integers(30, 900),
    bound=st.integers(1, 4),
    crashes=st.lists(st.integers(0, 4), max_size=3),
)
def test_every_latest_version_is_stored_whatever_the_lag_bound_and_crashes(
    timeline: list[Update], every: int, bound: int, crashes: list[int]
) -> None:
    with mock_aws():
        orders = AmazonOrderStore(create_orders_table())
        marks = WatermarkStore(create_state_table())
        amazon, events = LaggingAmazon(timeline), RecordingEvents()
        amazon.fail_items = {f"202-{n}" for n in crashes}
        end = NOW + timedelta(seconds=3600) + OVERLAP
        moment = NOW - timedelta(minutes=5)
        for _ in range(200):
            amazon.now = moment
            try:
                result = poll_amazon_orders(
                    amazon,
                    marks,
                    "uk-main",
                    moment,
                    orders=orders,
                    events=events,
                    max_new_orders=bound,
                    initial_lookback=timedelta(hours=1),
                )
            except SpApiUnavailable:
                continue  # the next run reads the same window again
            if moment >= end and result.complete:
                break
            moment = min(moment + timedelta(seconds=every), end)
        else:
            raise AssertionError("the poller never caught up")

        latest: dict[str, Update] = {}
        for update in sorted(timeline, key=lambda u: u.at):
            latest[f"202-{update.order}"] = update
        for order_id, update in latest.items():
            stored = orders.find(order_id)
            assert stored is not None, order_id
            assert stored.last_update == update.at.replace(microsecond=0)
            assert stored.source_status == update.status
        announced = events.of(ORDER_STATUS_CHANGED)
        # Consecutive announcements of one order always change its status.
        for order_id in latest:
            statuses = [e["status"] for e in announced if e["orderId"] == order_id]
            assert all(a != b for a, b in pairwise(statuses))
            assert statuses[-1] == orders.find(order_id).status  # type: ignore[union-attr]
