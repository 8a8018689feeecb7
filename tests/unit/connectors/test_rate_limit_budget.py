"""A caller never reserves beyond its own time budget (issue 11, item 6).

The limiter runs on a moto DynamoDB table with a hand-driven clock; its `sleep` moves that
clock, so the tests see exactly when each call would have been sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from opayo_fba.amazon.errors import Throttled
from opayo_fba.amazon.rate_limit import SellerRateLimiter, UsagePlan
from opayo_fba.store.rate_limits import TokenBucketTable

TABLE = "connector-state"
GET_ORDERS = UsagePlan(rate=0.0167, burst=20)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def _create_table(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        _create_table(client)
        yield client


_sellers = iter(range(1_000_000))


def _limiter(dynamodb: Any, clock: Clock, plan: UsagePlan) -> tuple[SellerRateLimiter, str]:
    seller = f"S{next(_sellers)}"  # a fresh bucket per test and per hypothesis example
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    limiter = SellerRateLimiter(buckets, seller, plans={"op": plan}, sleep=clock.sleep)
    return limiter, f"{seller}#op"


def _tat(dynamodb: Any, key: str) -> float | None:
    state = TokenBucketTable(TABLE, client=dynamodb).read(key)
    return None if state is None else state.tat


def test_a_poller_that_spent_the_burst_is_throttled_at_once_instead_of_sleeping(
    dynamodb: Any,
) -> None:
    clock = Clock()
    limiter, key = _limiter(dynamodb, clock, GET_ORDERS)
    for _ in range(limiter.usable_burst(GET_ORDERS)):
        assert limiter.acquire("op", max_wait=30.0) == 0.0
    before = _tat(dynamodb, key)
    started = clock.now
    with pytest.raises(Throttled) as caught:
        limiter.acquire("op", max_wait=30.0)
    # The next slot is one interval (about 60 s) away: beyond 30 s, so no sleep, no token.
    assert caught.value.retry_after == pytest.approx(1 / GET_ORDERS.rate, rel=1e-3)
    assert clock.now == started
    assert _tat(dynamodb, key) == before


def test_a_budget_that_runs_out_while_reserving_gives_the_slot_back(dynamodb: Any) -> None:
    clock = Clock()
    limiter, key = _limiter(dynamodb, clock, UsagePlan(rate=1.0, burst=2))
    limiter.acquire("op", max_wait=10.0)  # the one usable token (one kept as cushion)
    before = _tat(dynamodb, key)
    # The budget is 5 s when the slot is reserved, then 0.2 s when the limiter would sleep
    # (the reservation itself took the rest, or the clock of the caller moved on).
    budgets = iter([5.0, 0.2])
    with pytest.raises(Throttled) as caught:
        limiter.acquire("op", max_wait=lambda: next(budgets))
    assert caught.value.retry_after == pytest.approx(1.0)
    assert clock.now == 1_800_000_000.0  # never slept
    assert _tat(dynamodb, key) == before  # the slot went back
    assert limiter.acquire("op", max_wait=5.0) == pytest.approx(1.0)  # and is free again


def test_a_slot_with_later_reservations_behind_it_is_not_given_back(dynamodb: Any) -> None:
    clock = Clock()
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    key = f"S{next(_sellers)}#op"
    buckets.reserve(key, rate=1.0, burst=1, max_wait=0)
    first = buckets.reserve(key, rate=1.0, burst=1, max_wait=10)
    second = buckets.reserve(key, rate=1.0, burst=1, max_wait=10)
    assert not buckets.release(first)  # someone queued behind it: the slot stays spent
    assert buckets.release(second)
    assert _tat(dynamodb, key) == second.tat - 1.0


def test_the_connector_keeps_back_one_call_of_time_from_the_wait() -> None:
    from opayo_fba.amazon.connector import SpApiConnector

    connector = SpApiConnector.__new__(SpApiConnector)
    connector._time_budget = lambda: 25.0
    connector._call_seconds = 20.0
    assert connector._rate_limit_budget() == 5.0
    connector._time_budget = lambda: 12.0
    assert connector._rate_limit_budget() == 0.0


calls = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=40.0),  # seconds since the previous call
        st.floats(min_value=0.0, max_value=30.0),  # the caller's budget for this call
    ),
    min_size=1,
    max_size=40,
)
plans = st.builds(
    UsagePlan,
    rate=st.sampled_from([0.0167, 0.0222, 0.5, 2.0]),
    burst=st.integers(min_value=1, max_value=30),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=plans, sequence=calls)
def test_no_wait_exceeds_the_budget_and_no_refusal_spends_a_token(
    dynamodb: Any, plan: UsagePlan, sequence: list[tuple[float, float]]
) -> None:
    clock = Clock()
    limiter, key = _limiter(dynamodb, clock, plan)
    burst = limiter.usable_burst(plan)
    sent: list[float] = []
    refusals: list[tuple[float | None, float]] = []
    for gap, budget in sequence:
        clock.now += gap
        before, started = _tat(dynamodb, key), clock.now
        try:
            waited = limiter.acquire("op", max_wait=budget)
        except Throttled as refused:
            refusals.append((refused.retry_after, budget))
            assert clock.now == started
            assert _tat(dynamodb, key) == before
            continue
        assert 0.0 <= waited <= budget + 1e-6
        assert clock.now == pytest.approx(started + waited)
        sent.append(clock.now)
    # A refusal says how long until the slot, and that is always beyond the budget.
    assert all(after is not None and after > budget for after, budget in refusals)
    # What was sent keeps to the plan: at most `burst` at once, then one per interval.
    interval = 1 / plan.rate
    for i, first in enumerate(sent):
        for j in range(i, len(sent)):
            assert j - i + 1 <= burst + (sent[j] - first) / interval + 1e-6
