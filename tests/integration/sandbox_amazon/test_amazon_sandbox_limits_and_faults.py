"""Usage-plan rate limits (429 QuotaExceeded) and seeded fault injection, via sp_api."""

from __future__ import annotations

import httpx
import pytest
from sp_api.api import FulfillmentOutbound, Orders
from sp_api.base.exceptions import (
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)

from sandbox.amazon import AmazonSandboxOptions
from sandbox.common.faults import FaultConfig, FaultKind, FaultRule
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration

SINCE = "2026-02-20T00:00:00Z"


def test_every_response_carries_the_usage_plan_rate(amazon_sandbox: AmazonSandboxHandle) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    assert orders.get_orders(CreatedAfter=SINCE).rate_limit == "0.0167"
    order_id = orders.get_orders(CreatedAfter=SINCE).payload["Orders"][0]["AmazonOrderId"]
    assert orders.get_order(order_id).rate_limit == "0.5"
    missing = amazon_sandbox.control.get("/orders/v0/orders/nope")
    assert missing.headers["x-amzn-RateLimit-Limit"] == "0.5"  # even on a 403


def test_burst_then_429_quota_exceeded_then_refill_on_the_sandbox_clock(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    for _ in range(20):  # getOrders: burst 20
        orders.get_orders(CreatedAfter=SINCE)
    with pytest.raises(SellingApiRequestThrottledException) as raised:
        orders.get_orders(CreatedAfter=SINCE)
    assert raised.value.error[0]["code"] == "QuotaExceeded"
    amazon_sandbox.advance(30)  # 0.0167/s: not yet one token
    with pytest.raises(SellingApiRequestThrottledException):
        orders.get_orders(CreatedAfter=SINCE)
    amazon_sandbox.advance(60)
    assert orders.get_orders(CreatedAfter=SINCE).payload["Orders"]


def test_rate_limits_can_be_overridden_or_turned_off(amazon_sandbox: AmazonSandboxHandle) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    amazon_sandbox.set_rate_limits({"overrides": {"getFulfillmentOrder": {"rate": 1, "burst": 1}}})
    fba.create_fulfillment_order(**mcf_order_body("RL-1"))
    response = fba.get_fulfillment_order("RL-1")
    assert response.rate_limit == "1"
    with pytest.raises(SellingApiRequestThrottledException):
        fba.get_fulfillment_order("RL-1")
    amazon_sandbox.set_rate_limits({"enabled": False})
    for _ in range(40):
        fba.get_fulfillment_order("RL-1")


def test_injected_server_errors_change_nothing(amazon_sandbox: AmazonSandboxHandle) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    amazon_sandbox.set_faults(
        {
            "rules": [
                {"operation": "createFulfillmentOrder", "kind": "server_error", "times": 1},
                {"operation": "createFulfillmentOrder", "kind": "unavailable", "times": 1},
                {"operation": "createFulfillmentOrder", "kind": "throttle", "times": 1},
            ]
        }
    )
    body = mcf_order_body("FAULT-1")
    with pytest.raises(SellingApiServerException):
        fba.create_fulfillment_order(**body)
    with pytest.raises(SellingApiTemporarilyUnavailableException):
        fba.create_fulfillment_order(**body)
    with pytest.raises(SellingApiRequestThrottledException):
        fba.create_fulfillment_order(**body)
    assert fba.list_all_fulfillment_orders().payload["fulfillmentOrders"] == []
    fba.create_fulfillment_order(**body)
    assert len(fba.list_all_fulfillment_orders().payload["fulfillmentOrders"]) == 1


def test_dropped_connection_changes_nothing(amazon_sandbox: AmazonSandboxHandle) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    amazon_sandbox.set_faults(
        {"rules": [{"operation": "createFulfillmentOrder", "kind": "drop", "times": 1}]}
    )
    with pytest.raises(httpx.TransportError):
        fba.create_fulfillment_order(**mcf_order_body("DROP-1"))
    assert fba.list_all_fulfillment_orders().payload["fulfillmentOrders"] == []


@pytest.fixture
def amazon_sandbox_options() -> AmazonSandboxOptions:
    # A short hang for "lost_response", so the client's timeout fires quickly.
    return AmazonSandboxOptions(
        clock_factor=0, clock_start=AMAZON_SANDBOX_START, lost_response_hang_seconds=2
    )


def test_lost_response_commits_and_a_retry_is_idempotent(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound, timeout=0.5)
    amazon_sandbox.set_faults(
        {"rules": [{"operation": "createFulfillmentOrder", "kind": "lost_response", "times": 1}]}
    )
    body = mcf_order_body("LOST-1")
    with pytest.raises(httpx.TimeoutException):
        fba.create_fulfillment_order(**body)
    payload = fba.get_fulfillment_order("LOST-1").payload  # it was committed
    assert payload["fulfillmentOrder"]["fulfillmentOrderStatus"] == "Received"
    fba.create_fulfillment_order(**body)  # the retry succeeds without a second order
    assert len(fba.list_all_fulfillment_orders().payload["fulfillmentOrders"]) == 1


def test_faults_are_deterministic_for_a_seed(amazon_sandbox: AmazonSandboxHandle) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    amazon_sandbox.set_rate_limits({"enabled": False})

    def run() -> list[bool]:
        amazon_sandbox.set_faults(
            FaultConfig(
                seed=42,
                rules=[
                    FaultRule(operation="getOrders", kind=FaultKind.UNAVAILABLE, probability=0.4)
                ],
            ).model_dump(mode="json")
        )
        outcome = []
        for _ in range(15):
            try:
                orders.get_orders(CreatedAfter=SINCE)
                outcome.append(True)
            except SellingApiTemporarilyUnavailableException:
                outcome.append(False)
        return outcome

    first, second = run(), run()
    assert first == second
    assert 0 < first.count(False) < 15
    fired = amazon_sandbox.control.get("/_sandbox/faults").json()["fired"]
    assert {f["operation"] for f in fired} == {"getOrders"}


def test_rate_scale_speeds_up_refill(amazon_sandbox: AmazonSandboxHandle) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    amazon_sandbox.set_rate_limits(
        {"scale": 100, "overrides": {"getOrders": {"rate": 0.01, "burst": 1}}}
    )
    assert orders.get_orders(CreatedAfter=SINCE).rate_limit == "1"
    with pytest.raises(SellingApiRequestThrottledException):
        orders.get_orders(CreatedAfter=SINCE)
    amazon_sandbox.advance(1)  # 0.01/s x 100 = one token per second
    orders.get_orders(CreatedAfter=SINCE)


def test_delay_fault_answers_late_but_answers(amazon_sandbox: AmazonSandboxHandle) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    amazon_sandbox.set_faults(
        {"rules": [{"operation": "*", "kind": "delay", "delay_seconds": 0.2, "times": 2}]}
    )
    fba.create_fulfillment_order(**mcf_order_body("SLOW-1"))
    # "*" covers the LWA token endpoint too: the client's first call fetches a token.
    assert _fired(amazon_sandbox) == [
        {"operation": "lwaToken", "kind": "delay"},
        {"operation": "createFulfillmentOrder", "kind": "delay"},
    ]
    assert fba.get_fulfillment_order("SLOW-1").payload["fulfillmentOrder"]


def _fired(sandbox: AmazonSandboxHandle) -> list[dict[str, str]]:
    fired: list[dict[str, str]] = sandbox.control.get("/_sandbox/faults").json()["fired"]
    return fired
