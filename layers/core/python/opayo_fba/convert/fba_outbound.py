"""Canonical order -> FBA outbound 2020-07-01 `createFulfillmentOrder` request body, and the
FBA payloads -> canonical models: getFulfillmentOrder -> `FulfillmentOrder` (items, shipments,
returns), getPackageTrackingDetails -> `PackageTracking`, createFulfillmentReturn ->
`FulfillmentReturn`.

The limits enforced here are those of the official model (sellerFulfillmentOrderId and
displayableOrderId 40, displayableOrderComment 750, sellerSku and
sellerFulfillmentOrderItemId 50, giftMessage 512, notification e-mails 64, at most 100 lines
and 250 units) plus the address limits of `opayo_fba.model.address`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, JsonValue

from opayo_fba.convert.sku import SkuMapping
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.address import Address, AddressAdjustment, render_fba_address
from opayo_fba.model.fulfillment import (
    FulfillmentAction,
    FulfillmentOrder,
    FulfillmentOrderItem,
    FulfillmentReturn,
    FulfillmentShipment,
    InvalidReturnItem,
    ReturnAuthorization,
    ReturnItem,
    ShipmentItem,
    ShipmentPackage,
)
from opayo_fba.model.money import Money
from opayo_fba.model.order import Order, OrderLine
from opayo_fba.model.status import FbaFulfillmentOrderStatus
from opayo_fba.model.tracking import PackageTracking, PackageTrackingStatus, TrackingEvent

SELLER_FULFILLMENT_ORDER_ID_MAX = 40
FulfillmentPolicy = Literal["FillOrKill", "FillAll", "FillAllAvailable"]
MAX_LINES = 100
MAX_UNITS = 250
DEFAULT_COMMENT = "Thank you for your order."

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_DIGEST_LENGTH = 10


class FulfillmentRequestError(InvalidInputError, ValueError):
    """The order cannot become a fulfillment order; the message names the field."""


def seller_fulfillment_order_id(order_id: str) -> str:
    """A deterministic sellerFulfillmentOrderId for our order id.

    An id of at most 40 letters, digits, '-' and '_' is used as it is, so support staff see
    the order id they know. Anything else (too long, or with other characters) becomes a
    readable prefix of the safe characters, '-', and 10 characters of a SHA-256 digest of the
    whole original id, base32 upper case: still at most 40 characters, still deterministic,
    and two different order ids collide only with the digest (2^-50).
    """
    if not order_id or not order_id.strip():
        raise FulfillmentRequestError("order_id is empty; it is needed for the fulfillment id")
    if _SAFE_ID.match(order_id):
        return order_id
    digest = hashlib.sha256(order_id.encode("utf-8")).digest()
    suffix = base64.b32encode(digest).decode("ascii")[:_DIGEST_LENGTH]
    prefix = _UNSAFE_CHARS.sub("-", order_id).strip("-_")
    prefix = prefix[: SELLER_FULFILLMENT_ORDER_ID_MAX - _DIGEST_LENGTH - 1].rstrip("-_")
    return f"{prefix}-{suffix}" if prefix else suffix


def attempt_fulfillment_order_id(order_id: str, attempt: int) -> str:
    """The sellerFulfillmentOrderId of an order's `attempt` (saga/resubmit.py): the first is
    `seller_fulfillment_order_id(order_id)`; each later one is new, deterministic, and cannot
    be another order's (the `~` forces the digest form, which no plain order id takes)."""
    if attempt <= 1:
        return seller_fulfillment_order_id(order_id)
    return seller_fulfillment_order_id(f"{order_id}~A{attempt}")


def _displayable_order_id(order_id: str, fallback: str) -> str:
    """Amazon: 1-40 alphanumeric or ISO 8859-1 characters, never two spaces in a row."""
    try:
        order_id.encode("iso-8859-1")
    except UnicodeEncodeError:
        return fallback
    if len(order_id) > SELLER_FULFILLMENT_ORDER_ID_MAX or "  " in order_id:
        return fallback
    return order_id


class FbaCreateRequest(BaseModel):
    """The request body, and every address change made to fit Amazon's limits."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    body: dict[str, JsonValue]
    adjustments: tuple[AddressAdjustment, ...] = ()


def _money(money: Money) -> dict[str, JsonValue]:
    return {"currencyCode": money.currency, "value": money.format()}


def _item(line: OrderLine, item_id: str, seller_sku: str) -> dict[str, JsonValue]:
    item: dict[str, JsonValue] = {
        "sellerSku": seller_sku,
        "sellerFulfillmentOrderItemId": item_id,
        "quantity": line.quantity,
    }
    if line.unit_price is not None:
        item["perUnitDeclaredValue"] = _money(line.unit_price)
    gift = line.attributes.get("gift_message")
    if isinstance(gift, str) and gift.strip():
        if len(gift) > 512:
            raise FulfillmentRequestError(
                f"lines[{item_id}].attributes.gift_message: {len(gift)} characters exceed 512"
            )
        item["giftMessage"] = gift.strip()
    return item


def fulfillment_item_id(line: OrderLine, position: int) -> str:
    """The sellerFulfillmentOrderItemId of the line at 1-based `position`: its line_id, else
    its position. The same id names the line in refunds and returns."""
    return line.line_id or str(position)


def _seller_sku(line: OrderLine, skus: SkuMapping | None) -> str:
    if line.seller_sku is not None:
        return line.seller_sku
    if skus is not None:
        return skus.seller_sku(line.sku)
    return line.sku


def create_fulfillment_order_request(
    order: Order,
    *,
    skus: SkuMapping | None = None,
    action: FulfillmentAction = "Hold",
    marketplace_id: str | None = None,
    notification_emails: Iterable[str] = (),
    allow_truncation: bool = False,
    fulfillment_policy: FulfillmentPolicy = "FillOrKill",
) -> FbaCreateRequest:
    """The `createFulfillmentOrder` body for `order`.

    Seller SKUs come from each line's `seller_sku`, else from `skus` (an unknown SKU raises
    UnknownSkuError naming it), else the internal SKU is used as is. Lines with quantity 0
    are left out. `action="Hold"` (the default) lets the saga capture the payment before
    releasing the order to ship.
    """
    if order.shipping_address is None:
        raise FulfillmentRequestError("shipping_address is required for a fulfillment order")
    if action == "Hold" and order.shipping_speed == "ScheduledDelivery":
        raise FulfillmentRequestError(
            "shipping_speed ScheduledDelivery cannot be created on Hold (Amazon rule); "
            "use action='Ship'"
        )
    address = render_fba_address(order.shipping_address, allow_truncation=allow_truncation)
    sfo_id = seller_fulfillment_order_id(order.order_id)

    items: list[JsonValue] = []
    seen: set[str] = set()
    for index, line in enumerate(order.lines, start=1):
        if line.quantity == 0:
            continue
        item_id = fulfillment_item_id(line, index)
        if item_id in seen:
            raise FulfillmentRequestError(f"lines: line_id {item_id!r} appears twice")
        seen.add(item_id)
        items.append(_item(line, item_id, _seller_sku(line, skus)))
    if not items:
        raise FulfillmentRequestError("lines: the order has no line with a quantity to ship")
    if len(items) > MAX_LINES:
        raise FulfillmentRequestError(f"lines: {len(items)} lines exceed FBA's {MAX_LINES}")
    units = sum(line.quantity for line in order.lines)
    if units > MAX_UNITS:
        raise FulfillmentRequestError(f"lines: {units} units exceed FBA's {MAX_UNITS} per order")

    comment = order.comment or DEFAULT_COMMENT
    if len(comment) > 750:
        if not allow_truncation:
            raise FulfillmentRequestError(
                f"comment: {len(comment)} characters exceed displayableOrderComment's 750"
            )
        comment = comment[:750].rstrip()

    body: dict[str, JsonValue] = {
        "sellerFulfillmentOrderId": sfo_id,
        "displayableOrderId": _displayable_order_id(order.order_id, sfo_id),
        "displayableOrderDate": order.placed_at.isoformat().replace("+00:00", "Z"),
        "displayableOrderComment": comment,
        "shippingSpeedCategory": order.shipping_speed,
        "destinationAddress": dict(address.fields),
        "fulfillmentAction": action,
        "fulfillmentPolicy": fulfillment_policy,
        "items": items,
    }
    if marketplace_id is not None:
        body["marketplaceId"] = marketplace_id
    elif order.marketplace_id is not None:
        body["marketplaceId"] = order.marketplace_id
    emails: list[JsonValue] = []
    for email in notification_emails:
        if len(email) > 64:
            raise FulfillmentRequestError(f"notification_emails: {email!r} exceeds 64 characters")
        emails.append(email)
    if emails:
        body["notificationEmails"] = emails
    return FbaCreateRequest(body=body, adjustments=address.adjustments)


def fulfillment_order_from_fba(
    payload: Mapping[str, Any], *, order_id: str | None = None
) -> FulfillmentOrder:
    """Canonical FulfillmentOrder from a getFulfillmentOrder `payload` (GetFulfillmentOrderResult:
    `fulfillmentOrder`, `fulfillmentOrderItems`, `fulfillmentShipments`, `returnItems`,
    `returnAuthorizations`), or from a bare FulfillmentOrder object.

    A missing or malformed field raises pydantic's ValidationError naming the canonical field.
    """
    header: Mapping[str, Any] = payload.get("fulfillmentOrder", payload)
    shipments = []
    for shipment in payload.get("fulfillmentShipments") or ():
        shipments.append(
            FulfillmentShipment(
                amazon_shipment_id=shipment.get("amazonShipmentId"),
                fulfillment_center_id=shipment.get("fulfillmentCenterId"),
                status=shipment.get("fulfillmentShipmentStatus"),
                shipped_at=shipment.get("shippingDate"),
                estimated_arrival_at=shipment.get("estimatedArrivalDate"),
                items=tuple(
                    ShipmentItem(
                        seller_sku=item.get("sellerSku"),
                        seller_fulfillment_order_item_id=item.get("sellerFulfillmentOrderItemId"),
                        quantity=item.get("quantity"),
                        package_number=item.get("packageNumber"),
                    )
                    for item in shipment.get("fulfillmentShipmentItem") or ()
                ),
                packages=tuple(
                    ShipmentPackage(
                        package_number=package.get("packageNumber"),
                        carrier_code=package.get("carrierCode"),
                        tracking_number=package.get("trackingNumber"),
                        amazon_fulfillment_tracking_number=package.get(
                            "amazonFulfillmentTrackingNumber"
                        ),
                        estimated_arrival_at=package.get("estimatedArrivalDate"),
                    )
                    for package in shipment.get("fulfillmentShipmentPackage") or ()
                ),
            )
        )
    return FulfillmentOrder(
        seller_fulfillment_order_id=header.get("sellerFulfillmentOrderId"),
        order_id=order_id,
        marketplace_id=header.get("marketplaceId"),
        status=_order_status(header.get("fulfillmentOrderStatus")),
        action=header.get("fulfillmentAction"),
        shipping_speed=header.get("shippingSpeedCategory"),
        received_at=header.get("receivedDate"),
        status_updated_at=header.get("statusUpdatedDate"),
        items=tuple(
            _order_item_from_fba(item) for item in payload.get("fulfillmentOrderItems") or ()
        ),
        shipments=tuple(shipments),
        return_items=tuple(
            _return_item_from_fba(item) for item in payload.get("returnItems") or ()
        ),
        return_authorizations=tuple(
            _authorization_from_fba(a) for a in payload.get("returnAuthorizations") or ()
        ),
    )


def _order_status(value: Any) -> Any:
    """The API spells `Processing`; the model's own example (and the notification) spell
    `PROCESSING` / `COMPLETE_PARTIALLED`: accept either spelling of a known status."""
    if isinstance(value, str):
        wanted = value.replace("_", "").casefold()
        for status in FbaFulfillmentOrderStatus:
            if status.value.casefold() == wanted:
                return status
    return value


def _order_item_from_fba(item: Mapping[str, Any]) -> FulfillmentOrderItem:
    return FulfillmentOrderItem(
        seller_fulfillment_order_item_id=item.get("sellerFulfillmentOrderItemId"),
        seller_sku=item.get("sellerSku"),
        quantity=item.get("quantity"),
        cancelled_quantity=item.get("cancelledQuantity") or 0,
        unfulfillable_quantity=item.get("unfulfillableQuantity") or 0,
        estimated_ship_at=item.get("estimatedShipDate"),
        estimated_arrival_at=item.get("estimatedArrivalDate"),
    )


def _return_item_from_fba(item: Mapping[str, Any]) -> ReturnItem:
    return ReturnItem(
        seller_return_item_id=item.get("sellerReturnItemId"),
        seller_fulfillment_order_item_id=item.get("sellerFulfillmentOrderItemId"),
        amazon_shipment_id=item.get("amazonShipmentId"),
        seller_return_reason_code=item.get("sellerReturnReasonCode"),
        return_comment=item.get("returnComment"),
        amazon_return_reason_code=item.get("amazonReturnReasonCode"),
        status=item.get("status"),
        status_changed_at=item.get("statusChangedDate"),
        return_authorization_id=item.get("returnAuthorizationId"),
        return_received_condition=item.get("returnReceivedCondition"),
        fulfillment_center_id=item.get("fulfillmentCenterId"),
    )


def address_from_fba(fields: Mapping[str, Any]) -> Address:
    """An FBA `Address` (return-to or destination) as the canonical Address."""
    return Address(
        country_code=fields.get("countryCode"),
        name=fields.get("name"),
        line1=fields.get("addressLine1"),
        line2=fields.get("addressLine2"),
        line3=fields.get("addressLine3"),
        city=fields.get("city"),
        district_or_county=fields.get("districtOrCounty"),
        state_or_region=fields.get("stateOrRegion"),
        postal_code=fields.get("postalCode"),
        phone=fields.get("phone"),
    )


def _authorization_from_fba(authorization: Mapping[str, Any]) -> ReturnAuthorization:
    return ReturnAuthorization(
        return_authorization_id=authorization.get("returnAuthorizationId"),
        fulfillment_center_id=authorization.get("fulfillmentCenterId"),
        return_to_address=address_from_fba(authorization.get("returnToAddress") or {}),
        amazon_rma_id=authorization.get("amazonRmaId"),
        rma_page_url=authorization.get("rmaPageURL"),
    )


def fulfillment_return_from_fba(payload: Mapping[str, Any]) -> FulfillmentReturn:
    """Canonical FulfillmentReturn from a createFulfillmentReturn `payload`."""
    return FulfillmentReturn(
        return_items=tuple(_return_item_from_fba(i) for i in payload.get("returnItems") or ()),
        invalid_return_items=tuple(
            InvalidReturnItem(
                seller_return_item_id=item.get("sellerReturnItemId"),
                seller_fulfillment_order_item_id=item.get("sellerFulfillmentOrderItemId"),
                reason_code=(item.get("invalidItemReason") or {}).get("invalidItemReasonCode"),
                description=(item.get("invalidItemReason") or {}).get("description"),
            )
            for item in payload.get("invalidReturnItems") or ()
        ),
        return_authorizations=tuple(
            _authorization_from_fba(a) for a in payload.get("returnAuthorizations") or ()
        ),
    )


def package_tracking_from_fba(payload: Mapping[str, Any]) -> PackageTracking:
    """Canonical PackageTracking from a getPackageTrackingDetails `payload`.

    Events come out oldest first whatever order Amazon lists them in; an unknown
    `currentStatus` reads as UNKNOWN; a `customerTrackingLink` sent URL-encoded (as in the
    model's own example) is decoded.
    """
    events = sorted(
        (
            TrackingEvent(
                at=event.get("eventDate"),
                code=event.get("eventCode"),
                description=event.get("eventDescription"),
                city=(event.get("eventAddress") or {}).get("city"),
                state=(event.get("eventAddress") or {}).get("state"),
                country=(event.get("eventAddress") or {}).get("country"),
            )
            for event in payload.get("trackingEvents") or ()
        ),
        key=lambda event: event.at,
    )
    link = payload.get("customerTrackingLink")
    if isinstance(link, str) and link.lower().startswith(("http%3a", "https%3a")):
        link = unquote(link).strip()
    return PackageTracking(
        package_number=payload.get("packageNumber"),
        tracking_number=payload.get("trackingNumber"),
        carrier_code=payload.get("carrierCode"),
        customer_tracking_link=link or None,
        current_status=PackageTrackingStatus.parse(payload.get("currentStatus")),
        status_description=payload.get("currentStatusDescription"),
        shipped_at=payload.get("shipDate"),
        estimated_arrival_at=payload.get("estimatedArrivalDate"),
        events=tuple(events),
    )
