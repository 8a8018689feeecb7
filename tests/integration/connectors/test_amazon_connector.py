"""The Amazon connector against the SP-API sandbox over HTTP (rate limits and faults on),
with the shared rate-limit buckets in a moto DynamoDB table."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto import mock_aws
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from opayo_fba.amazon.connector import SpApiConnector
from opayo_fba.amazon.errors import (
    SpApiAccessDenied,
    SpApiNotFound,
    SpApiRequestRejected,
    SpApiUnavailable,
    Throttled,
)
from opayo_fba.amazon.rate_limit import UsagePlan
from opayo_fba.amazon.retry import RetryPolicy
from opayo_fba.convert.fba_outbound import seller_fulfillment_order_id
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.order import Order
from opayo_fba.store.rate_limits import TokenBucketTable
from sandbox.amazon import AmazonSandboxOptions
from sandbox.common.server import ThreadedServer
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body
from tests.integration.connectors.amazon_support import (
    BUCKETS_TABLE,
    create_buckets_table,
    sandbox_connector,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield create_buckets_table()


@pytest.fixture
def amazon(amazon_sandbox: AmazonSandboxHandle, dynamodb: Any) -> Iterator[SpApiConnector]:
    connector = sandbox_connector(amazon_sandbox.url, amazon_sandbox.sandbox.options, dynamodb)
    connector.prepare()
    yield connector
    connector.close()


def calls_to(sandbox: AmazonSandboxHandle, operation: str) -> list[int]:
    return [r.status_code for r in sandbox.sandbox.recorded if r.operation_id == operation]


def test_orders_updated_since_a_watermark_with_their_items(
    amazon: SpApiConnector,
) -> None:
    update = amazon.orders_updated_since(AMAZON_SANDBOX_START - timedelta(days=7))
    assert len(update.orders) >= 2
    assert update.last_updated_before is not None
    assert update.last_updated_before.tzinfo is not None
    first = update.orders[0]["AmazonOrderId"]
    items = amazon.order_items(first)
    assert items
    assert items[0]["SellerSKU"]
    canonical = amazon.order(first)
    assert canonical.order_id == first
    assert [line.quantity for line in canonical.lines] == [i["QuantityOrdered"] for i in items]


def test_orders_are_polled_in_every_marketplace_named(amazon: SpApiConnector) -> None:
    since = AMAZON_SANDBOX_START - timedelta(days=7)
    own = {o["AmazonOrderId"] for o in amazon.orders_updated_since(since).orders}
    both = amazon.orders_updated_since(since, ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]).orders
    assert {o["AmazonOrderId"] for o in both} == own  # the sandbox's orders are all in the UK
    assert amazon.orders_updated_since(since, ["A1PA6795UKMFR9"]).orders == []
    with pytest.raises(InvalidInputError, match="at most 50 marketplaces"):
        amazon.orders_updated_since(since, ["A1F83G8C2ARO7P"] * 51)


def test_fulfillment_order_lifecycle_hold_release_get(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    preview = amazon.fulfillment_preview(
        {
            "address": mcf_order_body("x")["destinationAddress"],
            "items": [
                {"sellerSku": "OPF-MUG-BLUE", "sellerFulfillmentOrderItemId": "1", "quantity": 1}
            ],
        }
    )
    assert any(p.is_fulfillable for p in preview)
    order_id = amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-1001"))
    assert order_id == "OPF-1001"
    held = amazon.get_fulfillment_order(order_id)["fulfillmentOrder"]
    assert held["fulfillmentAction"] == "Hold"
    # Creating again (a retried saga step) is idempotent.
    assert amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-1001")) == "OPF-1001"
    amazon.release_fulfillment_order(order_id)
    assert amazon.get_fulfillment_order(order_id)["fulfillmentOrder"]["fulfillmentAction"] == "Ship"
    canonical = amazon.fulfillment_order(order_id, order_id="1001")
    assert canonical.seller_fulfillment_order_id == "OPF-1001"
    assert canonical.action == "Ship"


def test_cancel_and_typed_errors_that_are_not_retried(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-2001"))
    amazon.cancel_fulfillment_order("OPF-2001")
    status = amazon.get_fulfillment_order("OPF-2001")["fulfillmentOrder"]["fulfillmentOrderStatus"]
    assert status == "Cancelled"

    with pytest.raises(SpApiNotFound) as missing:
        amazon.get_fulfillment_order("NO-SUCH-ORDER")
    assert missing.value.code == "NotFound"
    assert calls_to(amazon_sandbox, "getFulfillmentOrder").count(404) == 1

    with pytest.raises(SpApiRequestRejected) as rejected:
        amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-2002", sku="NO-SUCH-SKU"))
    assert rejected.value.code == "InvalidInput"
    assert rejected.value.message
    assert calls_to(amazon_sandbox, "createFulfillmentOrder").count(400) == 1


def test_reports_created_polled_and_downloaded_streamed(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    report_id = amazon.create_report("GET_AFN_INVENTORY_DATA")
    assert not amazon.get_report(report_id).done
    amazon_sandbox.advance(3600)
    report = amazon.get_report(report_id)
    assert report.done
    assert report.document_id
    sink = io.BytesIO()
    written = amazon.download_report_document(report.document_id, sink)
    assert written.charset == "Cp1252"
    text = sink.getvalue().decode("cp1252")
    assert written.size == len(sink.getvalue())
    assert "OPF-MUG-BLUE" in text
    with amazon.stream_report_document(report.document_id) as chunks:
        assert b"".join(chunks).decode("cp1252") == text


def test_settlement_reports_are_listed_not_requested(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    amazon_sandbox.close_settlement()
    reports = amazon.list_settlement_reports(AMAZON_SANDBOX_START - timedelta(days=30))
    assert reports
    assert {r.report_type for r in reports} == {"GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"}
    with pytest.raises(SpApiRequestRejected, match="list_settlement_reports"):
        amazon.create_report("GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2")


def test_server_errors_and_dropped_connections_are_retried(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    amazon_sandbox.set_faults(
        {
            "rules": [
                {"operation": "getFulfillmentOrder", "kind": "server_error", "times": 1},
                {"operation": "getFulfillmentOrder", "kind": "drop", "times": 1},
                {"operation": "getFulfillmentOrder", "kind": "unavailable", "times": 1},
            ]
        }
    )
    amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-3001"))
    assert amazon.get_fulfillment_order("OPF-3001")["fulfillmentOrder"]
    fired = amazon_sandbox.control.get("/_sandbox/faults").json()["fired"]
    assert [f["kind"] for f in fired] == ["server_error", "drop", "unavailable"]


def test_a_429_storm_ends_with_every_call_done_and_none_lost(
    amazon_sandbox: AmazonSandboxHandle, dynamodb: Any
) -> None:
    amazon_sandbox.set_faults(
        {
            "seed": 7,
            "rules": [
                {"operation": "createFulfillmentOrder", "kind": "throttle", "probability": 0.5}
            ],
        }
    )
    connector = sandbox_connector(
        amazon_sandbox.url,
        amazon_sandbox.sandbox.options,
        dynamodb,
        retry=RetryPolicy(attempts=30, total_seconds=60, base_wait=0.005, max_wait=0.05),
        # Each 429 empties our bucket (Amazon's is empty), so later attempts are paced at
        # the plan's rate; a fast plan keeps this test quick. Pacing is tested elsewhere.
        plans={"createFulfillmentOrder": UsagePlan(rate=100.0, burst=30)},
    )
    order_ids = [f"STORM-{n:03d}" for n in range(12)]
    done: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker(ids: list[str]) -> None:
        for order_id in ids:
            try:
                created = connector.create_fulfillment_order_on_hold(mcf_order_body(order_id))
            except BaseException as error:  # collected and asserted below
                with lock:
                    failures.append(error)
                continue
            with lock:
                done.append(created)

    threads = [threading.Thread(target=worker, args=(order_ids[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    connector.close()
    assert failures == []
    assert sorted(done) == order_ids
    throttled = calls_to(amazon_sandbox, "createFulfillmentOrder").count(429)
    assert throttled >= 6  # it was a storm
    stored = set(amazon_sandbox.sandbox.store.keys("fulfillment_order"))
    assert set(order_ids) <= stored  # none lost


def test_an_empty_budget_fails_fast_with_throttled(
    amazon_sandbox: AmazonSandboxHandle, dynamodb: Any
) -> None:
    connector = sandbox_connector(
        amazon_sandbox.url, amazon_sandbox.sandbox.options, dynamodb, time_budget=lambda: 0.0
    )
    connector.orders_updated_since(AMAZON_SANDBOX_START - timedelta(days=1))
    # getOrders: burst 20 (19 usable: one token is kept as a cushion), then one per minute.
    # Spend it, then ask with no time left to wait.
    for _ in range(18):
        connector.orders_updated_since(AMAZON_SANDBOX_START - timedelta(days=1))
    with pytest.raises(Throttled) as caught:
        connector.orders_updated_since(AMAZON_SANDBOX_START - timedelta(days=1))
    assert caught.value.operation == "getOrders"
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 60
    assert calls_to(amazon_sandbox, "getOrders").count(429) == 0  # refused before sending
    connector.close()


def test_the_limiter_adopts_the_rate_amazon_announces(
    amazon_sandbox: AmazonSandboxHandle, dynamodb: Any
) -> None:
    amazon_sandbox.set_rate_limits(
        {"enabled": True, "overrides": {"getFulfillmentOrder": {"rate": 0.5, "burst": 30}}}
    )
    connector = sandbox_connector(amazon_sandbox.url, amazon_sandbox.sandbox.options, dynamodb)
    connector.create_fulfillment_order_on_hold(mcf_order_body("OPF-4001"))
    connector.get_fulfillment_order("OPF-4001")
    connector.close()
    seller = amazon_sandbox.sandbox.options.credentials.seller_id
    state = TokenBucketTable(BUCKETS_TABLE, client=dynamodb).read(f"{seller}#getFulfillmentOrder")
    assert state is not None
    assert state.learned_rate == 0.5
    # The plan (2/s) is kept where Amazon's header agrees with it.
    unchanged = TokenBucketTable(BUCKETS_TABLE, client=dynamodb).read(
        f"{seller}#createFulfillmentOrder"
    )
    assert unchanged is not None
    assert unchanged.learned_rate == 2.0


def test_wrong_lwa_credentials_are_access_denied_not_retried(
    amazon_sandbox: AmazonSandboxHandle, dynamodb: Any
) -> None:
    options = amazon_sandbox.sandbox.options.model_copy(
        update={
            "credentials": amazon_sandbox.sandbox.options.credentials.model_copy(
                update={"client_secret": "wrong", "refresh_token": "Atzr|other-token"}
            )
        }
    )
    connector = sandbox_connector(amazon_sandbox.url, options, dynamodb)
    with pytest.raises(SpApiAccessDenied, match="invalid_client"):
        connector.get_fulfillment_order("ANY")
    connector.close()


def test_a_proxy_error_page_is_retried_then_reported_as_unavailable(dynamodb: Any) -> None:
    """A 502 with an HTML body (no SP-API error list) is neither swallowed nor fatal."""
    calls: list[str] = []

    async def token(request: Request) -> Response:
        return JSONResponse({"access_token": "Atza|x", "token_type": "bearer", "expires_in": 3600})

    async def bad_gateway(request: Request) -> Response:
        calls.append(request.url.path)
        return HTMLResponse("<html><body>502 Bad Gateway</body></html>", status_code=502)

    app = Starlette(
        routes=[
            Route("/auth/o2/token", token, methods=["POST"]),
            Route("/fba/outbound/2020-07-01/fulfillmentOrders/{id}", bad_gateway),
        ]
    )
    with ThreadedServer(app) as server:
        connector = sandbox_connector(
            server.url,
            AmazonSandboxOptions(),
            dynamodb,
            retry=RetryPolicy(attempts=3, total_seconds=10, base_wait=0.01, max_wait=0.02),
        )
        with pytest.raises(SpApiUnavailable) as caught:
            connector.get_fulfillment_order("OPF-1")
        connector.close()
    assert caught.value.status == 502
    assert len(calls) == 3


def test_a_canonical_order_becomes_one_hold_fulfillment_order(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    order = Order.model_validate(
        {
            "order_id": "W/2026/0042",  # not a valid sellerFulfillmentOrderId as it is
            "channel": "web",
            "placed_at": "2026-03-02T08:15:00Z",
            "currency": "GBP",
            "shipping_address": {
                "name": "Jane Doe",
                "line1": "88 Acacia Avenue",
                "city": "London",
                "postal_code": "SW1A 1AA",
                "country_code": "GB",
            },
            "lines": [
                {
                    "sku": "OPF-TEE-M",
                    "quantity": 2,
                    "unit_price": {"amount": 1999, "currency": "GBP"},
                }
            ],
            "totals": {"grand_total": {"amount": 3998, "currency": "GBP"}},
        }
    )
    first = amazon.create_fulfillment_order_for(order)
    again = amazon.create_fulfillment_order_for(order)
    assert first == again == seller_fulfillment_order_id("W/2026/0042")
    held = amazon.fulfillment_order(first, order_id=order.order_id)
    assert held.action == "Hold"
    assert calls_to(amazon_sandbox, "createFulfillmentOrder").count(400) == 0


def test_a_token_expired_on_the_sandbox_clock_is_exchanged_for_a_fresh_one(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-5001"))
    amazon_sandbox.advance(2 * 3600, keep_tokens=True)  # the cached token is now expired
    assert amazon.get_fulfillment_order("OPF-5001")["fulfillmentOrder"]
    assert calls_to(amazon_sandbox, "getFulfillmentOrder") == [403, 200]
