"""The console over HTTP (uvicorn on 127.0.0.1, in a thread) on a moto orders table: each
security rule, the list's filters, cursor and search, bad input, masking, an order's timeline.

The browser tests (tests/e2e/test_console_browser.py) try the same rules in Chromium against
the local runtime; these pin the details quickly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from moto import mock_aws

from opayo_fba.console.app import create_app
from opayo_fba.console.backend import StackBackend
from opayo_fba.console.masking import mask_email, mask_name
from opayo_fba.console.security import CONTENT_SECURITY_POLICY
from opayo_fba.model import Customer, OrderStatus
from opayo_fba.store.orders import HistoryEntry, OrderRecord, OrderStore
from sandbox.common.server import ThreadedServer
from tests.fixtures.saga_world import authorised_payment, make_order
from tests.fixtures.tables import create_orders_table

TOKEN = "t0ken-for-the-tests-only-123456"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
UK = "A1F83G8C2ARO7P"
DE = "A1PA6795UKMFR9"
ACCOUNTS = {"uk-main": [UK, DE], "eu-main": [DE]}


def _store(store: OrderStore, order_id: str, *, account: str = "uk-main", **kw: object) -> None:
    marketplace = kw.pop("marketplace", UK)
    received = kw.pop("received", NOW)
    order = make_order(order_id).model_copy(
        update={
            "marketplace_id": marketplace,
            "customer": Customer(first_name="Jane", last_name="Doe", email="jane@example.com"),
        }
    )
    store.create(
        OrderRecord(
            order=order,
            seller_account=account,
            vendor="exampleuk",
            history=[HistoryEntry(at=received, event="received")],  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
    )


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with mock_aws():
        yield OrderStore(create_orders_table("OpayoFba-dev-OrdersTable"))


@pytest.fixture
def client(store: OrderStore) -> Iterator[httpx.Client]:
    backend = StackBackend("OpayoFba-dev", store, ACCOUNTS, stepfunctions=None)
    with (
        ThreadedServer(create_app(backend, TOKEN)) as server,
        httpx.Client(base_url=server.url, follow_redirects=False) as client,
    ):
        yield client


def _signed_in(client: httpx.Client) -> httpx.Client:
    opened = client.get(f"/?token={TOKEN}")
    assert opened.status_code == 303
    return client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


# -- the guard ------------------------------------------------------------------------------


def test_without_the_token_every_page_is_403_and_says_where_to_get_the_url(
    client: httpx.Client,
) -> None:
    for path in ("/", "/orders", "/orders/W-1", "/nowhere"):
        refused = client.get(path)
        assert refused.status_code == 403
        assert "?token=" in refused.text
        assert "opayo-fba console" in refused.text


def test_a_wrong_token_is_403_and_opens_no_session(client: httpx.Client) -> None:
    assert client.get("/orders?token=not-the-token").status_code == 403
    assert not client.cookies
    assert client.get("/orders").status_code == 403


def test_the_token_sets_a_strict_httponly_cookie_and_redirects_without_it(
    client: httpx.Client,
) -> None:
    opened = client.get(f"/orders?status=shipped&token={TOKEN}")
    assert opened.status_code == 303
    assert opened.headers["location"] == "/orders?status=shipped"
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert TOKEN not in cookie
    assert client.get("/orders").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example:8765", "10.0.0.5:8765"])
def test_a_host_other_than_loopback_is_refused(client: httpx.Client, host: str) -> None:
    _signed_in(client)
    refused = client.get("/orders", headers={"host": host})
    assert refused.status_code == 400
    assert "127.0.0.1" in refused.text
    assert client.get(f"/?token={TOKEN}", headers={"host": host}).status_code == 400


def test_localhost_is_a_loopback_name(client: httpx.Client) -> None:
    _signed_in(client)
    port = client.base_url.port
    assert client.get("/orders", headers={"host": f"localhost:{port}"}).status_code == 200


def test_a_post_needs_this_origin_and_the_sessions_csrf_token(client: httpx.Client) -> None:
    page = _signed_in(client).get("/orders").text
    token = _csrf(page)
    origin = str(client.base_url).rstrip("/")
    # No CSRF token, a wrong one, a right one from another origin, no origin: all refused.
    attempts = [
        ({"origin": origin}, {}),
        ({"origin": origin}, {"csrf_token": "0" * 64}),
        ({"origin": "http://evil.example"}, {"csrf_token": token}),
        ({}, {"csrf_token": token}),
    ]
    for headers, form in attempts:
        refused = client.post("/sign-out", headers=headers, data=form)
        assert refused.status_code == 403, (headers, form)
        assert client.get("/orders").status_code == 200  # still signed in: nothing changed
    done = client.post("/sign-out", headers={"origin": origin}, data={"csrf_token": token})
    assert done.status_code == 200
    assert client.get("/orders").status_code == 403


def test_every_response_carries_the_content_security_policy(client: httpx.Client) -> None:
    for response in (client.get("/orders"), _signed_in(client).get("/orders")):
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-frame-options"] == "DENY"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_pages_have_no_inline_script_or_style(client: httpx.Client, store: OrderStore) -> None:
    _store(store, "W-1")
    _signed_in(client)
    for path in ("/orders", "/orders/W-1"):
        page = client.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
        assert "<style" not in page
        assert " style=" not in page
        assert not re.search(r"\son[a-z]+=", page)


# -- the list ---------------------------------------------------------------------------------


def test_the_list_masks_customers_and_filters_by_status_marketplace_and_date(
    client: httpx.Client, store: OrderStore
) -> None:
    _store(store, "W-1", status=OrderStatus.SHIPPED)
    _store(store, "W-2", marketplace=DE)
    _store(store, "W-OLD", received=NOW - timedelta(days=10))
    _store(store, "E-1", account="eu-main", marketplace=DE)
    _signed_in(client)

    def listed(query: str) -> list[str]:
        page = client.get(f"/orders?{query}")
        assert page.status_code == 200, page.text
        return re.findall(r'data-order-id="([^"]+)"', page.text)

    everything = listed("")
    assert set(everything[:2]) == {"W-1", "W-2"}  # received at the same moment
    assert everything[2:] == ["W-OLD"]
    assert listed("status=shipped") == ["W-1"]
    assert listed(f"marketplace={DE}") == ["W-2"]
    assert set(listed("from=2026-11-28&to=2026-11-28")) == {"W-1", "W-2"}
    assert listed("to=2026-11-20") == ["W-OLD"]
    assert listed("account=eu-main") == ["E-1"]
    page = client.get("/orders").text
    assert "jane@example.com" not in page
    assert "Jane" not in page
    assert mask_email("jane@example.com") in page
    assert mask_name("Jane Doe") in page


def test_pages_follow_the_cursor_to_the_end_without_repeats(
    client: httpx.Client, store: OrderStore
) -> None:
    for n in range(30):
        _store(store, f"W-{n:02d}", received=NOW - timedelta(minutes=n))
    _signed_in(client)
    seen: list[str] = []
    url: str | None = "/orders"
    while url is not None:
        page = client.get(url).text
        seen += re.findall(r'data-order-id="([^"]+)"', page)
        found = re.search(r'href="([^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"W-{n:02d}" for n in range(30)]  # newest first, each once


def test_a_forged_or_foreign_cursor_is_400_and_reads_nothing(
    client: httpx.Client, store: OrderStore
) -> None:
    for n in range(30):
        _store(store, f"W-{n:02d}", received=NOW - timedelta(minutes=n))
    page = _signed_in(client).get("/orders").text
    cursor = re.search(r"cursor=([^\"&]+)", page)
    assert cursor is not None
    foreign = client.get(f"/orders?account=eu-main&cursor={cursor.group(1)}")
    assert foreign.status_code == 400
    assert "another list" in foreign.text
    forged = client.get(f"/orders?cursor={cursor.group(1)[:-2]}00")
    assert forged.status_code == 400
    assert "not one this console wrote" in forged.text


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("status=lost", "is not an order status"),
        ("account=nobody", "seller accounts (uk-main, eu-main)"),
        ("marketplace=uk", "Amazon marketplace id"),
        ("from=28/11/2026", "YYYY-MM-DD"),
        ("from=2026-11-29&to=2026-11-28", "from must not be after to"),
        ("q=" + "x" * 101, "at most 100"),
        ("q=a%20b", "search for an order id"),
    ],
)
def test_bad_filters_are_400_with_the_reason(client: httpx.Client, query: str, reason: str) -> None:
    refused = _signed_in(client).get(f"/orders?{query}")
    assert refused.status_code == 400
    assert reason in refused.text


def test_search_finds_an_order_by_id_vendor_tx_code_and_fulfillment_order(
    client: httpx.Client, store: OrderStore
) -> None:
    _store(store, "W-7", payment=authorised_payment("W-7"))
    _store(store, "W-8")
    store.link_fulfillment_order("SFO-W-7", "W-7")
    _signed_in(client)
    for text in ("W-7", "W-7-P1", "SFO-W-7"):
        page = client.get(f"/orders?q={text}").text
        assert re.findall(r'data-order-id="([^"]+)"', page) == ["W-7"], text
    assert "No orders named NOPE" in client.get("/orders?q=NOPE").text


def test_output_is_escaped(client: httpx.Client) -> None:
    page = _signed_in(client).get("/orders?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert page.status_code == 400  # not a searchable id; and the reason is escaped
    assert "<script>alert" not in page.text


# -- an order's page --------------------------------------------------------------------------


def test_an_orders_page_tells_its_story_in_time_order(
    client: httpx.Client, store: OrderStore
) -> None:
    _store(store, "W-9", payment=authorised_payment("W-9"))
    store.update(
        "W-9",
        lambda r: r.history.append(HistoryEntry(at=NOW + timedelta(minutes=5), event="captured")),
    )
    page = _signed_in(client).get("/orders/W-9")
    assert page.status_code == 200
    text = page.text[page.text.index('id="timeline"') :]
    placed, received, captured = (
        text.index("placed by the shopper"),
        text.index(">received<"),
        text.index(">captured<"),
    )
    assert placed < received < captured
    assert "jane@example.com" in page.text  # the order's own page shows its customer
    assert "no state machine of this stack was found" in text


def test_an_unknown_or_malformed_order_id_is_a_clear_4xx(client: httpx.Client) -> None:
    _signed_in(client)
    missing = client.get("/orders/NOPE-1")
    assert missing.status_code == 404
    assert "There is no order NOPE-1" in missing.text
    assert client.get("/orders/%3Cb%3E").status_code == 400
