"""The connector's tracking and returns calls against the Amazon sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from opayo_fba.amazon.connector import SpApiConnector
from opayo_fba.amazon.errors import SpApiNotFound, SpApiRequestRejected
from opayo_fba.amazon.rate_limit import USAGE_PLANS, UsagePlan
from opayo_fba.convert.fba_outbound import fulfillment_return_from_fba
from opayo_fba.model import PackageTrackingStatus, ReturnReceivedCondition
from sandbox.amazon import AmazonSandboxOptions
from sandbox.amazon.after_sale import DELIVERED_AFTER, RETURN_RECEIVED_AFTER
from sandbox.amazon.fulfillment import COMPLETE_AFTER
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body
from tests.integration.connectors.amazon_support import create_buckets_table, sandbox_connector

pytestmark = pytest.mark.integration


@pytest.fixture
def amazon_sandbox_options() -> AmazonSandboxOptions:
    # A short hang for "lost_response", so a lost answer is noticed quickly.
    return AmazonSandboxOptions(
        clock_factor=0, clock_start=AMAZON_SANDBOX_START, lost_response_hang_seconds=1
    )


@pytest.fixture
def amazon(amazon_sandbox: AmazonSandboxHandle) -> Iterator[SpApiConnector]:
    with mock_aws():
        connector = sandbox_connector(
            amazon_sandbox.url, amazon_sandbox.sandbox.options, create_buckets_table()
        )
        yield connector
        connector.close()


def _shipped(amazon: SpApiConnector, sandbox: AmazonSandboxHandle, order_id: str) -> dict[str, Any]:
    amazon.create_fulfillment_order_on_hold(mcf_order_body(order_id, quantity=2))
    amazon.release_fulfillment_order(order_id)
    sandbox.advance(COMPLETE_AFTER)
    return amazon.get_fulfillment_order(order_id)


def _calls(sandbox: AmazonSandboxHandle, operation: str) -> list[int]:
    return [r.status_code for r in sandbox.sandbox.recorded if r.operation_id == operation]


def test_the_after_sale_operations_share_the_published_usage_plan() -> None:
    for operation in (
        "getPackageTrackingDetails",
        "listReturnReasonCodes",
        "createFulfillmentReturn",
    ):
        assert USAGE_PLANS[operation] == UsagePlan(2.0, 30)


def test_a_package_is_tracked_to_delivery(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    order = amazon.fulfillment_order(
        _shipped(amazon, amazon_sandbox, "AS-TRK-1")["fulfillmentOrder"]["sellerFulfillmentOrderId"]
    )
    (package,) = order.shipments[0].packages
    in_transit = amazon.tracked_package(package.package_number)
    assert in_transit.current_status is PackageTrackingStatus.IN_TRANSIT
    assert not in_transit.is_final
    assert in_transit.tracking_number == package.tracking_number
    amazon_sandbox.advance(DELIVERED_AFTER)
    delivered = amazon.tracked_package(package.package_number)
    assert delivered.current_status is PackageTrackingStatus.DELIVERED
    assert delivered.is_final
    assert delivered.events[-1].code == "EVENT_301"
    raw = amazon.package_tracking(package.package_number)
    assert raw["currentStatus"] == "DELIVERED"
    with pytest.raises(SpApiNotFound):
        amazon.package_tracking(987654)
    assert _calls(amazon_sandbox, "getPackageTrackingDetails").count(404) == 1  # not retried


def test_return_reason_codes(amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle) -> None:
    _shipped(amazon, amazon_sandbox, "AS-RC-1")
    codes = amazon.return_reason_codes("OPF-MUG-BLUE", "AS-RC-1")
    assert "CR-DEFECTIVE" in {c.code for c in codes}
    assert all(c.description for c in codes)
    with pytest.raises(SpApiRequestRejected):
        amazon.return_reason_codes("NO-SUCH-SKU")


def _unit(order: dict[str, Any], return_id: str, comment: str = "") -> dict[str, Any]:
    shipment = order["fulfillmentShipments"][0]
    item = {
        "sellerReturnItemId": return_id,
        "sellerFulfillmentOrderItemId": shipment["fulfillmentShipmentItem"][0][
            "sellerFulfillmentOrderItemId"
        ],
        "amazonShipmentId": shipment["amazonShipmentId"],
        "returnReasonCode": "CR-DEFECTIVE",
    }
    if comment:
        item["returnComment"] = comment
    return item


def test_a_return_repeated_gives_the_same_authorization_and_one_return(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    order = _shipped(amazon, amazon_sandbox, "AS-RET-1")
    items = [_unit(order, "AS-RET-1-u1"), _unit(order, "AS-RET-1-u2", comment="Defective")]
    first = amazon.create_fulfillment_return("AS-RET-1", items)
    again = amazon.create_fulfillment_return("AS-RET-1", items)
    assert again == first
    result = fulfillment_return_from_fba(first)
    assert [i.seller_return_item_id for i in result.return_items] == ["AS-RET-1-u1", "AS-RET-1-u2"]
    assert len(result.return_authorizations) == 1
    assert result.invalid_return_items == ()
    amazon_sandbox.advance(RETURN_RECEIVED_AFTER)
    received = amazon.fulfillment_order("AS-RET-1")
    assert [i.return_received_condition for i in received.return_items] == [
        ReturnReceivedCondition.SELLABLE,
        ReturnReceivedCondition.DEFECTIVE,
    ]
    assert received.return_authorizations == result.return_authorizations


def test_a_unit_beyond_what_shipped_stays_invalid(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    order = _shipped(amazon, amazon_sandbox, "AS-RET-2")
    units = [_unit(order, f"AS-RET-2-u{n}") for n in range(3)]  # two shipped
    answer = fulfillment_return_from_fba(amazon.create_fulfillment_return("AS-RET-2", units))
    assert [i.seller_return_item_id for i in answer.return_items] == ["AS-RET-2-u0", "AS-RET-2-u1"]
    assert [(i.seller_return_item_id, i.reason_code) for i in answer.invalid_return_items] == [
        ("AS-RET-2-u2", "NoReturnableQuantity")
    ]


def test_a_lost_answer_is_retried_and_resolved_from_amazons_records(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle
) -> None:
    order = _shipped(amazon, amazon_sandbox, "AS-RET-3")
    amazon_sandbox.set_faults(
        {"rules": [{"operation": "createFulfillmentReturn", "kind": "lost_response", "times": 1}]}
    )
    answer = amazon.create_fulfillment_return("AS-RET-3", [_unit(order, "AS-RET-3-u1")])
    fired = amazon_sandbox.control.get("/_sandbox/faults").json()["fired"]
    assert fired == [{"operation": "createFulfillmentReturn", "kind": "lost_response"}]
    # The retry was refused as DuplicateRequest; the connector read the order instead.
    assert _calls(amazon_sandbox, "createFulfillmentReturn") == [200, 200]
    assert [i["sellerReturnItemId"] for i in answer["returnItems"]] == ["AS-RET-3-u1"]
    assert answer["invalidReturnItems"] == []
    assert len(answer["returnAuthorizations"]) == 1
    stored = amazon.get_fulfillment_order("AS-RET-3")
    assert len(stored["returnItems"]) == 1
    assert stored["returnAuthorizations"] == answer["returnAuthorizations"]
