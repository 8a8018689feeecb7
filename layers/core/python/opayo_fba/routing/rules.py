"""Routing rules: which Amazon seller account and marketplace fulfil an order, and which Opayo
vendor takes its payment, from the order itself.

Since Brexit, UK and EU stock are separate pools: an MCF order to a GB address must use the UK
marketplace's stock and one to an EU address EU stock (`docs/reference/sp-api.md`,
"Marketplaces"). A merchant with a UK and an EU account therefore routes by destination
country, and usually takes GBP and EUR payments through different Opayo vendors.

Rules come from configuration (cdk.json `routing`, validated by the CDK app against the
configured accounts, marketplaces and vendors) in two ordered lists:

    fulfillment: [{countries?, currencies?, channels?, sellerAccount, marketplaceId}, ...]
    payments:    [{countries?, currencies?, channels?, vendor}, ...]

A rule matches when each of its lists that is given contains the order's value: the
destination country (ISO 3166-1 alpha-2, or `EU` for the 27 member states), the order's
currency, its channel. The first matching rule wins. An order may still name its seller
account, marketplace or vendor: a name that contradicts the rule that matches is refused
(400), and a name is the route where no rule matches. An order that neither names nor matches
is refused before anything is stored or Opayo is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import InvalidInputError
from opayo_fba.model import Order

EU_MEMBER_STATES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
"""The 27 member states of the European Union (since 1 February 2020)."""
GROUPS = {"EU": EU_MEMBER_STATES}

CountryOrGroup = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _Rule(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
    )

    countries: tuple[CountryOrGroup, ...] = ()
    """Destination countries (alpha-2), or `EU`; empty: any country."""
    currencies: tuple[Currency, ...] = ()
    channels: tuple[Annotated[str, StringConstraints(min_length=1, max_length=16)], ...] = ()

    @field_validator("countries")
    @classmethod
    def _known_countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from opayo_fba.model.countries import country_code

        for code in value:
            if code not in GROUPS and country_code(code) != code:
                raise ValueError(f"{code} is not an ISO 3166-1 alpha-2 country or a group")
        return value

    def country_set(self) -> frozenset[str]:
        found: set[str] = set()
        for code in self.countries:
            found |= GROUPS.get(code, {code})
        return frozenset(found)

    def matches(self, order: Order) -> bool:
        country = order.shipping_address.country_code if order.shipping_address else None
        if self.countries and country not in self.country_set():
            return False
        if self.currencies and order.currency not in self.currencies:
            return False
        return not self.channels or order.channel.value in self.channels

    def describe(self) -> str:
        parts = [
            f"{name} {', '.join(values)}"
            for name, values in (
                ("countries", self.countries),
                ("currencies", self.currencies),
                ("channels", self.channels),
            )
            if values
        ]
        return "; ".join(parts) or "any order"


class FulfillmentRule(_Rule):
    seller_account: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    marketplace_id: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{10,14}$")]


class PaymentRule(_Rule):
    vendor: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{1,40}$")]


class RoutingRules(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True, defer_build=True)

    fulfillment: tuple[FulfillmentRule, ...] = Field(default=(), max_length=100)
    payments: tuple[PaymentRule, ...] = Field(default=(), max_length=100)

    @classmethod
    def from_json(cls, text: str | None) -> RoutingRules:
        """The rules as the CDK app passes them (JSON); none when unset."""
        return cls.model_validate_json(text) if text else cls()


@dataclass(frozen=True)
class Route:
    """Where an order goes, and why (for the CLI preview and the order's history)."""

    seller_account: str
    marketplace_id: str | None
    vendor: str
    reasons: tuple[str, ...]


RuleT = TypeVar("RuleT", bound=_Rule)


def _first(rules: Sequence[RuleT], order: Order) -> tuple[int, RuleT] | None:
    for index, rule in enumerate(rules):
        if rule.matches(order):
            return index, rule
    return None


def _what(order: Order) -> str:
    country = order.shipping_address.country_code if order.shipping_address else "nowhere"
    return f"shipping to {country}, in {order.currency or 'no currency'}, channel {order.channel}"


def route_order(
    rules: RoutingRules,
    order: Order,
    *,
    seller_account: str | None = None,
    vendor: str | None = None,
) -> Route:
    """The route of `order`, given what the shop named (InvalidInputError, naming the field
    and the fix, when the order contradicts its rule or cannot be routed)."""
    reasons: list[str] = []
    account, marketplace = seller_account, order.marketplace_id
    found = _first(rules.fulfillment, order)
    if found is not None:
        index, rule = found
        if seller_account is not None and seller_account != rule.seller_account:
            raise InvalidInputError(
                f"sellerAccount: {quote_input(seller_account)} contradicts fulfillment rule "
                f"{index + 1} ({rule.describe()}), which sends this order ({_what(order)}) to "
                f"{rule.seller_account}; leave sellerAccount out or correct the rule"
            )
        if marketplace is not None and marketplace != rule.marketplace_id:
            raise InvalidInputError(
                f"order.marketplace_id: {quote_input(marketplace)} contradicts fulfillment rule "
                f"{index + 1} ({rule.describe()}), which chooses {rule.marketplace_id}"
            )
        account, marketplace = rule.seller_account, rule.marketplace_id
        reasons.append(f"fulfillment rule {index + 1} ({rule.describe()})")
    elif account is not None:
        reasons.append("sellerAccount named by the order")
    else:
        raise InvalidInputError(
            f"sellerAccount: no fulfillment rule routes this order ({_what(order)}); name "
            "sellerAccount, or add a routing rule for it"
        )
    chosen_vendor = vendor
    payment_found = _first(rules.payments, order)
    if payment_found is not None:
        index, payment_rule = payment_found
        if vendor is not None and vendor != payment_rule.vendor:
            raise InvalidInputError(
                f"vendor: {quote_input(vendor)} contradicts payment rule {index + 1} "
                f"({payment_rule.describe()}), which takes this order's payment through "
                f"{payment_rule.vendor}; leave vendor out or correct the rule"
            )
        chosen_vendor = payment_rule.vendor
        reasons.append(f"payment rule {index + 1} ({payment_rule.describe()})")
    elif chosen_vendor is not None:
        reasons.append("vendor named by the order")
    else:
        raise InvalidInputError(
            f"vendor: no payment rule routes this order ({_what(order)}); name vendor, or "
            "add a routing rule for it"
        )
    return Route(account, marketplace, chosen_vendor, tuple(reasons))
