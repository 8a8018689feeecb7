"""Two seller accounts and two Opayo vendors from one deployment, through the real template
on the local runtime, judged on the sandboxes' own records.

The merchant sells from the UK into the UK and the EU (cdk.json's `twoaccounts` stage, the
prod example's shape with sandbox vendors): UK orders are fulfilled by `uk-main` from UK stock
and paid in GBP through one vendor, EU orders by `eu-main` (Germany and France) from EU stock
and paid in EUR through another.
Each account has its own Amazon sandbox, which keeps UK and EU stock in separate pools
(docs/sandbox-amazon.md, "Marketplaces and stock pools"). The shop names neither the account
nor the vendor: the routing rules choose them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo.scenarios import BROWSER_DATA, sample_order, tokenise_card
from local_runtime.environment import EnvironmentOptions, LocalEnvironment
from tests.fixtures.cloud_assembly import synthesize_stage

pytestmark = pytest.mark.e2e
TIME_FACTOR = 600.0
UK = "A1F83G8C2ARO7P"
DE = "A1PA6795UKMFR9"
FR = "A13V1IB3VIYZZH"
UK_VENDOR = "sandboxvendor"
EU_VENDOR = "sandboxeu"
# cdk.json's `twoaccounts` stage: the prod example's shape, with sandbox vendors.
STAGE = "twoaccounts"


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    template = synthesize_stage(tmp_path_factory.mktemp("two-accounts-cdk-out"), STAGE)
    options = EnvironmentOptions(
        template=template,
        time_factor=TIME_FACTOR,
        run_schedules=False,
        function_environment={"FULFILLMENT_POLICY": "FillAllAvailable"},
    )
    with LocalEnvironment(options) as running:
        yield running


@pytest.fixture(scope="module")
def api(environment: LocalEnvironment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=environment.urls()["api"], timeout=60) as client:
        yield client


def _amazon(environment: LocalEnvironment, account: str) -> Any:
    """The Amazon sandbox (its state) of one seller account."""
    return environment.amazons[account].app.state.sandbox  # type: ignore[attr-defined]


def _opayo(environment: LocalEnvironment, vendor: str) -> httpx.Client:
    return httpx.Client(base_url=environment.opayo[vendor].url, timeout=30)


def _transactions(environment: LocalEnvironment, vendor: str) -> int:
    with _opayo(environment, vendor) as opayo:
        found = opayo.get("/_sandbox/transactions")
        found.raise_for_status()
        return len(found.json()["transactions"])


def _pi_card(environment: LocalEnvironment, vendor: str) -> dict[str, Any]:
    """A card tokenised at `vendor`'s Opayo, as the shop's checkout page would."""
    with _opayo(environment, vendor) as opayo:
        msk, card = tokenise_card(opayo, vendor)
    return {
        "type": "pi_card",
        "merchantSessionKey": msk,
        "cardIdentifier": card,
        "strongCustomerAuthentication": BROWSER_DATA,
    }


def _in(country: str, city: str, postal_code: str, order: dict[str, Any]) -> dict[str, Any]:
    """`order` shipped to `country`, priced in EUR when it is not the UK."""
    order["shipping_address"].update(country_code=country, city=city, postal_code=postal_code)
    if country != "GB":
        order["currency"] = "EUR"
        for line in order["lines"]:
            line["unit_price"]["currency"] = "EUR"
        order["totals"]["grand_total"]["currency"] = "EUR"
    return order


def _until_shipped(api: httpx.Client, order_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = api.get(f"/orders/{order_id}")
        order: dict[str, Any] = found.json() if found.status_code == 200 else {}
        if order.get("status") in ("shipped", "compensated") or time.monotonic() > deadline:
            return order
        time.sleep(0.2)


def _pool(sandbox: Any, pool: str, sku: str) -> int:
    record = sandbox.state.inventory(sku, pool)
    return int(record["quantity"]) if record else 0


def test_a_uk_and_a_german_order_go_to_their_own_accounts_pools_and_vendors(
    environment: LocalEnvironment, api: httpx.Client
) -> None:
    uk_amazon, eu_amazon = _amazon(environment, "uk-main"), _amazon(environment, "eu-main")
    assert uk_amazon.options.credentials.seller_id != eu_amazon.options.credentials.seller_id
    uk_before = _pool(uk_amazon, "UK", "OPF-MUG-BLUE")
    eu_before = _pool(eu_amazon, "EU", "OPF-MUG-BLUE")

    london = sample_order("MA-GB-1")
    berlin = _in("DE", "Berlin", "10117", sample_order("MA-DE-1"))
    for order, vendor in ((london, UK_VENDOR), (berlin, EU_VENDOR)):
        # Neither the seller account nor the vendor is named: the rules choose.
        reply = api.post("/orders", json={"order": order, "payment": _pi_card(environment, vendor)})
        assert reply.status_code == 201, reply.text

    shipped = {order_id: _until_shipped(api, order_id) for order_id in ("MA-GB-1", "MA-DE-1")}
    for order_id, account, vendor, marketplace in (
        ("MA-GB-1", "uk-main", UK_VENDOR, UK),
        ("MA-DE-1", "eu-main", EU_VENDOR, DE),
    ):
        order = shipped[order_id]
        assert order["status"] == "shipped", order.get("history")
        assert (order["seller_account"], order["vendor"]) == (account, vendor)
        assert order["order"]["marketplace_id"] == marketplace
        # Opayo's own record: the payment was taken by the routed vendor, in its currency.
        with _opayo(environment, vendor) as opayo:
            payment = opayo.get(f"/_sandbox/transactions/{order['payment']['vendor_tx_code']}")
        assert payment.status_code == 200, payment.text
        assert payment.json()["currency"] == ("GBP" if vendor == UK_VENDOR else "EUR")

    # Amazon's own records: each fulfillment order is at its account's Amazon, against the
    # routed marketplace, and took its units from that marketplace's pool only.
    uk_sfo = shipped["MA-GB-1"]["fulfillment"]["seller_fulfillment_order_id"]
    de_sfo = shipped["MA-DE-1"]["fulfillment"]["seller_fulfillment_order_id"]
    uk_record = uk_amazon.state.store.get("fulfillment_order", uk_sfo)
    de_record = eu_amazon.state.store.get("fulfillment_order", de_sfo)
    assert uk_record["order"]["marketplaceId"] == UK
    assert de_record["order"]["marketplaceId"] == DE
    assert eu_amazon.state.store.get("fulfillment_order", uk_sfo) is None
    assert uk_amazon.state.store.get("fulfillment_order", de_sfo) is None
    assert _pool(uk_amazon, "UK", "OPF-MUG-BLUE") == uk_before - 2
    assert _pool(eu_amazon, "EU", "OPF-MUG-BLUE") == eu_before - 2


def test_an_order_no_rule_routes_is_400_and_nothing_reaches_opayo(
    environment: LocalEnvironment, api: httpx.Client
) -> None:
    before = {v: _transactions(environment, v) for v in (UK_VENDOR, EU_VENDOR)}
    oslo = sample_order("MA-NO-1")
    oslo["shipping_address"].update(country_code="NO", city="Oslo", postal_code="0150")
    payment = _pi_card(environment, UK_VENDOR)  # a GBP card payment, to a country we do not serve

    reply = api.post("/orders", json={"order": oslo, "payment": payment})

    assert reply.status_code == 400, reply.text
    assert "no fulfillment rule routes this order" in reply.text
    assert api.get("/orders/MA-NO-1").status_code == 404
    assert {v: _transactions(environment, v) for v in (UK_VENDOR, EU_VENDOR)} == before


def test_each_accounts_poller_reads_every_marketplace_of_its_account(
    environment: LocalEnvironment,
) -> None:
    runtime = environment.runtime
    assert runtime is not None
    pollers = [name for name in runtime.schedules.schedules if "OrdersPolling" in name]
    assert len(pollers) == 2, sorted(runtime.schedules.schedules)
    for name in pollers:
        invocation = runtime.schedules.fire(name)
        assert invocation.error_type is None, invocation.error_message
    for account, marketplaces in (("uk-main", [UK]), ("eu-main", [DE, FR])):
        calls = [c for c in _amazon(environment, account).calls if c.operation_id == "getOrders"]
        assert calls, f"{account}'s poller did not call its Amazon"
        assert sorted(calls[-1].param_list("MarketplaceIds")) == sorted(marketplaces)
