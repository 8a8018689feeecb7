"""Rate limiting never blocks the house (issue 11, item 6), through the local runtime.

The orders poller is made to wait for its getOrders slot (the shared bucket in the
connector-state table is spent, as after a burst); while it sleeps, POST /orders is answered
and the order's saga runs, because each function runs in an execution environment of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from local_runtime.lambda_bridge import Invocation
from sandbox.amazon.options import Credentials as AmazonCredentials

REGION = "eu-west-2"
GET_ORDERS_RATE = 0.0167  # opayo_fba.amazon.rate_limit.USAGE_PLANS["getOrders"]
USABLE_BURST = 19  # its burst of 20 less the one token of latency cushion
SLOT_IN_SECONDS = 75.0  # long enough for cold starts on a busy machine


def _until(what: str, check: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
def test_a_waiting_poller_does_not_delay_post_orders_or_the_saga(
    environment: LocalEnvironment, demo: DemoContext
) -> None:
    runtime = environment.runtime
    assert runtime is not None
    poller = runtime.function_name("orders_poller")
    table = runtime.lambdas.function(poller).environment["CONNECTOR_STATE_TABLE_NAME"]
    key = {"pk": {"S": f"ratelimit#{AmazonCredentials().seller_id}"}, "sk": {"S": "getOrders"}}
    interval = 1 / GET_ORDERS_RATE
    spent = time.time() + (USABLE_BURST - 1) * interval + SLOT_IN_SECONDS
    dynamodb = boto3.client("dynamodb", REGION)
    dynamodb.put_item(TableName=table, Item={**key, "tat": {"N": repr(spent)}})
    (schedule,) = [s for s in runtime.schedules.schedules.values() if s.function.endswith(poller)]

    polled: list[Invocation] = []
    thread = threading.Thread(target=lambda: polled.append(runtime.schedules.fire(schedule.name)))
    thread.start()
    try:
        # The poller has reserved its slot (the bucket moved on by one interval): it sleeps.
        _until(
            "the poller's reservation",
            lambda: (
                float(
                    dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["tat"][
                        "N"
                    ]
                )
                > spent + interval / 2
            ),
        )
        msk, card = demo.card_identifier()
        placed = demo.submit(
            sample_order("E2E-WHILE-POLLING"),
            {
                "type": "pi_card",
                "merchantSessionKey": msk,
                "cardIdentifier": card,
                "strongCustomerAuthentication": BROWSER_DATA,
            },
        )
        assert placed.status_code == 201, placed.text
        _until(
            "the saga's capture",
            lambda: (
                "payment_captured"
                in [h["event"] for h in demo.order("E2E-WHILE-POLLING").get("history", [])]
            ),
        )
        # Both answered while the poller was still waiting for its slot.
        assert polled == []
        assert thread.is_alive()
    finally:
        thread.join(timeout=SLOT_IN_SECONDS + 60)
    [invocation] = polled
    assert invocation.error_type is None, invocation.error_message
