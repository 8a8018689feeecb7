"""The demo's scenarios: sample orders that exercise every path of the saga.

Each scenario submits its order the way a shop would (over HTTP, to the local API), lets the
saga run against the sandboxes, and is then judged on the sandboxes' own state: what Opayo
captured, refunded or aborted, and what Amazon was asked to fulfil. The same scenarios back
`make demo` and the end-to-end tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from local_runtime.environment import LocalEnvironment
from sandbox.opayo.browser import answer_challenge

VENDOR_FIELD = "vendor"
AUTH = ("sandbox-integration-key", "sandbox-integration-password")
TEST_CARD = "4929000000006"
# Opayo sandbox magic amount (docs/sandbox-opayo.md): 403.00 is declined (NotAuthed).
DECLINED_AMOUNT = 40300
# Opayo's test gateway reads the 3-D Secure outcome from the cardholder name.
CHALLENGE_NAME = "CHALLENGE"
# What the shop's checkout page collects from the shopper's browser for 3-D Secure 2 and
# sends with a pi_card order (Pi's strongCustomerAuthentication object).
BROWSER_DATA: dict[str, Any] = {
    "notificationURL": "https://shop.example/checkout/3ds-return",
    "browserIP": "203.0.113.45",
    "browserAcceptHeader": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "browserJavascriptEnabled": True,
    "browserLanguage": "en-GB",
    "browserUserAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "challengeWindowSize": "Medium",
    "transType": "GoodsAndServicePurchase",
    "browserColorDepth": "24",
    "browserScreenHeight": 1080,
    "browserScreenWidth": 1920,
    "browserTZ": 0,
}
# Opayo cancels a challenge left unfinished this long (docs/sandbox-opayo.md).
OPAYO_CHALLENGE_TIMEOUT_SECONDS = 900


def tokenise_card(
    opayo: httpx.Client, vendor: str, card: str = TEST_CARD, cardholder_name: str = "Jane Doe"
) -> tuple[str, str]:
    """What the shopper's browser does at checkout against `vendor`'s Opayo (Pi): a merchant
    session key, then a card identifier for the card. Returns (msk, cardIdentifier)."""
    key = opayo.post("/api/v1/merchant-session-keys", json={"vendorName": vendor}, auth=AUTH)
    key.raise_for_status()
    msk = key.json()["merchantSessionKey"]
    identifier = opayo.post(
        "/api/v1/card-identifiers",
        headers={"Authorization": f"Bearer {msk}"},
        json={
            "cardDetails": {
                "cardholderName": cardholder_name,
                "cardNumber": card,
                "expiryDate": "1230",
                "securityCode": "123",
            }
        },
    )
    identifier.raise_for_status()
    return msk, identifier.json()["cardIdentifier"]


@dataclass
class Expectation:
    status: str
    outcome: str | None
    captures: int
    refunds: int
    fulfillment_orders: int
    fulfillment_status: str | None = None
    payment_state: str | None = None
    # The Opayo sandbox's own status of the transaction, when the scenario cares.
    opayo_status: str | None = None


@dataclass
class ScenarioResult:
    name: str
    order_id: str
    status: str | None = None
    payment_state: str | None = None
    fulfillment_status: str | None = None
    outcome: str | None = None
    tracking: str | None = None
    delivery: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


class DemoContext:
    """HTTP access to the local API and the sandboxes of a running LocalEnvironment."""

    def __init__(self, environment: LocalEnvironment) -> None:
        urls = environment.urls()
        self.environment = environment
        self.api = httpx.Client(base_url=urls["api"], timeout=60)
        self.amazon = httpx.Client(base_url=urls["amazon"], timeout=30)
        vendors = sorted(environment.opayo)
        if not vendors:
            raise RuntimeError("the template configures no Opayo vendor")
        self.vendor = vendors[0]
        self.opayo = httpx.Client(base_url=urls[f"opayo:{self.vendor}"], timeout=30)
        self.seller_account = _seller_account(environment)

    def close(self) -> None:
        for client in (self.api, self.amazon, self.opayo):
            client.close()

    # -- Opayo, as the shopper's browser and the shop would use it ---------------------------

    def card_identifier(
        self, card: str = TEST_CARD, cardholder_name: str = "Jane Doe"
    ) -> tuple[str, str]:
        return tokenise_card(self.opayo, self.vendor, card, cardholder_name)

    def deferred_transaction(
        self, vendor_tx_code: str, amount: int, *, transaction_type: str = "Deferred"
    ) -> str:
        """A Pi transaction the shop creates itself (a Deferred, or a Payment taken at once)."""
        msk, card = self.card_identifier()
        created = self.opayo.post(
            "/api/v1/transactions",
            auth=AUTH,
            json={
                "transactionType": transaction_type,
                "paymentMethod": {"card": {"merchantSessionKey": msk, "cardIdentifier": card}},
                "vendorTxCode": vendor_tx_code,
                "amount": amount,
                "currency": "GBP",
                "description": "Deposit taken by the shop",
                "customerFirstName": "Jane",
                "customerLastName": "Doe",
                "billingAddress": {
                    "address1": "88 Acacia Avenue",
                    "city": "London",
                    "postalCode": "SW1A 1AA",
                    "country": "GB",
                },
                "entryMethod": "Ecommerce",
                "strongCustomerAuthentication": BROWSER_DATA,
            },
        )
        created.raise_for_status()
        return str(created.json()["transactionId"])

    def register_server(
        self, vendor_tx_code: str, amount: int, *, tx_type: str = "DEFERRED"
    ) -> tuple[str, str]:
        form = {
            "VPSProtocol": "4.00",
            "TxType": tx_type,
            "Vendor": self.vendor,
            "VendorTxCode": vendor_tx_code,
            "Amount": f"{amount / 100:.2f}",
            "Currency": "GBP",
            "Description": "Demo order",
            "NotificationURL": f"{self.api.base_url}/webhooks/opayo/{self.vendor}",
            "BillingSurname": "Doe",
            "BillingFirstnames": "Jane",
            "BillingAddress1": "88 Acacia Avenue",
            "BillingCity": "London",
            "BillingPostCode": "SW1A 1AA",
            "BillingCountry": "GB",
            "DeliverySurname": "Doe",
            "DeliveryFirstnames": "Jane",
            "DeliveryAddress1": "88 Acacia Avenue",
            "DeliveryCity": "London",
            "DeliveryPostCode": "SW1A 1AA",
            "DeliveryCountry": "GB",
        }
        reply = self.opayo.post("/gateway/service/vspserver-register.vsp", data=form)
        reply.raise_for_status()
        fields = dict(line.split("=", 1) for line in reply.text.splitlines() if "=" in line)
        if fields.get("Status") != "OK":
            raise RuntimeError(f"Opayo refused the registration: {fields.get('StatusDetail')}")
        return fields["VPSTxId"], fields["SecurityKey"]

    def complete_server(self, vps_tx_id: str) -> None:
        done = self.opayo.post(
            f"/_sandbox/server/{vps_tx_id}/complete",
            json={"card": TEST_CARD, "expiryDate": "1230", "securityCode": "123"},
        )
        done.raise_for_status()

    def opayo_transaction(self, vendor_tx_code: str) -> dict[str, Any]:
        found = self.opayo.get(f"/_sandbox/transactions/{vendor_tx_code}")
        return dict(found.json()) if found.status_code == 200 else {}

    # -- the shop ------------------------------------------------------------------------------

    def submit(self, order: dict[str, Any], payment: dict[str, Any]) -> httpx.Response:
        return self.api.post(
            "/orders",
            json={
                "order": order,
                VENDOR_FIELD: self.vendor,
                "sellerAccount": self.seller_account,
                "payment": payment,
            },
        )

    def complete_challenge(self, order_id: str, challenge: dict[str, Any]) -> httpx.Response:
        """The shopper passes the bank's challenge; the shop's return page hands us the cRes."""
        returned = answer_challenge(
            challenge["acsUrl"], challenge["cReq"], challenge["threeDSSessionData"]
        )
        return self.api.post(
            f"/orders/{order_id}/3ds-challenge",
            json={"cRes": returned.c_res, "threeDSSessionData": returned.three_ds_session_data},
        )

    def run_pi_status_poller(self) -> None:
        """What the schedule does every few minutes: read pending Pi payments back."""
        runtime = self.environment.runtime
        assert runtime is not None
        invocation = runtime.invoke("pi_status_poller", {"vendor": self.vendor})
        if invocation.error_type is not None:
            raise RuntimeError(f"pi_status_poller failed: {invocation.error_message}")

    def order(self, order_id: str) -> dict[str, Any]:
        found = self.api.get(f"/orders/{order_id}")
        return dict(found.json()) if found.status_code == 200 else {}

    def amazon_fulfillment_orders(self, seller_fulfillment_order_id: str) -> int:
        sandbox = self.environment.amazon.app.state.sandbox  # type: ignore[union-attr]
        record = sandbox.state.store.get("fulfillment_order", seller_fulfillment_order_id)
        return 0 if record is None else 1


def _seller_account(environment: LocalEnvironment) -> str:
    template = environment.runtime.template  # type: ignore[union-attr]
    for resource in template.of_type("AWS::SecretsManager::Secret"):
        name = template.physical_name(resource.logical_id)
        if "/amazon/" in name:
            return name.rsplit("/", 1)[-1]
    raise RuntimeError("the template configures no Amazon seller account")


def sample_order(
    order_id: str, sku: str = "OPF-MUG-BLUE", unit: int = 1299, qty: int = 2
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "channel": "web",
        "placed_at": "2026-11-28T10:00:00Z",
        "currency": "GBP",
        "customer": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "shipping_address": {
            "name": "Jane Doe",
            "line1": "88 Acacia Avenue",
            "city": "London",
            "postal_code": "SW1A 1AA",
            "country_code": "GB",
        },
        "lines": [{"sku": sku, "quantity": qty, "unit_price": {"amount": unit, "currency": "GBP"}}],
        "totals": {"grand_total": {"amount": unit * qty, "currency": "GBP"}},
    }


@dataclass
class Scenario:
    name: str
    order_id: str
    expect: Expectation
    start: Callable[[DemoContext, Scenario], None]
    # Runs alone (it changes a sandbox-wide setting) after the concurrent ones.
    exclusive: bool = False
    # Called on every poll until it returns True (e.g. to cancel at the right moment).
    nudge: Callable[[DemoContext, Scenario, dict[str, Any]], bool] | None = None
    # Judged only after the after-sale phase (the carrier's clock moved on, the after-sale
    # tracker ran): a return, say. The demo runs that phase; the saga e2e tests skip these.
    after_sale: bool = False
    vendor_tx_code: str = ""

    def __post_init__(self) -> None:
        self.vendor_tx_code = self.vendor_tx_code or f"PAY-{self.order_id}"


def _card(
    ctx: DemoContext, s: Scenario, order: dict[str, Any], cardholder_name: str = "Jane Doe"
) -> httpx.Response:
    msk, card = ctx.card_identifier(cardholder_name=cardholder_name)
    reply = ctx.submit(
        order,
        {
            "type": "pi_card",
            "merchantSessionKey": msk,
            "cardIdentifier": card,
            "strongCustomerAuthentication": BROWSER_DATA,
        },
    )
    if reply.status_code not in (200, 201, 202):
        raise RuntimeError(f"POST /orders answered {reply.status_code}: {reply.text[:200]}")
    return reply


def _challenged(ctx: DemoContext, s: Scenario) -> dict[str, Any]:
    reply = _card(ctx, s, sample_order(s.order_id, sku="OPF-TEE-M"), CHALLENGE_NAME)
    if reply.status_code != 202:
        raise RuntimeError(f"expected a 3-D Secure challenge (202), got {reply.status_code}")
    return dict(reply.json()["challenge"])


def _challenge_passed(ctx: DemoContext, s: Scenario) -> None:
    challenge = _challenged(ctx, s)
    done = ctx.complete_challenge(s.order_id, challenge)
    if done.status_code != 200:
        raise RuntimeError(f"3ds-challenge answered {done.status_code}: {done.text[:200]}")


def _challenge_abandoned(ctx: DemoContext, s: Scenario) -> None:
    _challenged(ctx, s)
    # The shopper never comes back from the bank: Opayo cancels the transaction after 15
    # minutes, and the next run of the Pi status poller aborts the order.
    ctx.opayo.post(
        "/_sandbox/clock/advance", json={"seconds": OPAYO_CHALLENGE_TIMEOUT_SECONDS + 60}
    ).raise_for_status()
    ctx.run_pi_status_poller()


def _happy(ctx: DemoContext, s: Scenario) -> None:
    _card(ctx, s, sample_order(s.order_id))


def _declined(ctx: DemoContext, s: Scenario) -> None:
    _card(ctx, s, sample_order(s.order_id, unit=DECLINED_AMOUNT // 2))


def _out_of_stock(ctx: DemoContext, s: Scenario) -> None:
    _card(ctx, s, sample_order(s.order_id, sku="OPF-OUT-OF-STOCK", unit=1500, qty=1))


def _partly_in_stock(ctx: DemoContext, s: Scenario) -> None:
    # A mug ships; the two items out of stock do not, and are refunded (FillAllAvailable).
    order = sample_order(s.order_id, qty=1)
    order["lines"].append(
        {
            "sku": "OPF-OUT-OF-STOCK",
            "quantity": 2,
            "unit_price": {"amount": 1500, "currency": "GBP"},
        }
    )
    order["totals"] = {"grand_total": {"amount": 1299 + 3000, "currency": "GBP"}}
    _card(ctx, s, order)


def _return_when_shipped(ctx: DemoContext, s: Scenario, order: dict[str, Any]) -> bool:
    """The customer sends one mug back, damaged: the shop asks for a return authorization."""
    if not any(entry["event"] == "shipped" for entry in order.get("history") or []):
        return False
    reply = ctx.api.post(
        f"/orders/{s.order_id}/returns",
        json={
            "returnId": f"{s.order_id}-RMA",
            "items": [{"lineId": "1", "quantity": 1}],
            "reasonCode": "CR-DEFECTIVE",
            "comment": "arrived chipped",
        },
    )
    if reply.status_code not in (200, 201):
        raise RuntimeError(f"POST returns answered {reply.status_code}: {reply.text[:200]}")
    return True


def after_the_sale(
    ctx: DemoContext, late: Sequence[Scenario] = (), timeout: float = 30.0
) -> dict[str, Any]:
    """What time and the schedule do after the sale: the carrier delivers, Amazon receives
    returns, and the after-sale tracker reads both.

    Amazon's Return notification travels through the notifications queue before it makes the
    order due, so the tracker runs until every scenario judged after the sale (`late`) holds,
    or `timeout` seconds pass (the judge then reports what is missing). Returns the last run.
    """
    ctx.amazon.post("/_sandbox/clock/advance", json={"seconds": 7200}).raise_for_status()
    runtime = ctx.environment.runtime
    assert runtime is not None
    deadline = time.monotonic() + timeout
    while True:
        invocation = runtime.invoke("after_sale_tracker", {"sellerAccountId": ctx.seller_account})
        if invocation.error_type is not None:
            raise RuntimeError(f"after_sale_tracker failed: {invocation.error_message}")
        if all(judge(ctx, s).passed for s in late) or time.monotonic() >= deadline:
            return dict(invocation.payload or {})
        time.sleep(0.25)


def delivery(order: dict[str, Any]) -> str | None:
    """Each package's last tracking status, as `GET /orders/{id}` shows it."""
    return ", ".join(p["current_status"] for p in order.get("packages") or []) or None


def _capture_fails(ctx: DemoContext, s: Scenario) -> None:
    # The shop took a deposit (Deferred) smaller than the order: capture must not go ahead.
    transaction_id = ctx.deferred_transaction(s.vendor_tx_code, 1000)
    reply = ctx.submit(
        sample_order(s.order_id),
        {
            "type": "pi_transaction",
            "transactionId": transaction_id,
            "vendorTxCode": s.vendor_tx_code,
        },
    )
    if reply.status_code not in (200, 201):
        raise RuntimeError(f"POST /orders answered {reply.status_code}: {reply.text[:200]}")


def _server_duplicates(ctx: DemoContext, s: Scenario) -> None:
    order = sample_order(s.order_id, sku="OPF-TEE-M", unit=1850, qty=1)
    vps_tx_id, key = ctx.register_server(s.vendor_tx_code, 1850)
    reply = ctx.submit(
        order,
        {
            "type": "server",
            "vendorTxCode": s.vendor_tx_code,
            "vpsTxId": vps_tx_id,
            "securityKey": key,
        },
    )
    if reply.status_code not in (200, 201):
        raise RuntimeError(f"POST /orders answered {reply.status_code}: {reply.text[:200]}")
    ctx.opayo.post(
        "/_sandbox/notifications/faults",
        json={"seed": 7, "duplicate_probability": 1.0, "reorder": True},
    ).raise_for_status()
    ctx.complete_server(vps_tx_id)


def _throttle_storm(ctx: DemoContext, s: Scenario) -> None:
    rules = [
        {"operation": op, "kind": "throttle", "probability": 0.6, "times": 12}
        for op in ("getFulfillmentPreview", "createFulfillmentOrder", "getFulfillmentOrder")
    ]
    ctx.amazon.post("/_sandbox/faults", json={"seed": 42, "rules": rules}).raise_for_status()
    _card(ctx, s, sample_order(s.order_id, sku="OPF-CAP-RED", unit=999, qty=1))


def _cancel_after_capture(ctx: DemoContext, s: Scenario) -> None:
    # Amazon's clock stands still, so the order waits at Received, where it can be cancelled.
    ctx.amazon.post("/_sandbox/clock/factor", json={"factor": 0}).raise_for_status()
    _card(ctx, s, sample_order(s.order_id))


def _cancel_when_captured(ctx: DemoContext, s: Scenario, order: dict[str, Any]) -> bool:
    history = [entry["event"] for entry in order.get("history", [])]
    if "fulfillment_order_released" not in history:
        return False
    reply = ctx.api.post(f"/orders/{s.order_id}/cancel")
    if reply.status_code != 202:
        raise RuntimeError(f"cancel answered {reply.status_code}: {reply.text[:200]}")
    return True


def scenarios(prefix: str = "DEMO") -> list[Scenario]:
    return [
        Scenario(
            "happy path: paid, captured once, shipped",
            f"{prefix}-HAPPY",
            Expectation("shipped", None, 1, 0, 1, "Complete", "captured"),
            _happy,
        ),
        Scenario(
            "declined card: nothing sent to Amazon",
            f"{prefix}-DECLINED",
            Expectation("payment_failed", "payment_declined", 0, 0, 0, None, "declined"),
            _declined,
        ),
        Scenario(
            "SKU out of stock: rejected before capture, payment aborted",
            f"{prefix}-NOSTOCK",
            Expectation("cancelled", "fulfillment_rejected", 0, 0, 0, None, "aborted"),
            _out_of_stock,
        ),
        Scenario(
            "partly in stock (FillAllAvailable): what is in stock ships, the rest is refunded",
            f"{prefix}-PARTIAL",
            Expectation("partially_refunded", None, 1, 1, 1, "CompletePartialled", "captured"),
            _partly_in_stock,
        ),
        Scenario(
            "return: a mug sent back, received by Amazon, refunded",
            f"{prefix}-RETURN",
            Expectation("returned", None, 1, 1, 1, "Complete", "captured"),
            _happy,
            nudge=_return_when_shipped,
            after_sale=True,
        ),
        Scenario(
            "capture refused: fulfillment cancelled, authorisation aborted",
            f"{prefix}-NOCAPTURE",
            Expectation("cancelled", "capture_failed", 0, 0, 1, "Cancelled", "aborted"),
            _capture_fails,
            vendor_tx_code=f"SHOP-{prefix}-NOCAPTURE",
        ),
        Scenario(
            "Server payment, notifications duplicated and reordered",
            f"{prefix}-SERVER",
            Expectation("shipped", None, 1, 0, 1, "Complete", "captured"),
            _server_duplicates,
            vendor_tx_code=f"SRV-{prefix}-SERVER",
        ),
        Scenario(
            "3-D Secure challenge passed at the bank: captured once, shipped",
            f"{prefix}-3DS",
            Expectation("shipped", None, 1, 0, 1, "Complete", "captured", "Ok"),
            _challenge_passed,
        ),
        Scenario(
            "3-D Secure challenge abandoned: nothing authorised, order aborted",
            f"{prefix}-3DS-GONE",
            Expectation(
                "cancelled", "3ds_challenge_abandoned", 0, 0, 0, None, "aborted", "Rejected"
            ),
            _challenge_abandoned,
            # It moves Opayo's clock on by 16 minutes.
            exclusive=True,
        ),
        Scenario(
            "SP-API 429 storm: retried within the rate limit, shipped",
            f"{prefix}-THROTTLED",
            Expectation("shipped", None, 1, 0, 1, "Complete", "captured"),
            _throttle_storm,
            exclusive=True,
        ),
        Scenario(
            "merchant cancels after capture: fulfillment cancelled, refunded",
            f"{prefix}-CANCEL",
            Expectation("refunded", "merchant_cancelled", 1, 1, 1, "Cancelled", "captured"),
            _cancel_after_capture,
            exclusive=True,
            nudge=_cancel_when_captured,
        ),
    ]


TERMINAL = {
    "shipped",
    "refunded",
    "partially_refunded",
    "cancelled",
    "payment_failed",
    "unfulfillable",
}


def tracking_numbers(order: dict[str, Any]) -> str | None:
    """The carrier tracking numbers on the order, as `GET /orders/{id}` shows them."""
    shipments = (order.get("fulfillment") or {}).get("shipments") or []
    numbers = [
        p["tracking_number"] for s in shipments for p in s["packages"] if p.get("tracking_number")
    ]
    return ", ".join(numbers) or None


def finished(order: dict[str, Any]) -> bool:
    """Ended: an outcome, or shipped with no refund still waiting for Opayo."""
    if order.get("status") not in TERMINAL:
        return False
    if order.get("outcome"):
        return True
    shipped = any(entry["event"] == "shipped" for entry in order.get("history") or [])
    refunds = order.get("refunds") or []
    return shipped and all(r["status"] != "pending" for r in refunds)


def judge(ctx: DemoContext, scenario: Scenario) -> ScenarioResult:
    order = ctx.order(scenario.order_id)
    payment = order.get("payment") or {}
    result = ScenarioResult(
        scenario.name,
        scenario.order_id,
        order.get("status"),
        payment.get("state"),
        order.get("fulfillment_status"),
        order.get("outcome"),
        tracking_numbers(order),
        delivery(order),
    )
    e = scenario.expect
    checks: list[tuple[str, Any, Any]] = [
        ("status", result.status, e.status),
        ("outcome", result.outcome, e.outcome),
        ("fulfillment status", result.fulfillment_status, e.fulfillment_status),
    ]
    if e.payment_state is not None:
        checks.append(("payment state", result.payment_state, e.payment_state))
    opayo = ctx.opayo_transaction(scenario.vendor_tx_code)
    if opayo.get("integration") == "server":
        # A Server payment is captured through the Shared Protocol, never through Pi.
        releases = ctx.opayo.get(
            "/_sandbox/shared-protocol", params={"vendorTxCode": scenario.vendor_tx_code}
        ).json()["posts"]
        accepted = [p for p in releases if p["txType"] == "RELEASE" and p["status"] == "OK"]
        checks.append(("Shared Protocol releases", len(accepted), e.captures))
    if e.opayo_status is not None:
        checks.append(("Opayo status", opayo.get("status"), e.opayo_status))
    checks += [
        ("Opayo captures", opayo.get("captureCount", 0), e.captures),
        ("Opayo refunds", opayo.get("refundCount", 0), e.refunds),
        (
            "Amazon fulfillment orders",
            ctx.amazon_fulfillment_orders(scenario.order_id),
            e.fulfillment_orders,
        ),
    ]
    for what, got, wanted in checks:
        if got != wanted:
            result.problems.append(f"{what}: {got!r}, expected {wanted!r}")
    return result


def settled(scenario: Scenario, order: dict[str, Any], nudged: set[str]) -> bool:
    """Ended, and its nudge (if it has one) has done its work: an order that ships before
    its return was asked for has not ended its scenario."""
    ready = scenario.nudge is None or scenario.order_id in nudged
    return ready and finished(order)


def wait_for(
    ctx: DemoContext, scenario: Scenario, deadline: float, nudged: set[str] | None = None
) -> dict[str, Any]:
    """The order once `settled`, or as it stands at `deadline`. Every look at the order gives
    its nudge a chance, the last one too; `nudged` (the ids whose nudge has done its work)
    carries that across calls, so a caller polling in short slices neither misses the moment
    nor nudges twice."""
    done: set[str] = set() if nudged is None else nudged
    while True:
        order = ctx.order(scenario.order_id)
        nudge = None if scenario.order_id in done or not order else scenario.nudge
        if nudge is not None and nudge(ctx, scenario, order):
            done.add(scenario.order_id)
        if settled(scenario, order, done) or time.monotonic() >= deadline:
            return order
        time.sleep(0.1)
