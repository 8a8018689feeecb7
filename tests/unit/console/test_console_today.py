"""The Today page: one account's day and last 30 days from its orders (ops/today.py), over
HTTP on moto's orders table, with the stack-wide figures `opayo-fba status` shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from moto import mock_aws

from opayo_fba.console.app import create_app
from opayo_fba.console.backend import StackBackend
from opayo_fba.console.facts import StackFacts
from opayo_fba.model import Money, OrderStatus, Refund
from opayo_fba.ops.today import DAYS, summarise
from opayo_fba.store.orders import HistoryEntry, OrderRecord, OrderStore
from opayo_fba.store.watermarks import WatermarkStore
from sandbox.common.server import ThreadedServer
from tests.fixtures.saga_world import authorised_payment, make_order
from tests.fixtures.tables import create_connector_state_table, create_orders_table
from tests.unit.console.test_console_app import TOKEN

NOW = datetime.now(UTC).replace(microsecond=0)
MIDNIGHT = NOW.replace(hour=0, minute=0, second=0)


def _today(fraction: float) -> datetime:
    """A moment of today before now (the page counts by the UTC day it is rendered on)."""
    return MIDNIGHT + (NOW - MIDNIGHT) * fraction


def _record(order_id: str, received: datetime, **kw: object) -> OrderRecord:
    return OrderRecord(
        order=make_order(order_id),
        seller_account=kw.pop("account", "uk-main"),  # type: ignore[arg-type]
        vendor="sandboxvendor",
        history=[HistoryEntry(at=received, event="received")],
        **kw,  # type: ignore[arg-type]
    )


def _refund(order_id: str, amount: int, currency: str = "GBP") -> Refund:
    return Refund.model_validate(
        {
            "order_id": order_id,
            "vendor_tx_code": f"{order_id}-R1",
            "reference_transaction_id": f"TX-{order_id}",
            "amount": {"amount": amount, "currency": currency},
            "status": "succeeded",
        }
    )


def _records() -> list[OrderRecord]:
    eur = Money(amount=1000, currency="EUR")
    return [
        # today: one held authorisation, one captured and partly refunded, one declined
        _record(
            "T-HELD",
            _today(0.2),
            payment=authorised_payment("T-HELD"),
            status=OrderStatus.PAYMENT_AUTHORISED,
        ),
        _record(
            "T-PAID",
            _today(0.5),
            captured=Money(amount=2500, currency="GBP"),
            refunds=[_refund("T-PAID", 500)],
        ),
        _record(
            "T-DECLINED",
            _today(0.9),
            status=OrderStatus.PAYMENT_FAILED,
            outcome="payment_declined",
        ),
        # ten days ago: compensated, captured in euros; held for ten days
        _record("OLD-1", NOW - timedelta(days=10), captured=eur, outcome="fulfillment_rejected"),
        _record(
            "OLD-HELD",
            NOW - timedelta(days=10),
            payment=authorised_payment("OLD-HELD"),
            status=OrderStatus.PAYMENT_AUTHORISED,
        ),
        # before the period: not counted
        _record(
            "ANCIENT", NOW - timedelta(days=DAYS + 1), captured=Money(amount=9, currency="GBP")
        ),
    ]


def test_summarise_counts_each_order_on_its_day_and_money_per_currency() -> None:
    summary = summarise("uk-main", _records(), NOW)
    assert len(summary.days) == DAYS
    assert summary.days[-1].day == NOW.date()
    today = summary.today
    assert (today.received, today.compensated, today.declined) == (3, 0, 1)
    assert today.decline_rate == pytest.approx(1 / 3)
    ten_days_ago = next(d for d in summary.days if d.day == (NOW - timedelta(days=10)).date())
    assert (ten_days_ago.received, ten_days_ago.compensated) == (2, 1)
    assert summary.period.received == 5  # ANCIENT is before the period
    assert {c: str(m) for c, m in summary.captured.items()} == {
        "EUR": str(Money(amount=1000, currency="EUR")),
        "GBP": str(Money(amount=2500, currency="GBP")),
    }
    assert {c: m.amount for c, m in summary.refunded.items()} == {"GBP": 500}
    assert dict(summary.held_by_age) == {
        "under 1 day": 1,
        "1 to 3 days": 0,
        "3 to 7 days": 0,
        "7 to 25 days": 1,
        "25 days or more": 0,
    }


def test_a_day_without_orders_has_no_decline_rate() -> None:
    summary = summarise("uk-main", [], NOW)
    assert summary.today.decline_rate is None
    assert summary.period.received == 0


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with mock_aws():
        store = OrderStore(create_orders_table("OpayoFba-dev-OrdersTable"))
        for record in _records():
            store.create(record)
        store.create(_record("EU-1", NOW, account="eu-main"))
        watermarks = WatermarkStore(create_connector_state_table("OpayoFba-dev-State"))
        watermarks.advance("uk-main", "orders_poller", NOW - timedelta(minutes=4))
        accounts = {"uk-main": ["A1F83G8C2ARO7P"], "eu-main": ["A1PA6795UKMFR9"]}
        backend = StackBackend(
            "OpayoFba-dev",
            store,
            accounts,
            facts=StackFacts(accounts=accounts, vendors=["sandboxvendor"]),
            watermarks=watermarks,
        )
        with (
            ThreadedServer(create_app(backend, TOKEN)) as server,
            httpx.Client(base_url=server.url, follow_redirects=False) as client,
        ):
            assert client.get(f"/?token={TOKEN}").status_code == 303
            yield client


def _figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{re.escape(name)}">(?:<a [^>]*>)?([^<]*)<', page)
    assert found is not None, name
    return found.group(1).strip()


def test_the_today_page_shows_the_accounts_figures_and_the_stacks(client: httpx.Client) -> None:
    page = client.get("/today")
    assert page.status_code == 200
    text = page.text
    assert _figure(text, "received") == "3"
    assert _figure(text, "decline-rate") == "33%"
    assert _figure(text, "captured-GBP") == str(Money(amount=2500, currency="GBP"))
    assert _figure(text, "refunded-GBP") == str(Money(amount=500, currency="GBP"))
    assert _figure(text, "dead-letters") == "0"  # no SQS client: none known
    assert 'data-held="under 1 day">1<' in text
    assert "sandboxvendor: 2 held in all" in text  # the held index, as `opayo-fba status`
    assert 'data-poll="orders_poller"' in text
    assert text.count("<rect ") == 3 * DAYS  # three charts, a bar a day
    assert 'role="img"' in text


def test_another_account_shows_its_own_orders(client: httpx.Client) -> None:
    text = client.get("/today?account=eu-main").text
    assert _figure(text, "received") == "1"


def test_an_unknown_account_is_a_400_with_the_reason(client: httpx.Client) -> None:
    page = client.get("/today?account=<nope>")
    assert page.status_code == 400
    assert "seller accounts (uk-main, eu-main)" in page.text
    assert "<nope>" not in page.text


def test_find_many_reads_every_existing_order_in_batches_of_a_hundred() -> None:
    with mock_aws():
        store = OrderStore(create_orders_table("OpayoFba-dev-OrdersTable"))
        ids = [f"M-{n:03d}" for n in range(230)]
        for order_id in ids:
            store.create(_record(order_id, NOW))
        asked = [*ids, "NOT-THERE", ids[0]]
        found = store.find_many(asked)
    assert sorted(found) == sorted(f"order#{i}" for i in ids)
    assert all(found[f"order#{i}"].order_id == i for i in ids)
    assert {r.version for r in found.values()} == {1}
