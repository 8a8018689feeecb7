"""The console in a real browser (Playwright driving Chromium) against the local runtime.

Orders are submitted through the API as a shop would and paid with the Opayo sandbox; the
console, started as `opayo-fba local up` starts it, shows them reach `shipped`, filters and
searches them and tells one's story. Each security rule is tried from the browser: no token,
a rebound host name, a POST without the CSRF token or from another origin, no inline script
(the CSP reports nothing), escaped output. The pages' screenshots go to docs/console/.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from tests.e2e.browser import (
    REBOUND_HOST,
    accessibility_violations,
    origin,
    phone_overflow,
    screenshot,
    sign_in,
)
from tests.fixtures.polling import until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHIPPED_WITHIN_MS = 120_000
ORDERS = ("CONSOLE-1", "CONSOLE-2", "CONSOLE-3")
# A line title with markup in it: the pages must show it as text.
MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@pytest.fixture(scope="module")
def submitted(demo: DemoContext) -> dict[str, str]:
    """Paid orders submitted through the API: order id -> vendorTxCode."""
    codes = {}
    for n, order_id in enumerate(ORDERS):
        order = sample_order(order_id, qty=n + 1)
        if order_id == ORDERS[-1]:
            order["lines"][0]["title"] = MARKUP
        msk, card = demo.card_identifier()
        reply = demo.submit(
            order,
            {
                "type": "pi_card",
                "merchantSessionKey": msk,
                "cardIdentifier": card,
                "strongCustomerAuthentication": BROWSER_DATA,
            },
        )
        assert reply.status_code in (200, 201), reply.text
        codes[order_id] = str(reply.json()["payment"]["vendor_tx_code"])
    return codes


def test_without_the_token_the_console_refuses_and_says_where_the_link_is(
    page: Page, console: str
) -> None:
    response = page.goto(origin(console) + "/orders")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("403: not signed in")
    expect(page.locator("main")).to_contain_text("?token=")
    screenshot(page, "refused")
    wrong = page.goto(origin(console) + "/?token=not-this-consoles")
    assert wrong is not None
    assert wrong.status == 403


def test_a_rebound_host_name_is_refused_even_with_the_token(page: Page, console: str) -> None:
    """A page whose name resolves to 127.0.0.1 (DNS rebinding) sends its own Host."""
    rebound = console.replace("127.0.0.1", REBOUND_HOST)
    response = page.goto(rebound)
    assert response is not None
    assert response.status == 400
    expect(page.locator("body")).to_contain_text("answers only at http://127.0.0.1")
    assert page.context.cookies() == []


def test_the_token_opens_a_strict_http_only_session_and_leaves_the_url(
    page: Page, console: str
) -> None:
    sign_in(page, console)
    assert "token" not in page.url
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it


def test_orders_submitted_through_the_api_reach_shipped_on_the_orders_page(
    page: Page, console: str, submitted: dict[str, str], watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded under the CSP
    for order_id in ORDERS:
        row = page.locator(f'tr[data-order-id="{order_id}"]')
        # No reload: htmx refreshes the list every 5 s.
        expect(row.locator(".status")).to_have_text("shipped", timeout=SHIPPED_WITHIN_MS)
    row = page.locator(f'tr[data-order-id="{ORDERS[0]}"]')
    expect(row).to_contain_text("J*** D**")  # customers masked in lists
    expect(row).to_contain_text("j***@e******.com")
    expect(page.locator("#orders")).not_to_contain_text("jane@example.com")
    screenshot(page, "orders")


def test_the_today_page_counts_the_orders_that_shipped_today(
    page: Page, console: str, submitted: dict[str, str], watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    for order_id in ORDERS:  # shipped, as the Orders page showed
        expect(page.locator(f'tr[data-order-id="{order_id}"] .status')).to_have_text(
            "shipped", timeout=SHIPPED_WITHIN_MS
        )
    page.get_by_role("link", name="Today").click()
    expect(page.get_by_role("heading", name=re.compile("^Today"))).to_be_visible()
    # Today counts an order shipped once Amazon's shipment with its packages is recorded,
    # which can come a moment after the status reads shipped: look again, within a bound.
    deadline = time.monotonic() + SHIPPED_WITHIN_MS / 1000
    while True:
        received = int(page.locator('[data-figure="received"]').inner_text())
        shipped = int(page.locator('[data-figure="shipped"]').inner_text())
        if shipped >= len(ORDERS) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
        page.reload()
    assert received >= len(ORDERS)
    assert shipped >= len(ORDERS)
    expect(page.locator('[data-figure="captured-GBP"]')).to_contain_text("GBP")
    expect(page.locator("figure.chart svg")).to_have_count(3)
    screenshot(page, "today")


def test_the_settings_page_says_what_to_register_with_opayo(
    page: Page, console: str, environment: LocalEnvironment
) -> None:
    sign_in(page, console)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    runtime = environment.runtime
    assert runtime is not None
    expect(page.locator("code.webhook").first).to_have_text(
        re.compile(re.escape(runtime.api_url.rstrip("/")) + r"/webhooks/opayo/\w+")
    )
    expect(page.locator('tr[data-job="orders_poller"]')).to_contain_text("rate(5 minutes)")
    expect(page.locator("#register").locator("..")).to_contain_text("no egress IP")
    screenshot(page, "settings")


def test_the_accessibility_checks_find_what_they_are_for(page: Page, console: str) -> None:
    """Every screenshot first passes axe-core and the phone width (tests/e2e/browser.py):
    here those checks are shown to fail on a page that breaks them."""
    sign_in(page, console)
    assert accessibility_violations(page) == []
    assert phone_overflow(page) <= 0
    page.evaluate(
        """() => {
            const main = document.querySelector("main");
            main.append(document.createElement("button"));  // a button with no name
            const wide = document.createElement("div");
            wide.textContent = "a line wider than any phone";
            wide.style.width = "2000px";  // (the CSP refuses a style attribute in markup)
            main.append(wide);
        }"""
    )
    assert "button-name" in {v["id"] for v in accessibility_violations(page)}
    assert phone_overflow(page) > 0


def test_the_orders_page_works_from_the_keyboard(
    page: Page, console: str, submitted: dict[str, str]
) -> None:
    sign_in(page, console)
    for _ in range(30):  # Tab through the page's controls, in order, to the search field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "search":
            break
    else:
        pytest.fail("the search field cannot be reached with Tab")
    page.keyboard.type(ORDERS[0])
    page.keyboard.press("Enter")
    expect(page.locator(f'tr[data-order-id="{ORDERS[0]}"]')).to_be_visible()
    link = page.locator(f'tr[data-order-id="{ORDERS[0]}"] a').first
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile(f"Order {ORDERS[0]}"))).to_be_visible()


def test_the_list_filters_by_status_and_date_and_searches_by_each_id(
    page: Page, console: str, submitted: dict[str, str], watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    page.get_by_label("Status").select_option("payment_failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=payment_failed"))
    expect(page.locator("#orders")).to_contain_text("No orders match these filters")
    page.get_by_label("Status").select_option("")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tr[data-order-id]")
    expect(rows).not_to_have_count(0)
    statuses = dict(
        zip(
            rows.evaluate_all("rs => rs.map(r => r.dataset.orderId)"),
            rows.locator(".status").all_inner_texts(),
            strict=True,
        )
    )
    page.get_by_label("Status").select_option("shipped")
    page.get_by_role("button", name="Filter").click()
    expect(rows, f"the orders' statuses unfiltered: {statuses}").to_have_count(len(ORDERS))
    page.get_by_label("Received from").fill("2000-01-01")
    page.get_by_label("to", exact=True).fill("2000-01-31")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-order-id]")).to_have_count(0)

    search = page.get_by_role("searchbox")
    order_id = ORDERS[1]
    for text in (order_id, submitted[order_id]):
        search.fill(text)
        page.get_by_role("button", name="Search").click()
        expect(page.locator("tr[data-order-id]")).to_have_count(1)
        expect(page.locator(f'tr[data-order-id="{order_id}"]')).to_be_visible()
    screenshot(page, "search")


def test_an_orders_page_shows_its_whole_story_in_time_order(
    page: Page, console: str, submitted: dict[str, str], watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    page.get_by_role("link", name=ORDERS[0], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Order {ORDERS[0]}")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("placed by the shopper")
    expect(timeline).to_contain_text("saga started")  # from Step Functions' history

    def succeeded() -> bool:
        """The saga's last steps come after the status reads shipped: the page tells its
        history as it is when loaded, so it is loaded again until the saga has ended."""
        if "saga succeeded" in timeline.inner_text():
            return True
        page.reload()
        return False

    until("the order's saga to succeed", succeeded, seconds=SHIPPED_WITHIN_MS / 1000, every=0.5)
    expect(timeline.locator("li.source-saga")).not_to_have_count(0)
    expect(timeline.locator("li.source-shipment")).not_to_have_count(0)
    times = timeline.locator("time").evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
    assert times == sorted(times)
    # The sellerFulfillmentOrderId it shows finds the order too.
    fulfillment_order_id = page.locator("dt:text-is('sellerFulfillmentOrderId') + dd").inner_text()
    expect(page.locator("main")).not_to_contain_text("4929")  # only the last four digits
    screenshot(page, "order")
    page.goto(f"{origin(console)}/orders?q={fulfillment_order_id}")
    expect(page.locator(f'tr[data-order-id="{ORDERS[0]}"]')).to_be_visible()


def test_markup_in_an_order_is_shown_as_text(
    page: Page, console: str, submitted: dict[str, str], watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    page.goto(f"{origin(console)}/orders/{ORDERS[-1]}")
    expect(page.locator("main")).to_contain_text(MARKUP)
    page.goto(f"{origin(console)}/orders")
    page.get_by_role("searchbox").fill("<script>alert(1)</script>")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("search for an order id")


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    page: Page, console: str, watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    page.locator("form.sign-out input[name=csrf_token]").evaluate("field => field.remove()")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("main")).to_contain_text("CSRF token is missing or wrong")
    page.goto(f"{origin(console)}/orders")
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")  # still signed in
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed out")
    response = page.goto(f"{origin(console)}/orders")
    assert response is not None
    assert response.status == 403


def test_a_post_from_another_origin_is_refused_even_with_the_token(
    page: Page, console: str, environment: LocalEnvironment
) -> None:
    """Another page on this machine (the Opayo sandbox's origin: another port) posts to the
    console; the browser sends the session cookie (same site), the Origin check refuses."""
    sign_in(page, console)
    csrf = page.locator("form.sign-out input[name=csrf_token]").get_attribute("value")
    assert environment.opayo
    other = next(iter(environment.opayo.values())).url
    page.goto(other + "/")
    page.evaluate(
        """([action, csrf]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            const field = document.createElement('input');
            field.name = 'csrf_token';
            field.value = csrf;
            form.appendChild(field);
            document.body.appendChild(form);
            form.submit();
        }""",
        [f"{origin(console)}/sign-out", csrf],
    )
    expect(page.locator("main")).to_contain_text("Origin did not match")
    page.goto(f"{origin(console)}/orders")
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders")


def test_a_refund_from_the_orders_page_goes_through_the_api_to_opayo_once(
    page: Page,
    console: str,
    demo: DemoContext,
    submitted: dict[str, str],
    watched: dict[str, list[Any]],
) -> None:
    """The Refund form, its confirmation, and the stack's API doing it: judged on the Opayo
    sandbox's own record of the transaction. Sending the confirmed form again (a reload, a
    double click) is the same refundId: still one refund at Opayo."""
    order_id = ORDERS[1]
    sign_in(page, console)
    expect(page.locator(f'tr[data-order-id="{order_id}"] .status')).to_have_text(
        "shipped", timeout=SHIPPED_WITHIN_MS
    )
    before = demo.opayo_transaction(submitted[order_id]).get("refundCount", 0)
    page.goto(f"{origin(console)}/orders/{order_id}")
    refund = page.locator("form.action", has=page.get_by_role("heading", name="Refund"))
    refund.get_by_label(re.compile("^Amount")).fill("1.00")
    refund.get_by_label("Reason").fill("a mug arrived chipped")
    screenshot(page, "order-actions")
    refund.get_by_role("button", name="Refund…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Refund order {order_id}?")
    expect(page.locator(".confirm-question")).to_contain_text("1.00 GBP")
    assert demo.opayo_transaction(submitted[order_id]).get("refundCount", 0) == before
    screenshot(page, "order-action-confirm")
    confirmed = page.locator("form.confirm")
    fields = confirmed.evaluate("f => Object.fromEntries(new FormData(f))")
    action = str(confirmed.get_attribute("action"))
    page.get_by_role("button", name="Yes, refund").click()
    expect(page.locator("[data-api-status]")).to_have_attribute("data-api-status", "201")
    assert demo.opayo_transaction(submitted[order_id]).get("refundCount", 0) == before + 1
    # The same confirmed form sent once more (a double click): the same refundId.
    page.evaluate(
        """([action, fields]) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = action;
            for (const [name, value] of Object.entries(fields)) {
                const field = document.createElement("input");
                field.name = name;
                field.value = value;
                form.appendChild(field);
            }
            document.body.appendChild(form);
            form.submit();
        }""",
        [action, fields],
    )
    expect(page.locator("[data-api-status]")).to_have_attribute("data-api-status", "200")
    assert demo.opayo_transaction(submitted[order_id]).get("refundCount", 0) == before + 1
    refunds = demo.order(order_id)["refunds"]
    assert [r["amount"]["amount"] for r in refunds] == [100]
    assert refunds[0]["request_id"].startswith("console-refund-")


def test_an_action_without_the_confirmation_or_the_csrf_token_does_nothing(
    page: Page, console: str, demo: DemoContext, submitted: dict[str, str]
) -> None:
    order_id = ORDERS[2]
    sign_in(page, console)
    before = demo.opayo_transaction(submitted[order_id]).get("refundCount", 0)
    page.goto(f"{origin(console)}/orders/{order_id}")
    refund = page.locator("form.action", has=page.get_by_role("heading", name="Refund"))
    refund.locator("input[name=csrf_token]").evaluate("field => field.remove()")
    refund.get_by_label("Reason").fill("no token")
    refund.get_by_role("button", name="Refund…").click()
    expect(page.locator("main")).to_contain_text("CSRF token is missing or wrong")
    assert demo.opayo_transaction(submitted[order_id]).get("refundCount", 0) == before
    assert demo.order(order_id).get("refunds") == []
