"""Amazon Orders v0 JSON (`Order`, `OrderItem`, `Address`, `BuyerInfo`) -> canonical `Order`.

Amazon sends money as `{"CurrencyCode": "USD", "Amount": "11.01"}` with a '.' decimal point;
it becomes integer minor units here. `ItemPrice` is the price of the whole line (unit price
times quantity), so the unit price is derived, and when it does not divide evenly the stated
line total is kept as `line_total`. Without a Restricted Data Token Amazon omits the buyer's
name and street; the canonical order then holds the parts it was given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opayo_fba.convert.harmonise import order_status
from opayo_fba.convert.sku import SkuMapping
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.address import Address
from opayo_fba.model.money import Money, MoneyError, sum_money
from opayo_fba.model.order import Channel, Customer, Order, OrderLine, OrderTotals, ShippingSpeed
from opayo_fba.model.status import OrdersV0Status

_SPEED: dict[str, ShippingSpeed] = {
    "Standard": "Standard",
    "FreeEconomy": "Standard",
    "Expedited": "Expedited",
    "SecondDay": "Expedited",
    "NextDay": "Priority",
    "SameDay": "Priority",
    "Priority": "Priority",
    "Scheduled": "ScheduledDelivery",
}
"""Orders v0 ShipmentServiceLevelCategory -> FBA shippingSpeedCategory."""


class OrdersV0ConversionError(InvalidInputError, ValueError):
    """An Orders v0 document cannot be read; the message names the field."""


def _money(value: Mapping[str, Any] | None, field: str) -> Money | None:
    if value is None:
        return None
    try:
        return Money.parse(str(value["Amount"]), str(value["CurrencyCode"]), decimal_separator=".")
    except (KeyError, MoneyError) as error:
        raise OrdersV0ConversionError(f"{field}: {error}") from error


def address_from_orders_v0(value: Mapping[str, Any] | None) -> Address | None:
    """Canonical Address from an Orders v0 `Address`; None when Amazon gave no country."""
    if not value or not value.get("CountryCode"):
        return None
    return Address(
        country_code=value["CountryCode"],
        name=value.get("Name"),
        company=value.get("CompanyName"),
        line1=value.get("AddressLine1"),
        line2=value.get("AddressLine2"),
        line3=value.get("AddressLine3"),
        city=value.get("City") or value.get("Municipality"),
        district_or_county=value.get("County") or value.get("District"),
        state_or_region=value.get("StateOrRegion"),
        postal_code=value.get("PostalCode"),
        phone=value.get("Phone"),
    )


def customer_from_buyer_info(value: Mapping[str, Any] | None) -> Customer | None:
    """Canonical Customer from `BuyerInfo`/`OrderBuyerInfo` (BuyerName split at its first space)."""
    if not value or not (value.get("BuyerName") or value.get("BuyerEmail")):
        return None
    first, _, last = str(value.get("BuyerName") or "").strip().partition(" ")
    return Customer(
        first_name=first if last else None,
        last_name=last or first or None,
        email=value.get("BuyerEmail") or None,
    )


def line_from_order_item(
    item: Mapping[str, Any], index: int, skus: SkuMapping | None = None
) -> OrderLine:
    where = f"OrderItems[{index}]"
    seller_sku = item.get("SellerSKU")
    if not seller_sku:
        raise OrdersV0ConversionError(f"{where}.SellerSKU is missing; it is needed to map the SKU")
    quantity = item.get("QuantityOrdered")
    if not isinstance(quantity, int) or quantity < 0:
        raise OrdersV0ConversionError(f"{where}.QuantityOrdered must be an integer >= 0")
    item_price = _money(item.get("ItemPrice"), f"{where}.ItemPrice")
    unit_price, line_total = item_price, None
    if item_price is not None and quantity > 0:
        unit, remainder = divmod(item_price.amount, quantity)
        unit_price = Money(amount=unit, currency=item_price.currency)
        line_total = item_price if remainder else None
    elif item_price is not None:
        line_total = item_price
    taxes = [
        money
        for money in (
            _money(item.get("ItemTax"), f"{where}.ItemTax"),
            _money(item.get("ShippingTax"), f"{where}.ShippingTax"),
        )
        if money is not None
    ]
    discount = _money(item.get("PromotionDiscount"), f"{where}.PromotionDiscount")
    attributes: dict[str, Any] = {}
    shipping = _money(item.get("ShippingPrice"), f"{where}.ShippingPrice")
    if shipping is not None:
        attributes["shipping_price"] = shipping.model_dump()
    for source, target in (("QuantityShipped", "quantity_shipped"), ("IsGift", "is_gift")):
        if item.get(source) is not None:
            attributes[target] = item[source]
    return OrderLine(
        line_id=item.get("OrderItemId"),
        sku=skus.internal_sku(seller_sku) if skus is not None else seller_sku,
        seller_sku=seller_sku,
        asin=item.get("ASIN"),
        title=item.get("Title"),
        quantity=quantity,
        unit_price=unit_price,
        line_total=line_total,
        tax=sum_money(taxes, taxes[0].currency) if taxes else None,
        discount=discount if discount is not None and not discount.is_zero() else None,
        attributes=attributes,
    )


def _totals(order_total: Money | None, lines: Sequence[OrderLine]) -> OrderTotals | None:
    if order_total is None:
        return None
    currency = order_total.currency

    def total_of(values: list[Money | None]) -> Money | None:
        present = [value for value in values if value is not None]
        return sum_money(present, currency) if present and len(present) == len(values) else None

    shipping = [
        Money.model_validate(line.attributes["shipping_price"])
        for line in lines
        if "shipping_price" in line.attributes
    ]
    return OrderTotals(
        grand_total=order_total,
        goods=total_of([line.total for line in lines]) if lines else None,
        tax=total_of([line.tax for line in lines]) if lines else None,
        shipping=sum_money(shipping, currency) if shipping else None,
        discount=sum_money([line.discount for line in lines if line.discount], currency)
        if any(line.discount for line in lines)
        else None,
    )


def order_from_orders_v0(
    order: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]] = (),
    *,
    shipping_address: Mapping[str, Any] | None = None,
    buyer_info: Mapping[str, Any] | None = None,
    skus: SkuMapping | None = None,
) -> Order:
    """Canonical Order from an Orders v0 `Order`, its `OrderItems` (getOrderItems), and
    optionally the getOrderAddress `ShippingAddress` and getOrderBuyerInfo payloads.

    With `skus`, each SellerSKU is mapped back to the internal SKU (an unknown one raises
    UnknownSkuError naming it); without, the internal SKU is the SellerSKU.
    """
    order_id = order.get("AmazonOrderId")
    if not order_id:
        raise OrdersV0ConversionError("AmazonOrderId is missing")
    for payload in (shipping_address, buyer_info):
        other = payload.get("AmazonOrderId") if payload else None
        if other and other != order_id:
            raise OrdersV0ConversionError(
                f"AmazonOrderId {other!r} of a related payload does not match {order_id!r}"
            )
    try:
        source_status = OrdersV0Status(str(order.get("OrderStatus")))
    except ValueError:
        raise OrdersV0ConversionError(
            f"OrderStatus {order.get('OrderStatus')!r} is not an Orders v0 status"
        ) from None
    lines = tuple(line_from_order_item(item, i, skus) for i, item in enumerate(items))
    order_total = _money(order.get("OrderTotal"), "OrderTotal")
    currencies = {c for line in lines for c in line.currencies()}
    if order_total is not None:
        currencies.add(order_total.currency)
    address_source = shipping_address or {}
    address = address_from_orders_v0(address_source.get("ShippingAddress", address_source))
    if address is None:
        address = address_from_orders_v0(order.get("ShippingAddress"))
    customer = customer_from_buyer_info(buyer_info) or customer_from_buyer_info(
        order.get("BuyerInfo")
    )
    custom_fields: dict[str, Any] = {
        key: order[source]
        for source, key in (
            ("SalesChannel", "sales_channel"),
            ("OrderType", "order_type"),
            ("ShipServiceLevel", "ship_service_level"),
            ("SellerOrderId", "seller_order_id"),
            ("IsPrime", "is_prime"),
            ("IsBusinessOrder", "is_business_order"),
            ("LatestShipDate", "latest_ship_date"),
            ("LatestDeliveryDate", "latest_delivery_date"),
        )
        if order.get(source) is not None
    }
    return Order(
        order_id=order_id,
        channel=Channel.AMAZON,
        placed_at=order.get("PurchaseDate"),
        updated_at=order.get("LastUpdateDate"),
        status=order_status(fulfillment=source_status),
        source_status=source_status.value,
        currency=currencies.pop() if len(currencies) == 1 else None,
        customer=customer,
        shipping_address=address,
        lines=lines,
        totals=_totals(order_total, lines),
        shipping_speed=_SPEED.get(order.get("ShipmentServiceLevelCategory") or "", "Standard"),
        marketplace_id=order.get("MarketplaceId"),
        fulfillment_channel=order.get("FulfillmentChannel"),
        custom_fields=custom_fields,
    )
