"""The Orders list of every seller account at once, over HTTP on moto: a page of each
account's index merged newest first; walking its pages shows every order once, in time
order across accounts, and a cursor is refused on a list it does not belong to."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from moto import mock_aws

from opayo_fba.console.app import create_app
from opayo_fba.console.backend import StackBackend
from opayo_fba.model import Order
from opayo_fba.store.orders import HistoryEntry, OrderRecord, OrderStore
from sandbox.common.server import ThreadedServer
from tests.fixtures.saga_world import make_order
from tests.fixtures.tables import create_orders_table
from tests.unit.console.test_console_app import TOKEN

START = datetime(2026, 11, 1, tzinfo=UTC)
ACCOUNTS = {"uk-main": 31, "de-main": 17, "fr-quiet": 0}
JANE = "jane@example.com"


def _order(order_id: str, email: str | None) -> Order:
    customer = {"first_name": "Jane", "last_name": "Doe", "email": email} if email else None
    return Order.model_validate({**make_order(order_id).model_dump(), "customer": customer})


def _received(n: int, account: str) -> datetime:
    # Interleaved, with the two busy accounts sometimes a second apart, sometimes hours.
    step = timedelta(minutes=37) if account == "uk-main" else timedelta(minutes=53)
    return START + step * n + (timedelta(seconds=1) if account == "de-main" else timedelta())


@pytest.fixture
def client() -> Iterator[tuple[httpx.Client, list[tuple[datetime, str, str | None]]]]:
    with mock_aws():
        store = OrderStore(create_orders_table("OpayoFba-dev-OrdersTable"))
        written = []
        for account, count in ACCOUNTS.items():
            for n in range(count):
                order_id = f"{account.upper()}-{n:03d}"
                at = _received(n, account)
                # Jane Doe bought every third of them; the others gave no e-mail or another.
                email = ("jane@example.com", None, f"other{n}@example.com")[n % 3]
                store.create(
                    OrderRecord(
                        order=_order(order_id, email),
                        seller_account=account,
                        history=[HistoryEntry(at=at, event="received")],
                    )
                )
                written.append((at, order_id, email))
        backend = StackBackend("OpayoFba-dev", store, {a: [] for a in ACCOUNTS})
        with (
            ThreadedServer(create_app(backend, TOKEN)) as server,
            httpx.Client(base_url=server.url, follow_redirects=False) as http,
        ):
            assert http.get(f"/?token={TOKEN}").status_code == 303
            yield http, written


def _ids(page: str) -> list[str]:
    return re.findall(r'<tr data-order-id="([^"]+)"', page)


def test_walking_every_accounts_pages_shows_each_order_once_newest_first(
    client: tuple[httpx.Client, list[tuple[datetime, str, str | None]]],
) -> None:
    http, written = client
    url = "/orders?account=*"
    seen: list[str] = []
    pages = 0
    while url and pages < 10:
        page = http.get(url.replace("&amp;", "&")).text
        seen += _ids(page)
        found = re.search(r'href="(/orders\?[^"]*cursor=[^"]+)"[^>]*>Next', page)
        url = found.group(1) if found else ""
        pages += 1
    expected = [order_id for _, order_id, _ in sorted(written, reverse=True)]
    assert seen == expected
    assert pages == 2  # 48 orders, 25 a page


def test_a_cursor_of_one_account_is_refused_on_every_accounts_list(
    client: tuple[httpx.Client, list[tuple[datetime, str, str | None]]],
) -> None:
    http, _ = client
    page = http.get("/orders?account=uk-main").text
    found = re.search(r"cursor=([^\"&]+)", page)
    assert found is not None
    refused = http.get(f"/orders?account=*&cursor={found.group(1)}")
    assert refused.status_code == 400
    assert "belongs to another list" in refused.text


@pytest.mark.parametrize(("status", "limit"), [("cancelled", 4), ("shipped", 7), (None, 10)])
def test_a_filtered_list_walks_every_matching_order_once_in_order(
    status: str | None, limit: int
) -> None:
    """The by-account index read several pages at a time under a filter: each page resumes
    just after the last order the one before kept."""
    from opayo_fba.model import OrderStatus

    cycle = [OrderStatus.SHIPPED, OrderStatus.SHIPPED, OrderStatus.DELIVERED,
             OrderStatus.CANCELLED, OrderStatus.SHIPPED, OrderStatus.PAYMENT_FAILED]  # fmt: skip
    with mock_aws():
        store = OrderStore(create_orders_table("OpayoFba-dev-OrdersTable"))
        expected = []
        for n in range(90):
            at = START + timedelta(minutes=n)
            record = OrderRecord(
                order=make_order(f"F-{n:03d}"),
                seller_account="uk-main",
                status=cycle[n % len(cycle)],
                history=[HistoryEntry(at=at, event="received")],
            )
            store.create(record)
            if status is None or record.status.value == status:
                expected.append(record.order_id)
        expected.reverse()
        seen: list[str] = []
        start = None
        for _ in range(50):
            page = store.orders_by_account("uk-main", status=status, limit=limit, start_key=start)
            assert len(page.records) <= limit
            seen += [r.order_id for r in page.records]
            if page.next_key is None:
                break
            start = page.next_key
        assert seen == expected


def test_a_search_by_e_mail_finds_that_customers_orders_through_its_hash(
    client: tuple[httpx.Client, list[tuple[datetime, str, str | None]]],
) -> None:
    """Any case finds the customer's orders, newest first; the list still masks the address."""
    http, written = client
    janes = [order_id for _, order_id, email in sorted(written, reverse=True) if email == JANE]
    page = http.get("/orders", params={"q": "  Jane@Example.COM "}).text
    assert _ids(page) == janes[:25]
    assert "j***@e******.com" in page
    assert JANE not in page
    assert _ids(http.get("/orders", params={"q": "nobody@example.com"}).text) == []


def test_the_e_mail_index_holds_a_hash_not_the_address() -> None:
    from opayo_fba.store.orders import EMAIL_HASH_ATTRIBUTE, ORDER_KEY_PREFIX, email_hash

    with mock_aws():
        table = create_orders_table("OpayoFba-dev-OrdersTable")
        store = OrderStore(table)
        store.create(
            OrderRecord(
                order=_order("E-1", JANE),
                seller_account="uk-main",
                history=[HistoryEntry(at=START, event="received")],
            )
        )
        # The table also holds the day's rollup item (store/daily_rollup.py): the order's only.
        [item] = [i for i in table.scan()["Items"] if str(i["pk"]).startswith(ORDER_KEY_PREFIX)]
        assert item[EMAIL_HASH_ATTRIBUTE] == email_hash("JANE@example.com ")
        assert "@" not in str(item[EMAIL_HASH_ATTRIBUTE])
        assert len(str(item[EMAIL_HASH_ATTRIBUTE])) == 64
        assert not any(c.isdigit() for c in str(item[EMAIL_HASH_ATTRIBUTE]))  # no card-like run


def test_a_filtered_read_is_sized_by_the_share_the_filter_kept_so_far() -> None:
    from opayo_fba.store.orders import MAX_FILTERED_READ, filtered_read_size

    assert filtered_read_size(50, read=0, kept=0) == 100  # first: half assumed to pass
    assert filtered_read_size(10, read=100, kept=50) == 20  # half kept: twice what it needs
    assert filtered_read_size(10, read=100, kept=25) == 40
    assert filtered_read_size(10, read=100, kept=0) == 80  # none kept: 1 in 8 assumed
    assert filtered_read_size(49, read=100, kept=1) == 392
    assert filtered_read_size(100, read=100, kept=1) == MAX_FILTERED_READ
    assert filtered_read_size(10, read=100, kept=100) == 10  # never fewer than it needs
