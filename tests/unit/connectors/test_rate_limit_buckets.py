"""The shared token buckets, on a moto DynamoDB table, with a hand-driven clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opayo_fba.store.rate_limits import RateBudgetExceeded, TokenBucketTable
from tests.fixtures.atomic_dynamodb import AtomicDynamoDB

TABLE = "rate-limits"


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = AtomicDynamoDB(boto3.client("dynamodb"))
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
        yield client


def test_burst_is_granted_at_once_then_slots_come_at_the_plan_rate(dynamodb: Any) -> None:
    clock = FakeClock()
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    waits = [
        buckets.reserve("S1#createFulfillmentOrder", rate=2, burst=30, max_wait=60).wait_seconds
        for _ in range(34)
    ]
    assert waits[:30] == [0.0] * 30
    assert waits[30:] == pytest.approx([0.5, 1.0, 1.5, 2.0])


def test_a_slot_beyond_the_budget_is_refused_and_not_reserved(dynamodb: Any) -> None:
    clock = FakeClock()
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    for _ in range(5):
        buckets.reserve("S1#getReports", rate=0.0222, burst=5, max_wait=0)
    before = buckets.read("S1#getReports")
    with pytest.raises(RateBudgetExceeded) as caught:
        buckets.reserve("S1#getReports", rate=0.0222, burst=5, max_wait=10)
    assert caught.value.retry_after == pytest.approx(1 / 0.0222)
    assert buckets.read("S1#getReports") == before


def test_buckets_refill_with_time(dynamodb: Any) -> None:
    clock = FakeClock()
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    for _ in range(3):
        buckets.reserve("k", rate=1, burst=3, max_wait=0)
    with pytest.raises(RateBudgetExceeded):
        buckets.reserve("k", rate=1, burst=3, max_wait=0)
    clock.now += 2.0
    assert buckets.reserve("k", rate=1, burst=3, max_wait=0).wait_seconds == 0.0
    assert buckets.reserve("k", rate=1, burst=3, max_wait=0).wait_seconds == 0.0
    with pytest.raises(RateBudgetExceeded):
        buckets.reserve("k", rate=1, burst=3, max_wait=0)


def test_sellers_and_operations_have_separate_buckets(dynamodb: Any) -> None:
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=FakeClock())
    buckets.reserve("S1#getOrders", rate=0.0167, burst=1, max_wait=0)
    assert buckets.reserve("S2#getOrders", rate=0.0167, burst=1, max_wait=0).wait_seconds == 0
    assert buckets.reserve("S1#getOrder", rate=0.5, burst=1, max_wait=0).wait_seconds == 0


def test_a_learned_rate_overrides_the_plan(dynamodb: Any) -> None:
    clock = FakeClock()
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    buckets.reserve("k", rate=2, burst=1, max_wait=0)
    buckets.learn("k", 0.5)
    reservation = buckets.reserve("k", rate=2, burst=1, max_wait=10)
    assert reservation.rate == 0.5
    assert reservation.wait_seconds == pytest.approx(0.5)  # slot computed with the old rate
    assert buckets.reserve("k", rate=2, burst=1, max_wait=10).wait_seconds == pytest.approx(2.5)


def test_learning_before_any_call_keeps_the_full_burst(dynamodb: Any) -> None:
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=FakeClock())
    buckets.learn("k", 1.0)
    assert [buckets.reserve("k", rate=5, burst=2, max_wait=0).wait_seconds for _ in range(2)] == [
        0.0,
        0.0,
    ]
    with pytest.raises(RateBudgetExceeded):
        buckets.reserve("k", rate=5, burst=2, max_wait=0)


def test_concurrent_callers_never_share_a_slot(dynamodb: Any) -> None:
    clock = FakeClock()
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            wait = buckets.reserve("k", rate=10, burst=5, max_wait=100).wait_seconds
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(waits) == 80
    # 5 immediate slots, then one every 0.1 s: every wait is distinct after the burst.
    expected = [0.0] * 5 + [0.1 * n for n in range(1, 76)]
    assert sorted(waits) == pytest.approx(expected, abs=1e-4)


def test_bad_arguments_name_the_problem(dynamodb: Any) -> None:
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=FakeClock())
    with pytest.raises(ValueError, match="rate must be > 0"):
        buckets.reserve("k", rate=0, burst=1, max_wait=0)
    with pytest.raises(ValueError, match="table_name"):
        TokenBucketTable("", client=dynamodb)


def test_buckets_live_beside_the_other_connector_state(dynamodb: Any) -> None:
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=FakeClock())
    buckets.reserve("A1SELLER#createFulfillmentOrder", rate=2, burst=30, max_wait=0)
    item = dynamodb.get_item(
        TableName=TABLE,
        Key={"pk": {"S": "ratelimit#A1SELLER"}, "sk": {"S": "createFulfillmentOrder"}},
    )["Item"]
    assert float(item["tat"]["N"]) == pytest.approx(1_800_000_000.5)


def test_a_table_keyed_on_pk_alone_works_too() -> None:
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="buckets",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        buckets = TokenBucketTable("buckets", client=client, clock=FakeClock(), sort_key=None)
        assert buckets.reserve("S1#getOrders", rate=1, burst=1, max_wait=0).wait_seconds == 0
        assert buckets.reserve("S1#getOrders", rate=1, burst=1, max_wait=5).wait_seconds == 1


def test_the_seller_limiter_sleeps_for_its_slot_and_then_refuses(dynamodb: Any) -> None:
    from opayo_fba.amazon.errors import Throttled
    from opayo_fba.amazon.rate_limit import SellerRateLimiter, UsagePlan

    clock = FakeClock()
    slept: list[float] = []
    limiter = SellerRateLimiter(
        TokenBucketTable(TABLE, client=dynamodb, clock=clock),
        "A1SELLER",
        plans={"createFulfillmentOrder": UsagePlan(rate=2.0, burst=30)},
        sleep=slept.append,
    )
    # 0.5 s of latency cushion at 2/s keeps one token back: 29 immediate calls.
    waits = [limiter.acquire("createFulfillmentOrder", max_wait=10) for _ in range(31)]
    assert waits[:29] == [0.0] * 29
    assert waits[29:] == pytest.approx([0.5, 1.0])
    assert slept == pytest.approx([0.5, 1.0])
    with pytest.raises(Throttled) as caught:
        limiter.acquire("createFulfillmentOrder", max_wait=1.0)
    assert caught.value.retry_after == pytest.approx(1.5)
    with pytest.raises(KeyError, match="no usage plan"):
        limiter.acquire("getUnknownThing", max_wait=1)


def test_rate_limit_headers_are_read_defensively() -> None:
    from opayo_fba.amazon.rate_limit import USAGE_PLANS, parse_rate_limit_header

    assert parse_rate_limit_header("0.0167") == pytest.approx(0.0167)
    assert parse_rate_limit_header(" 2 ") == 2.0
    assert parse_rate_limit_header(None) is None
    assert parse_rate_limit_header("fast") is None
    assert parse_rate_limit_header("0") is None
    assert USAGE_PLANS["getOrders"].burst == 20
    assert USAGE_PLANS["createFulfillmentOrder"].rate == 2.0


def test_a_429_empties_the_bucket_so_the_next_slot_is_one_interval_away(dynamodb: Any) -> None:
    clock = FakeClock()
    buckets = TokenBucketTable(TABLE, client=dynamodb, clock=clock)
    assert buckets.reserve("k", rate=2, burst=30, max_wait=0).wait_seconds == 0.0
    buckets.drain("k", rate=2, burst=30)
    waits = [buckets.reserve("k", rate=2, burst=30, max_wait=10).wait_seconds for _ in range(3)]
    assert waits == pytest.approx([0.5, 1.0, 1.5])
    clock.now += 60  # refilled meanwhile: the burst is back
    assert buckets.reserve("k", rate=2, burst=30, max_wait=0).wait_seconds == 0.0
