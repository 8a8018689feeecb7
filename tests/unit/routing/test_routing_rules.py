"""Routing rules: every configured country routes to its pool, names that contradict a rule and
orders nothing routes are refused (before Opayo is called, when it is intake asking)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from opayo_fba.errors import InvalidInputError
from opayo_fba.intake.orders import IntakeDependencies, KnownAccounts, OrderSubmission, submit_order
from opayo_fba.model import Order
from opayo_fba.opayo.pi import CardPayment
from opayo_fba.routing import EU_MEMBER_STATES, RoutingRules, route_order
from tests.fixtures.saga_world import World, make_order
from tests.unit.intake.test_order_request_bounds import (
    ACCOUNTS,
    SERVER,
    NoStarts,
    Recorder,
    request,
)

UK = "A1F83G8C2ARO7P"
DE = "A1PA6795UKMFR9"
RULES = RoutingRules.model_validate(
    {
        "fulfillment": [
            {
                "countries": ["GB", "JE", "GG", "IM"],
                "sellerAccount": "uk-main",
                "marketplaceId": UK,
            },
            {"countries": ["EU"], "sellerAccount": "eu-main", "marketplaceId": DE},
        ],
        "payments": [
            {"currencies": ["GBP"], "vendor": "ukvendor"},
            {"currencies": ["EUR"], "channels": ["web", "erp"], "vendor": "euvendor"},
        ],
    }
)
EU_COUNTRIES = sorted(EU_MEMBER_STATES)


def order_to(country: str, currency: str = "GBP", channel: str = "web", **more: Any) -> Order:
    base = make_order("W-3001").model_dump(mode="json")
    base["shipping_address"]["country_code"] = country
    if country == "US":
        base["shipping_address"]["postal_code"] = "10001"
    base["channel"] = channel
    base["currency"] = currency
    for line in base["lines"]:
        line["unit_price"]["currency"] = currency
    base["totals"]["grand_total"]["currency"] = currency
    base.update(more)
    return Order.model_validate(base)


@given(st.sampled_from(["GB", "JE", "GG", "IM"]))
def test_every_uk_pool_country_routes_to_the_uk_account(country: str) -> None:
    route = route_order(RULES, order_to(country))
    assert (route.seller_account, route.marketplace_id, route.vendor) == (
        "uk-main",
        UK,
        "ukvendor",
    )


@given(st.sampled_from(EU_COUNTRIES))
def test_every_eu_member_routes_to_the_eu_pool(country: str) -> None:
    route = route_order(RULES, order_to(country, "EUR"))
    assert (route.seller_account, route.marketplace_id, route.vendor) == (
        "eu-main",
        DE,
        "euvendor",
    )
    assert route.reasons[0].startswith("fulfillment rule 2")


def test_the_eu_group_is_the_27_member_states() -> None:
    assert len(EU_MEMBER_STATES) == 27
    assert "GB" not in EU_MEMBER_STATES
    assert {"DE", "FR", "IE", "HR"} <= EU_MEMBER_STATES


def test_a_destination_no_rule_covers_is_refused_with_the_fix() -> None:
    with pytest.raises(InvalidInputError, match=r"^sellerAccount: no fulfillment rule.*US"):
        route_order(RULES, order_to("US", "USD"))
    # ... unless the order names its account: the name is the route.
    named = route_order(RULES, order_to("US", "GBP"), seller_account="uk-main")
    assert (named.seller_account, named.vendor) == ("uk-main", "ukvendor")


def test_a_currency_no_payment_rule_covers_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"^vendor: no payment rule"):
        route_order(RULES, order_to("DE", "EUR", channel="phone"))
    assert route_order(RULES, order_to("DE", "EUR", "phone"), vendor="euvendor").vendor == (
        "euvendor"
    )


def test_names_that_contradict_the_rule_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"^sellerAccount: 'uk-main' contradicts"):
        route_order(RULES, order_to("DE", "EUR"), seller_account="uk-main")
    with pytest.raises(InvalidInputError, match=r"^vendor: 'euvendor' contradicts"):
        route_order(RULES, order_to("GB"), vendor="euvendor")
    with pytest.raises(InvalidInputError, match=r"^order\.marketplace_id: 'A13V1IB3VIYZZH'"):
        route_order(RULES, order_to("FR", "EUR", marketplace_id="A13V1IB3VIYZZH"))
    # Naming what the rule chooses anyway is fine.
    agreed = route_order(RULES, order_to("DE", "EUR"), seller_account="eu-main", vendor="euvendor")
    assert agreed.seller_account == "eu-main"


def test_without_rules_an_order_must_name_both() -> None:
    none = RoutingRules()
    with pytest.raises(InvalidInputError, match=r"^sellerAccount: "):
        route_order(none, order_to("GB"))
    with pytest.raises(InvalidInputError, match=r"^vendor: "):
        route_order(none, order_to("GB"), seller_account="uk-main")
    route = route_order(none, order_to("GB"), seller_account="uk-main", vendor="sandbox")
    assert route.marketplace_id is None


@pytest.mark.parametrize(
    "rules",
    [
        {"fulfillment": [{"countries": ["XX"], "sellerAccount": "a", "marketplaceId": UK}]},
        {"fulfillment": [{"countries": ["gb"], "sellerAccount": "a", "marketplaceId": UK}]},
        {"fulfillment": [{"sellerAccount": "a", "marketplaceId": "not-an-id"}]},
        {"payments": [{"currencies": ["pounds"], "vendor": "v"}]},
        {"payments": [{"vendor": "Upper"}]},
        {"payments": [{"vendor": "v", "colour": "red"}]},
    ],
)
def test_malformed_rules_are_refused(rules: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RoutingRules.model_validate(rules)


def test_intake_routes_an_order_that_names_nothing(world: World) -> None:
    """An order nothing routes, or one whose names contradict its rule, stops at routing:
    Opayo is never called (the recorder would fail the test) and nothing is stored."""
    document = request()
    del document["vendor"], document["sellerAccount"]
    document["order"]["shipping_address"].update(country_code="US", postal_code="10001")
    payments = Recorder()
    deps = IntakeDependencies(
        store=world.store,
        payments=payments,
        starter=NoStarts(),
        card_payment=CardPayment,
        seal=lambda key, order_id: "sealed",
        accounts=ACCOUNTS,
        routing=RULES,
    )
    with pytest.raises(InvalidInputError, match=r"^sellerAccount: no fulfillment rule"):
        submit_order(OrderSubmission.model_validate(document), deps)
    assert payments.calls == []
    assert world.store.find("W-2001") is None
    # A contradiction is refused before Opayo too.
    document = request()
    with pytest.raises(InvalidInputError, match=r"^vendor: 'sandbox' contradicts"):
        submit_order(OrderSubmission.model_validate(document), deps)
    assert payments.calls == []


def test_a_routed_order_is_stored_under_its_routes_account_and_marketplace(world: World) -> None:
    document = request(payment=SERVER)
    del document["vendor"], document["sellerAccount"]
    document["order"] = order_to("DE", "EUR").model_dump(mode="json")
    deps = IntakeDependencies(
        store=world.store,
        payments=Recorder(),
        starter=NoStarts(),
        card_payment=CardPayment,
        seal=lambda key, order_id: "sealed",
        accounts=KnownAccounts(
            vendors=frozenset({"ukvendor", "euvendor"}),
            marketplaces={"uk-main": frozenset({UK}), "eu-main": frozenset({DE})},
        ),
        routing=RULES,
    )
    stored = submit_order(OrderSubmission.model_validate(document), deps)
    assert (stored.seller_account, stored.vendor, stored.order.marketplace_id) == (
        "eu-main",
        "euvendor",
        DE,
    )
    assert world.store.get("W-3001").seller_account == "eu-main"


def test_the_fulfillment_preview_is_asked_in_the_routed_marketplace() -> None:
    """The preview must draw on the pool the order will use: the create body's marketplace."""
    from opayo_fba.amazon.spapi_models import validate_request_body
    from opayo_fba.convert.fba_outbound import create_fulfillment_order_request
    from opayo_fba.saga.steps import preview_request

    order = order_to("DE", "EUR", marketplace_id=DE)
    body = create_fulfillment_order_request(order).body
    preview = preview_request(body)
    assert preview["marketplaceId"] == DE
    validate_request_body("getFulfillmentPreview", preview)
    unrouted = preview_request(create_fulfillment_order_request(order_to("GB")).body)
    assert "marketplaceId" not in unrouted
    validate_request_body("getFulfillmentPreview", unrouted)


def test_a_routed_order_is_released_in_its_own_marketplace(world: World) -> None:
    from opayo_fba.saga import steps
    from tests.fixtures.saga_world import authorised_payment

    order = make_order("W-1001").model_copy(update={"marketplace_id": "A13V1IB3VIYZZH"})
    world.add_order(order, authorised_payment("W-1001"))
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    state = steps.capture_payment(state, world.deps)
    steps.release_fulfillment_order(state, world.deps)
    assert world.amazon.release_marketplaces == ["A13V1IB3VIYZZH"]
