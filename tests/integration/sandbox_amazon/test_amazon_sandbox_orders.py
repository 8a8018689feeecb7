"""Orders v0 through python-amazon-sp-api: filters, pagination, items, client quirks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sp_api.api import FulfillmentOutbound, Orders
from sp_api.base.exceptions import SellingApiBadRequestException, SellingApiNotFoundException

from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration

WEEK_AGO = (AMAZON_SANDBOX_START - timedelta(days=7)).isoformat()


@pytest.fixture
def orders(amazon_sandbox: AmazonSandboxHandle) -> Orders:
    return amazon_sandbox.sp_api_client(Orders)


def test_seeded_orders_filter_by_status_and_channel(orders: Orders) -> None:
    everything = orders.get_orders(CreatedAfter=WEEK_AGO).payload["Orders"]
    assert {(o["FulfillmentChannel"], o["OrderStatus"]) for o in everything} == {
        ("AFN", "Shipped"),
        ("MFN", "Unshipped"),
    }
    assert all(o["SalesChannel"] == "Amazon.co.uk" for o in everything)
    shipped = orders.get_orders(CreatedAfter=WEEK_AGO, OrderStatuses=["Shipped"]).payload
    assert [o["OrderStatus"] for o in shipped["Orders"]] == ["Shipped"]
    mfn = orders.get_orders(CreatedAfter=WEEK_AGO, FulfillmentChannels=["MFN"]).payload
    assert [o["FulfillmentChannel"] for o in mfn["Orders"]] == ["MFN"]
    later = orders.get_orders(CreatedAfter=AMAZON_SANDBOX_START.isoformat()).payload
    assert later["Orders"] == []


def test_pagination_with_next_token(amazon_sandbox: AmazonSandboxHandle, orders: Orders) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    for n in range(5):
        fba.create_fulfillment_order(**mcf_order_body(f"PAGE-{n}"))
    seen: list[str] = []
    page = orders.get_orders(CreatedAfter=WEEK_AGO, MaxResultsPerPage=3)
    pages = 1
    seen += [o["AmazonOrderId"] for o in page.payload["Orders"]]
    while page.next_token:
        page = orders.get_orders(NextToken=page.next_token)
        seen += [o["AmazonOrderId"] for o in page.payload["Orders"]]
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7


def test_last_updated_after_sees_changed_orders(
    amazon_sandbox: AmazonSandboxHandle, orders: Orders
) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    fba.create_fulfillment_order(**mcf_order_body("UPD-1"))
    amazon_sandbox.advance(3600)
    changed = orders.get_orders(LastUpdatedAfter="2026-03-02T09:05:00Z").payload["Orders"]
    assert [o["SellerOrderId"] for o in changed] == ["UPD-1"]
    assert changed[0]["OrderStatus"] == "Shipped"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "CreatedAfter"),
        ({"CreatedAfter": WEEK_AGO, "LastUpdatedAfter": WEEK_AGO}, "CreatedAfter"),
        ({"CreatedAfter": "last tuesday"}, "CreatedAfter"),
        ({"CreatedAfter": WEEK_AGO, "OrderStatuses": ["Lost"]}, "OrderStatuses"),
        ({"CreatedAfter": WEEK_AGO, "FulfillmentChannels": ["XYZ"]}, "FulfillmentChannels"),
        ({"CreatedAfter": WEEK_AGO, "MaxResultsPerPage": 500}, "MaxResultsPerPage"),
        ({"NextToken": "not-a-token"}, "NextToken"),
    ],
)
def test_bad_get_orders_parameters_are_400_naming_the_parameter(
    orders: Orders, params: dict[str, object], field: str
) -> None:
    with pytest.raises(SellingApiBadRequestException) as raised:
        orders.get_orders(**params)
    assert field in raised.value.message


def test_order_and_items(orders: Orders) -> None:
    order = orders.get_orders(CreatedAfter=WEEK_AGO, OrderStatuses=["Shipped"]).payload["Orders"][0]
    again = orders.get_order(order["AmazonOrderId"]).payload
    assert again["AmazonOrderId"] == order["AmazonOrderId"]
    items = orders.get_order_items(order["AmazonOrderId"]).payload
    assert items["AmazonOrderId"] == order["AmazonOrderId"]
    (item,) = items["OrderItems"]
    assert item["QuantityShipped"] == item["QuantityOrdered"] == 1
    assert item["ItemPrice"]["CurrencyCode"] == "GBP"
    with pytest.raises(SellingApiNotFoundException):
        orders.get_order("999-0000000-0000000")


def test_wrong_host_header_and_extra_marketplace_parameters_are_tolerated(
    amazon_sandbox: AmazonSandboxHandle, orders: Orders
) -> None:
    token = orders.auth.access_token
    response = amazon_sandbox.control.get(
        "/orders/v0/orders",
        params={
            "CreatedAfter": WEEK_AGO,
            "MarketplaceIds": "A1F83G8C2ARO7P",
            "MarketplaceId": "A1F83G8C2ARO7P",
            "marketplaceIds": "A1F83G8C2ARO7P",
            "marketplace_ids": "A1F83G8C2ARO7P",
        },
        headers={"x-amz-access-token": token, "host": "ellingpartnerapi-eu.amazon.com"},
    )
    assert response.status_code == 200
    assert len(response.json()["payload"]["Orders"]) == 2
