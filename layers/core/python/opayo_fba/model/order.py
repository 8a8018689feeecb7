"""Orders as every channel (web shop, ERP, Amazon) hands them to us."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    model_validator,
)

from opayo_fba.model.address import Address, NameText, PhoneText, clean_text
from opayo_fba.model.common import Asin, Email, OpenFields, OrderId, Sku, UtcDatetime
from opayo_fba.model.money import CurrencyCode, Money, sum_money
from opayo_fba.model.status import OrderStatus

TitleText = Annotated[
    Annotated[str, StringConstraints(max_length=500)] | None, BeforeValidator(clean_text)
]
"""A line's title: 500 (Amazon listing titles are at most 200; an ERP's may be longer)."""
COMMENT_MAX = 750
CommentText = Annotated[
    Annotated[str, StringConstraints(max_length=COMMENT_MAX)] | None, BeforeValidator(clean_text)
]
"""The packing-slip comment: FBA's displayableOrderComment takes 750 characters."""
MarketplaceId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{10,14}$")]
"""An Amazon marketplace id (A1F83G8C2ARO7P is the UK)."""


class Channel(StrEnum):
    WEB = "web"
    ERP = "erp"
    AMAZON = "amazon"
    PHONE = "phone"  # mail order / telephone order taken by staff
    OTHER = "other"


ShippingSpeed = Literal["Standard", "Expedited", "Priority", "ScheduledDelivery"]
"""Amazon's shippingSpeedCategory, which is also how we describe delivery speed."""


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    first_name: NameText = None
    last_name: NameText = None
    email: Email | None = None
    phone: PhoneText = None

    @property
    def full_name(self) -> str | None:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or None


class OrderLine(BaseModel):
    """One line of an order. `quantity` may be 0 only for lines a channel reports as
    cancelled (Amazon does); converters to fulfillment skip such lines."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    line_id: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    sku: Sku
    """The internal SKU (the ERP's product code)."""
    seller_sku: Sku | None = None
    """Amazon's sellerSku, when it differs from `sku` or is already known."""
    asin: Asin | None = None
    title: TitleText = None
    quantity: NonNegativeInt
    unit_price: Money | None
    """None only while a channel has not priced the line (Amazon omits ItemPrice on Pending
    orders); every order we take payment for has prices."""
    line_total: Money | None = None
    """Set when the channel states the line total and it is not unit_price * quantity
    (Amazon reports ItemPrice per line, which need not divide by the quantity)."""
    tax: Money | None = None
    discount: Money | None = None
    """A positive amount taken off this line."""
    attributes: OpenFields = Field(default_factory=dict)
    """Open internal product data (weight, HS code, gift message...), passed through."""

    @model_validator(mode="after")
    def _one_currency(self) -> OrderLine:
        currencies = self.currencies()
        if len(currencies) > 1:
            raise ValueError(
                f"a line has one currency, this one has {', '.join(sorted(currencies))}"
            )
        return self

    def currencies(self) -> set[str]:
        amounts = (self.unit_price, self.line_total, self.tax, self.discount)
        return {money.currency for money in amounts if money is not None}

    @property
    def total(self) -> Money | None:
        """The line's goods total before tax and discount (None if the line is unpriced)."""
        if self.line_total is not None:
            return self.line_total
        return None if self.unit_price is None else self.unit_price * self.quantity


class OrderTotals(BaseModel):
    """Totals as the channel stated them (we keep them to reconcile, not recompute them)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    grand_total: Money
    goods: Money | None = None
    shipping: Money | None = None
    tax: Money | None = None
    discount: Money | None = None

    @model_validator(mode="after")
    def _one_currency(self) -> OrderTotals:
        for name in ("goods", "shipping", "tax", "discount"):
            money: Money | None = getattr(self, name)
            if money is not None and money.currency != self.grand_total.currency:
                raise ValueError(
                    f"{name} is in {money.currency}, grand_total in {self.grand_total.currency}"
                )
        return self


class Order(BaseModel):
    """The canonical order. Everything in it is in one currency."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    order_id: OrderId
    channel: Channel
    placed_at: UtcDatetime
    status: OrderStatus = OrderStatus.RECEIVED
    source_status: Annotated[str, StringConstraints(max_length=64)] | None = None
    """The channel's own status word, kept for support (e.g. Amazon's "Unshipped")."""
    currency: CurrencyCode | None = None
    """Set whenever the order has a price; None only for an Amazon order header without totals."""
    customer: Customer | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    lines: tuple[OrderLine, ...] = ()
    totals: OrderTotals | None = None
    shipping_speed: ShippingSpeed = "Standard"
    marketplace_id: MarketplaceId | None = None
    fulfillment_channel: Literal["AFN", "MFN"] | None = None
    """Amazon orders only: AFN is fulfilled by Amazon, MFN by the merchant."""
    payment_reference: Annotated[str, StringConstraints(max_length=40)] | None = None
    """Our vendorTxCode for the Opayo payment of this order, once there is one."""
    custom_fields: OpenFields = Field(default_factory=dict)
    comment: CommentText = None
    """Shown to the recipient (packing slip); FBA allows 750 characters."""
    updated_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _one_currency(self) -> Order:
        currencies = {currency for line in self.lines for currency in line.currencies()}
        if self.totals is not None:
            currencies.add(self.totals.grand_total.currency)
        if self.currency is None and currencies:
            raise ValueError(
                f"currency is required when the order has prices ({', '.join(sorted(currencies))})"
            )
        stray = currencies - {self.currency}
        if stray:
            raise ValueError(
                f"currency is {self.currency} but the order also holds "
                f"{', '.join(sorted(c for c in stray if c))}; an order has one currency"
            )
        return self

    def goods_total(self) -> Money:
        """Sum of the line totals; raises ValueError if any line is unpriced."""
        totals = [line.total for line in self.lines]
        if self.currency is None or any(total is None for total in totals):
            raise ValueError(f"order {self.order_id} has unpriced lines, so no goods total")
        return sum_money((total for total in totals if total is not None), self.currency)

    def amount_due(self) -> Money:
        """What the customer pays: the stated grand total, else the lines' totals plus tax
        less discounts."""
        if self.totals is not None:
            return self.totals.grand_total
        total = self.goods_total()
        for line in self.lines:
            if line.tax is not None:
                total = total + line.tax
            if line.discount is not None:
                total = total - line.discount
        return total
