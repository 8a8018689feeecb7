"""In-memory stand-ins for the saga's ports, and a moto orders table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opayo_fba.amazon.errors import SpApiRequestRejected, Throttled
from opayo_fba.model import Money, Order, PaymentTransaction
from opayo_fba.saga.steps import SagaDependencies
from opayo_fba.store.orders import OrderRecord, OrderStore
from opayo_fba.transform.fba_outbound import create_fulfillment_order_request


def make_order(order_id: str = "W-1001", sku: str = "SKU-RED", total: int = 2500) -> Order:
    return Order.model_validate(
        {
            "order_id": order_id,
            "channel": "web",
            "placed_at": "2026-11-28T10:15:00Z",
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
                    "sku": sku,
                    "quantity": 2,
                    "unit_price": {"amount": total // 2, "currency": "GBP"},
                }
            ],
            "totals": {"grand_total": {"amount": total, "currency": "GBP"}},
        }
    )


def authorised_payment(order_id: str, amount: int = 2500) -> PaymentTransaction:
    return PaymentTransaction.model_validate(
        {
            "provider": "pi",
            "vendor_tx_code": f"{order_id}-P1",
            "transaction_id": f"TX-{order_id}",
            "transaction_type": "Deferred",
            "status": "Ok",
            "state": "authorised",
            "amount": {"amount": amount, "currency": "GBP"},
            "order_id": order_id,
        }
    )


@dataclass
class FakeAmazon:
    """Keeps fulfillment orders; statuses are set by the test."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    creates: int = 0
    releases: list[str] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    reject_next: bool = False
    throttle_next: bool = False
    status_after_create: str = "Received"
    out_of_stock: bool = False
    previews: int = 0

    def fulfillment_preview(self, request: Mapping[str, Any]) -> list[Any]:
        from opayo_fba.amazon.results import FulfillmentPreview

        self.previews += 1
        return [
            FulfillmentPreview(speed, not self.out_of_stock)
            for speed in request["shippingSpeedCategories"]
        ]

    def create_fulfillment_order_on_hold(self, request: Mapping[str, Any]) -> str:
        if self.throttle_next:
            self.throttle_next = False
            raise Throttled("createFulfillmentOrder", 1.0)
        if self.reject_next:
            raise SpApiRequestRejected("createFulfillmentOrder", 400, "InvalidInput", "bad SKU")
        self.creates += 1
        sfo = str(request["sellerFulfillmentOrderId"])
        self.orders.setdefault(
            sfo,
            {
                "sellerFulfillmentOrderId": sfo,
                "displayableOrderId": sfo,
                "displayableOrderDate": "2026-11-28T10:15:00Z",
                "displayableOrderComment": "x",
                "shippingSpeedCategory": "Standard",
                "destinationAddress": {
                    "name": "Jane Doe",
                    "addressLine1": "88 Acacia Avenue",
                    "city": "London",
                    "postalCode": "SW1A 1AA",
                    "countryCode": "GB",
                },
                "fulfillmentOrderStatus": self.status_after_create,
                "fulfillmentAction": "Hold",
                "statusUpdatedDate": "2026-11-28T10:15:00Z",
                "receivedDate": "2026-11-28T10:15:00Z",
            },
        )
        return sfo

    def set_status(self, sfo: str, status: str) -> None:
        self.orders[sfo]["fulfillmentOrderStatus"] = status

    def release_fulfillment_order(self, seller_fulfillment_order_id: str) -> None:
        self.releases.append(seller_fulfillment_order_id)
        self.orders[seller_fulfillment_order_id]["fulfillmentAction"] = "Ship"

    def cancel_fulfillment_order(self, seller_fulfillment_order_id: str) -> None:
        self.cancels.append(seller_fulfillment_order_id)
        self.set_status(seller_fulfillment_order_id, "Cancelled")

    def get_fulfillment_order(self, seller_fulfillment_order_id: str) -> dict[str, Any]:
        return {"fulfillmentOrder": dict(self.orders[seller_fulfillment_order_id])}


@dataclass
class RefundResult:
    succeeded: bool
    status: str
    status_detail: str
    transaction_id: str


@dataclass
class FakeOpayo:
    releases: list[tuple[str, int]] = field(default_factory=list)
    aborts: list[str] = field(default_factory=list)
    refunds: list[tuple[str, int, str]] = field(default_factory=list)
    refuse_release: bool = False
    lose_next_refund_response: bool = False

    def release(self, transaction_id: str, amount: Money) -> object:
        from opayo_fba.opayo.errors import OpayoInstructionRefused

        if self.refuse_release:
            raise OpayoInstructionRefused("release", 400, "1018", "cannot release")
        self.releases.append((transaction_id, amount.amount))
        return object()

    def abort(self, transaction_id: str) -> object:
        self.aborts.append(transaction_id)
        return object()

    def refund(
        self, reference_transaction_id: str, amount: Money, *, refund_id: str, description: str
    ) -> RefundResult:
        from opayo_fba.errors import UpstreamError

        if refund_id not in [r[2] for r in self.refunds]:
            self.refunds.append((reference_transaction_id, amount.amount, refund_id))
        if self.lose_next_refund_response:
            self.lose_next_refund_response = False
            raise UpstreamError("response lost")
        return RefundResult(True, "Ok", "refunded", f"RF-{refund_id}")


@dataclass
class FakeEvents:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        self.published.append((detail_type, dict(detail)))


@dataclass
class World:
    store: OrderStore
    amazon: FakeAmazon
    opayo: FakeOpayo
    events: FakeEvents
    deps: SagaDependencies

    def add_order(self, order: Order, payment: PaymentTransaction | None) -> OrderRecord:
        return self.store.create(
            OrderRecord(order=order, payment=payment, vendor="sandbox", seller_account="uk-main")
        )


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        table = boto3.resource("dynamodb", "eu-west-2").create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "vendorTxCode", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-vendor-tx-code",
                    "KeySchema": [{"AttributeName": "vendorTxCode", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        store = OrderStore(table)
        amazon, opayo, events = FakeAmazon(), FakeOpayo(), FakeEvents()
        deps = SagaDependencies(
            store=store,
            fulfillment=lambda account: amazon,
            payments=lambda vendor: opayo,
            events=events,
            fulfillment_request=lambda order: create_fulfillment_order_request(order).body,
        )
        yield World(store, amazon, opayo, events, deps)
