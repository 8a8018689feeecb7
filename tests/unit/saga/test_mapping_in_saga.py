"""The merchant's templates drive the saga's validate-and-map step (all three uses)."""

from __future__ import annotations

import json
from pathlib import Path

from opayo_fba.amazon.spapi_models import validate_request_body
from opayo_fba.model import Order
from opayo_fba.saga import steps
from opayo_fba.settings import Settings
from opayo_fba.wiring import Wiring
from tests.fixtures.saga_world import World, authorised_payment

SHOP = Path(__file__).resolve().parents[3] / "events" / "shop"


def _shopify_order() -> tuple[dict[str, object], Order]:
    source = json.loads((SHOP / "shopify-order.json").read_text())
    order = Order.model_validate(
        {
            "order_id": "SHOP-1042",
            "channel": "web",
            "placed_at": "2026-11-28T10:00:00Z",
            "currency": "GBP",
            "shipping_address": {
                "name": "Hannah Smith",
                "line1": "88 Acacia Avenue",
                "city": "London",
                "postal_code": "SW1A 1AA",
                "country_code": "GB",
            },
            "lines": [
                {"sku": item["sku"], "quantity": item["quantity"], "unit_price": None}
                for item in source["line_items"]  # type: ignore[union-attr]
            ],
            "totals": {"grand_total": {"amount": 5996, "currency": "GBP"}},
        }
    )
    return source, order


def test_templates_shape_the_fulfillment_order_lines_and_payment(world: World) -> None:
    wiring = Wiring(
        Settings(
            MAPPING_TEMPLATES="starter:shopify",
            PRODUCT_MASTER_CSV=str(SHOP / "product-master.csv"),
        )
    )
    world.deps.map_order = wiring.map_order
    source, order = _shopify_order()
    world.store.create(
        steps.OrderRecord(
            order=order,
            source=source,
            payment=authorised_payment("SHOP-1042", 5996),
            vendor="sandbox",
            seller_account="uk-main",
        )
    )
    steps.validate_and_map({"orderId": "SHOP-1042"}, world.deps)
    record = world.store.get("SHOP-1042")
    request = record.fulfillment_request
    assert request is not None
    validate_request_body("createFulfillmentOrder", request)
    # 1. shop fields -> Amazon fulfillment order attributes
    assert request["displayableOrderId"] == "1042"
    assert request["displayableOrderComment"].startswith("Happy birthday Tom!")
    assert request["shippingSpeedCategory"] == "Expedited"
    assert request["sellerFulfillmentOrderId"] == "SHOP-1042"  # the saga's own, untouched
    # 3. product master -> order line attributes
    assert record.order.lines[0].attributes["hsCode"] == "6110111000"
    assert record.order.lines[1].attributes["ledgerCategory"] == "4020-Accessories"
    # 2. campaign metadata -> kept on the payment
    assert record.payment is not None
    assert record.payment.metadata.get("campaignId") == "BF2026 Knitwear"
