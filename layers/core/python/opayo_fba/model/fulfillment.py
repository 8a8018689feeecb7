"""Amazon FBA Multi-Channel fulfillment orders, their shipments and tracking."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, NonNegativeInt, StringConstraints

from opayo_fba.model.address import Address, CleanText
from opayo_fba.model.common import OrderId, Sku, UtcDatetime
from opayo_fba.model.order import ShippingSpeed
from opayo_fba.model.status import FbaFulfillmentOrderStatus, FbaShipmentStatus

SellerFulfillmentOrderId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^\S(.*\S)?$"),
]
"""At most 40 characters (FBA outbound model); ours are made by
`opayo_fba.transform.fba_outbound.seller_fulfillment_order_id`."""

FulfillmentAction = Literal["Ship", "Hold"]
AmazonId = Annotated[str, StringConstraints(max_length=100)]
"""Amazon's own identifiers and codes (shipment, fulfillment center, carrier): at most 100."""


class ShipmentPackage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    package_number: int
    carrier_code: AmazonId
    tracking_number: CleanText = None
    amazon_fulfillment_tracking_number: CleanText = None
    estimated_arrival_at: UtcDatetime | None = None


class ShipmentItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seller_sku: Sku
    seller_fulfillment_order_item_id: Annotated[str, StringConstraints(max_length=50)]
    quantity: NonNegativeInt
    package_number: int | None = None


class FulfillmentShipment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amazon_shipment_id: AmazonId
    fulfillment_center_id: AmazonId
    status: FbaShipmentStatus
    shipped_at: UtcDatetime | None = None
    """When SHIPPED: when it left; when PENDING: Amazon's estimate."""
    estimated_arrival_at: UtcDatetime | None = None
    items: tuple[ShipmentItem, ...] = ()
    packages: tuple[ShipmentPackage, ...] = ()


class FulfillmentOrder(BaseModel):
    """A fulfillment order at Amazon, as last read or as we created it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seller_fulfillment_order_id: SellerFulfillmentOrderId
    order_id: OrderId | None = None
    """Our order id; None for a fulfillment order created outside this system."""
    marketplace_id: AmazonId | None = None
    status: FbaFulfillmentOrderStatus
    action: FulfillmentAction | None = None
    shipping_speed: ShippingSpeed
    destination: Address | None = None
    received_at: UtcDatetime | None = None
    status_updated_at: UtcDatetime | None = None
    shipments: tuple[FulfillmentShipment, ...] = ()

    def tracking_numbers(self) -> list[str]:
        """Every carrier tracking number, in shipment and package order."""
        return [
            package.tracking_number
            for shipment in self.shipments
            for package in shipment.packages
            if package.tracking_number
        ]
