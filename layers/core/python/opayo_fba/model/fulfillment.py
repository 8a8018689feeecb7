"""Amazon FBA Multi-Channel fulfillment orders: items, shipments, packages and returns."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, NonNegativeInt, StringConstraints

from opayo_fba.model.address import Address, CleanText
from opayo_fba.model.common import OrderId, Sku, UtcDatetime
from opayo_fba.model.order import ShippingSpeed
from opayo_fba.model.status import (
    FbaFulfillmentOrderStatus,
    FbaReturnItemStatus,
    FbaShipmentStatus,
    ReturnReceivedCondition,
)

SellerFulfillmentOrderId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^\S(.*\S)?$"),
]
"""At most 40 characters (FBA outbound model); ours are made by
`opayo_fba.convert.fba_outbound.seller_fulfillment_order_id`."""

FulfillmentAction = Literal["Ship", "Hold"]
AmazonId = Annotated[str, StringConstraints(max_length=100)]
"""Amazon's own identifiers and codes (shipment, fulfillment center, carrier): at most 100."""
FulfillmentOrderItemId = Annotated[str, StringConstraints(max_length=50)]
"""sellerFulfillmentOrderItemId: at most 50 (FBA outbound model)."""
SellerReturnItemId = Annotated[str, StringConstraints(min_length=1, max_length=80)]
"""sellerReturnItemId: at most 80 (FBA outbound model, CreateReturnItem)."""


class FulfillmentOrderItem(BaseModel):
    """One line of the fulfillment order (getFulfillmentOrder `fulfillmentOrderItems`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    seller_fulfillment_order_item_id: FulfillmentOrderItemId
    seller_sku: Sku
    quantity: NonNegativeInt
    cancelled_quantity: NonNegativeInt = 0
    """Units cancelled (by the seller, or the rest of a FillAllAvailable order)."""
    unfulfillable_quantity: NonNegativeInt = 0
    estimated_ship_at: UtcDatetime | None = None
    estimated_arrival_at: UtcDatetime | None = None

    @property
    def fulfillable_quantity(self) -> int:
        """Units neither cancelled nor unfulfillable: what Amazon still means to ship."""
        return max(0, self.quantity - self.cancelled_quantity - self.unfulfillable_quantity)


class ReturnItem(BaseModel):
    """One returned unit (the FBA model has no quantity: each unit is its own return item)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    seller_return_item_id: SellerReturnItemId
    seller_fulfillment_order_item_id: FulfillmentOrderItemId
    amazon_shipment_id: AmazonId
    seller_return_reason_code: AmazonId | None = None
    """Required by the schema, yet missing from the model's own example: optional here."""
    return_comment: Annotated[str, StringConstraints(max_length=1000)] | None = None
    amazon_return_reason_code: AmazonId | None = None
    status: FbaReturnItemStatus
    status_changed_at: UtcDatetime
    return_authorization_id: AmazonId | None = None
    return_received_condition: ReturnReceivedCondition | None = None
    """Set once Amazon has received the unit (status Processed)."""
    fulfillment_center_id: AmazonId | None = None

    @property
    def received(self) -> bool:
        return self.status is FbaReturnItemStatus.PROCESSED


class ReturnAuthorization(BaseModel):
    """What the customer needs to send units back: the RMA and the address (no expiry: the
    FBA 2020-07-01 model has none)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    return_authorization_id: AmazonId
    fulfillment_center_id: AmazonId
    return_to_address: Address
    amazon_rma_id: AmazonId
    rma_page_url: Annotated[str, StringConstraints(max_length=2048)]


class InvalidReturnItem(BaseModel):
    """A return item Amazon refused, with its InvalidItemReasonCode (InvalidValues,
    DuplicateRequest, NoCompletedShipItems, NoReturnableQuantity)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    seller_return_item_id: SellerReturnItemId
    seller_fulfillment_order_item_id: FulfillmentOrderItemId
    reason_code: AmazonId
    description: CleanText = None


class FulfillmentReturn(BaseModel):
    """createFulfillmentReturn's answer: accepted items, refused ones, and the authorizations."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    return_items: tuple[ReturnItem, ...] = ()
    invalid_return_items: tuple[InvalidReturnItem, ...] = ()
    return_authorizations: tuple[ReturnAuthorization, ...] = ()


class ShipmentPackage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    package_number: int
    carrier_code: AmazonId
    tracking_number: CleanText = None
    amazon_fulfillment_tracking_number: CleanText = None
    estimated_arrival_at: UtcDatetime | None = None


class ShipmentItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    seller_sku: Sku
    seller_fulfillment_order_item_id: FulfillmentOrderItemId
    quantity: NonNegativeInt
    package_number: int | None = None


class FulfillmentShipment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

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

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

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
    items: tuple[FulfillmentOrderItem, ...] = ()
    shipments: tuple[FulfillmentShipment, ...] = ()
    return_items: tuple[ReturnItem, ...] = ()
    return_authorizations: tuple[ReturnAuthorization, ...] = ()

    def tracking_numbers(self) -> list[str]:
        """Every carrier tracking number, in shipment and package order."""
        return [
            package.tracking_number
            for shipment in self.shipments
            for package in shipment.packages
            if package.tracking_number
        ]
