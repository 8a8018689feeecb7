"""The daily rollups the Today page reads (store/daily_rollup.py, ops/today.py): what an order
contributes, the order writes that keep the rollups in the orders' own transactions on moto,
the summary built from them against `summarise()` of the same orders, and the backfill."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from opayo_fba.errors import CardPaymentAbandoned, ConflictError
from opayo_fba.model import FulfillmentOrder, Money, OrderStatus, Refund
from opayo_fba.ops.today import (
    DAYS,
    first_day,
    rebuild_daily_rollups,
    summarise,
    summary_from_rollups,
)
from opayo_fba.store.daily_rollup import (
    DailyRollupStore,
    DailyTotals,
    contribution,
    rollup_changes,
    rollup_key,
    totals_of,
)
from opayo_fba.store.orders import HistoryEntry, OrderRecord, OrderStore
from tests.fixtures.moto_endpoint import moto_endpoint
from tests.fixtures.saga_world import authorised_payment, make_order
from tests.fixtures.tables import REGION, create_connector_state_table, create_orders_table

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()
ACCOUNT = "uk-main"
VENDOR = "sandboxvendor"


def _record(order_id: str, received: datetime, **kw: Any) -> OrderRecord:
    return OrderRecord(
        order=make_order(order_id),
        seller_account=kw.pop("account", ACCOUNT),
        vendor=VENDOR,
        history=[HistoryEntry(at=received, event="received")],
        **kw,
    )


def _shipped(record: OrderRecord) -> None:
    record.fulfillment = FulfillmentOrder.model_validate(
        {
            "seller_fulfillment_order_id": f"SFO-{record.order_id}",
            "status": "Complete",
            "shipping_speed": "Standard",
            "shipments": [
                {
                    "amazon_shipment_id": "S1",
                    "fulfillment_center_id": "LTN1",
                    "status": "SHIPPED",
                    "packages": [{"package_number": 1, "carrier_code": "RML"}],
                }
            ],
        }
    )
    record.status = OrderStatus.SHIPPED


def _refund(order_id: str, amount: int, currency: str = "GBP", n: int = 1) -> Refund:
    return Refund.model_validate(
        {
            "order_id": order_id,
            "vendor_tx_code": f"{order_id}-R{n}",
            "reference_transaction_id": f"TX-{order_id}",
            "amount": {"amount": amount, "currency": currency},
            "status": "succeeded",
        }
    )


def _gbp(minor: int) -> Money:
    return Money(amount=minor, currency="GBP")


@pytest.fixture
def store() -> Iterator[OrderStore]:
    with mock_aws():
        yield OrderStore(create_orders_table())


def _day(store: OrderStore, day: date = TODAY, account: str = ACCOUNT) -> DailyTotals:
    found = DailyRollupStore(store.table).day(account, day)
    assert found is not None, f"no rollup for {account} on {day}"
    return found


# -- what an order contributes ---------------------------------------------------------------


def test_a_new_order_counts_as_received_on_its_utc_day() -> None:
    # 23:30 at UTC-2 is 01:30 the next day in UTC: the UTC day counts.
    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    part = contribution(_record("C-1", late))
    assert (part.seller_account, part.day) == (ACCOUNT, date(2026, 3, 2))
    assert dict(part.counts) == {"received": 1}
    assert part.money == ()


def test_a_declined_order_counts_as_declined_and_not_as_compensated() -> None:
    part = contribution(
        _record("C-2", NOW, status=OrderStatus.PAYMENT_FAILED, outcome="payment_declined")
    )
    assert dict(part.counts) == {"received": 1, "declined": 1}


def test_a_compensated_order_with_its_money() -> None:
    record = _record(
        "C-3",
        NOW,
        captured=_gbp(2500),
        refunds=[_refund("C-3", 500), _refund("C-3", 700, n=2)],
        outcome="merchant_cancelled",
    )
    _shipped(record)
    part = contribution(record)
    assert dict(part.counts) == {"received": 1, "shipped": 1, "compensated": 1}
    assert part.money == (("captured", "GBP", 2500), ("refunded", "GBP", 1200))


def test_a_change_that_moves_no_figure_changes_no_rollup() -> None:
    record = _record("C-4", NOW, captured=_gbp(100))
    before = contribution(record)
    record.note("looked at")
    record.saga_execution = "arn:aws:states:eu-west-2:1:execution:x:y"
    assert rollup_changes(before, contribution(record)) == {}


def test_a_shipment_moves_the_shipped_count_only() -> None:
    record = _record("C-5", NOW, captured=_gbp(100))
    before = contribution(record)
    _shipped(record)
    assert rollup_changes(before, contribution(record)) == {(ACCOUNT, TODAY): {"shipped": 1}}


def test_an_order_whose_received_day_moves_leaves_the_old_day_for_the_new() -> None:
    record = _record("C-6", NOW - timedelta(days=2), captured=_gbp(100))
    before = contribution(record)
    record.history = [HistoryEntry(at=NOW, event="received")]
    changes = rollup_changes(before, contribution(record))
    moved = {"capturedOrders#GBP": 1, "captured#GBP": 100, "received": 1}
    assert changes == {
        (ACCOUNT, TODAY - timedelta(days=2)): {k: -v for k, v in moved.items()},
        (ACCOUNT, TODAY): moved,
    }


# -- the writes keep the rollup ------------------------------------------------------------------


def test_two_orders_on_one_day_add_up(store: OrderStore) -> None:
    store.create(_record("W-1", NOW, captured=_gbp(2500)))
    store.create(_record("W-2", NOW - timedelta(seconds=5), captured=_gbp(1000)))
    day = _day(store)
    assert day.count("received") == 2
    assert day.money[("captured", "GBP")] == (3500, 2)


def test_a_status_change_moves_the_counts(store: OrderStore) -> None:
    store.create(_record("W-1", NOW, payment=authorised_payment("W-1")))
    store.update("W-1", _shipped)
    assert (_day(store).count("received"), _day(store).count("shipped")) == (1, 1)

    def declined(record: OrderRecord) -> None:
        record.fulfillment = None
        record.status = OrderStatus.PAYMENT_FAILED
        record.outcome = "payment_declined"

    store.update("W-1", declined)
    day = _day(store)
    assert {n: day.count(n) for n in ("received", "shipped", "compensated", "declined")} == {
        "received": 1,
        "shipped": 0,
        "compensated": 0,
        "declined": 1,
    }


def test_a_refund_adds_to_refunded(store: OrderStore) -> None:
    store.create(_record("W-1", NOW, captured=_gbp(2500)))
    store.update("W-1", lambda r: r.refunds.append(_refund("W-1", 400)))
    store.update("W-1", lambda r: r.refunds.append(_refund("W-1", 600, n=2)))
    day = _day(store)
    assert day.money[("refunded", "GBP")] == (1000, 1)  # one order, two refunds
    assert day.money[("captured", "GBP")] == (2500, 1)


def test_a_write_that_moves_no_figure_leaves_the_rollup_alone(store: OrderStore) -> None:
    store.create(_record("W-1", NOW, captured=_gbp(2500)))
    writes = _day(store).writes
    store.update("W-1", lambda r: r.note("looked at"))
    assert store.get("W-1").version == 2
    assert _day(store).writes == writes


def test_a_second_create_of_an_order_is_refused_and_adds_nothing(store: OrderStore) -> None:
    store.create(_record("W-1", NOW, captured=_gbp(2500)))
    with pytest.raises(ConflictError):
        store.create(_record("W-1", NOW, captured=_gbp(9999)))
    day = _day(store)
    assert (day.count("received"), day.money[("captured", "GBP")]) == (1, (2500, 1))


def test_a_write_that_lost_a_race_adds_nothing_and_its_retry_counts_once(
    store: OrderStore,
) -> None:
    store.create(_record("W-1", NOW))
    raced = []

    def capture(record: OrderRecord) -> None:
        if not raced:  # another writer gets in between this read and its write
            raced.append(True)
            store.update("W-1", lambda r: r.refunds.append(_refund("W-1", 300)))
        record.captured = _gbp(2500)

    store.update("W-1", capture)
    record = store.get("W-1")
    assert (record.version, record.captured, record.refunded) == (3, _gbp(2500), _gbp(300))
    day = _day(store)
    # The refused first attempt (version 1 expected, 2 found) wrote neither the order nor
    # the rollup: the rollup holds exactly what the stored order adds up to.
    assert day.money == totals_of(ACCOUNT, TODAY, [record]).money
    assert day.money[("captured", "GBP")] == (2500, 1)
    assert day.count("received") == 1


def test_an_order_stored_closing_its_card_intake_counts(store: OrderStore) -> None:
    store.begin_card_intake("W-1", VENDOR, "W-1-P1")
    store.create_closing_card_intake(_record("W-1", NOW, payment=authorised_payment("W-1")))
    assert _day(store).count("received") == 1
    # The sweep began to end this one's payment: neither the order nor its count is stored.
    store.begin_card_intake("W-2", VENDOR, "W-2-P1")
    assert store.claim_card_intake("W-2")
    with pytest.raises(CardPaymentAbandoned):
        store.create_closing_card_intake(_record("W-2", NOW))
    assert store.find("W-2") is None
    assert _day(store).count("received") == 1


def test_a_rollup_is_seen_by_no_index_of_the_orders(store: OrderStore) -> None:
    store.create(_record("W-1", NOW, payment=authorised_payment("W-1"), follow_up_at=NOW))
    page = store.orders_by_account(ACCOUNT)
    assert [r.order_id for r in page.records] == ["W-1"]
    assert store.held_vendors() == {VENDOR}
    assert [r.order_id for r in store.due_for_follow_up(ACCOUNT, NOW)] == ["W-1"]
    assert store.table.get_item(Key=rollup_key(ACCOUNT, TODAY))["Item"]["received"] == 1


# -- the summary from the rollups equals summarise() of the orders -------------------------------


def _drive(store: OrderStore) -> None:
    """A varied month of orders through the store's own writes: creates, then the changes
    the saga and the after-sale make."""
    eur = Money(amount=1000, currency="EUR")
    for n in range(12):
        received = NOW - timedelta(days=n * 2, hours=n)
        store.create(_record(f"V-{n}", received, payment=authorised_payment(f"V-{n}")))
        if n % 3 == 0:
            store.update(f"V-{n}", lambda r: setattr(r, "captured", _gbp(2500)))
        if n % 4 == 0:
            store.update(f"V-{n}", _shipped)
        if n % 6 == 0:
            store.update(f"V-{n}", lambda r, n=n: r.refunds.append(_refund(f"V-{n}", 100 + n)))
        if n == 5:
            store.update(f"V-{n}", lambda r: setattr(r, "outcome", "fulfillment_rejected"))
        if n == 7:

            def declined(record: OrderRecord) -> None:
                record.status = OrderStatus.PAYMENT_FAILED
                record.outcome = "payment_declined"

            store.update("V-7", declined)
    store.create(_record("EUR-1", NOW - timedelta(days=3), captured=eur, outcome="cancelled"))
    store.update("EUR-1", lambda r: r.refunds.append(_refund("EUR-1", 1000, "EUR")))
    store.create(_record("JPY-0", NOW - timedelta(days=4), captured=Money.zero("JPY")))
    store.create(_record("OTHER", NOW, account="eu-main", captured=_gbp(7)))
    store.create(_record("ANCIENT", NOW - timedelta(days=DAYS + 2), captured=_gbp(9)))


def test_the_summary_from_the_rollups_equals_summarise_of_the_orders(store: OrderStore) -> None:
    _drive(store)
    records = list(store.find_many([f"V-{n}" for n in range(12)] + ["EUR-1", "JPY-0"]).values())
    records += [store.get("ANCIENT")]
    expected = summarise(ACCOUNT, records, NOW)
    rollups = DailyRollupStore(store.table).days(ACCOUNT, first_day(NOW), TODAY)
    assert len(rollups) == DAYS
    from_rollups = summary_from_rollups(ACCOUNT, rollups, store.held_index().get(VENDOR, []), NOW)
    assert from_rollups == expected
    # and it is not equal by accident of being empty
    assert expected.period.received == 14
    assert set(expected.captured) == {"EUR", "GBP", "JPY"}
    assert expected.refunded["GBP"].amount == 100 + 106
    assert sum(count for _, count in expected.held_by_age) == 8


# -- the backfill ----------------------------------------------------------------------------


def _forget_rollups(store: OrderStore, days: int = DAYS) -> None:
    """As if the orders had been stored before the rollups existed."""
    for n in range(days + 3):
        store.table.delete_item(Key=rollup_key(ACCOUNT, TODAY - timedelta(days=n)))


def test_the_backfill_rebuilds_what_the_writes_kept_and_again_changes_nothing(
    store: OrderStore,
) -> None:
    _drive(store)
    rollups = DailyRollupStore(store.table)
    kept = rollups.days(ACCOUNT, first_day(NOW), TODAY)
    _forget_rollups(store)
    assert all(day.count("received") == 0 for day in rollups.days(ACCOUNT, first_day(NOW), TODAY))

    done: list[date] = []
    rebuild_daily_rollups(store, rollups, ACCOUNT, first_day(NOW), TODAY, progress=done.append)
    assert len(done) == DAYS

    def figures(days: list[DailyTotals]) -> list[tuple[Any, ...]]:
        return [(d.day, dict(d.counts), dict(d.money)) for d in days]

    rebuilt = rollups.days(ACCOUNT, first_day(NOW), TODAY)
    assert figures(rebuilt) == figures(kept)
    rebuild_daily_rollups(store, rollups, ACCOUNT, first_day(NOW), TODAY)
    assert figures(rollups.days(ACCOUNT, first_day(NOW), TODAY)) == figures(kept)


def test_the_backfill_sets_the_totals_over_a_wrong_rollup(store: OrderStore) -> None:
    store.create(_record("W-1", NOW, captured=_gbp(2500)))
    store.table.update_item(
        Key=rollup_key(ACCOUNT, TODAY),
        UpdateExpression="ADD received :n, #c :m",
        ExpressionAttributeNames={"#c": "captured#USD"},
        ExpressionAttributeValues={":n": 40, ":m": 5},
    )
    rollups = DailyRollupStore(store.table)
    rebuild_daily_rollups(store, rollups, ACCOUNT, TODAY, TODAY)
    day = _day(store)
    assert day.count("received") == 1
    assert day.money == {("captured", "GBP"): (2500, 1)}


def test_the_backfill_does_not_overwrite_a_write_made_while_it_counted(
    store: OrderStore,
) -> None:
    store.create(_record("W-1", NOW, captured=_gbp(2500)))
    rollups = DailyRollupStore(store.table)
    seen = rollups.day(ACCOUNT, TODAY)
    counted = totals_of(ACCOUNT, TODAY, [store.get("W-1")])
    store.create(_record("W-2", NOW, captured=_gbp(100)))  # lands between read and SET
    assert not rollups.replace(counted, seen)
    assert _day(store).count("received") == 2
    # the rebuild itself counts again and lands
    rebuild_daily_rollups(store, rollups, ACCOUNT, TODAY, TODAY)
    assert _day(store).money[("captured", "GBP")] == (2600, 2)
    # and later writes still add to the rebuilt rollup
    store.update("W-2", _shipped)
    assert _day(store).count("shipped") == 1


# -- the backfill's command ------------------------------------------------------------------

STACK = "OpayoFba-dev"


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server holding a stack's two tables, as the local runtime names them."""
    with moto_endpoint(monkeypatch) as url:
        create_connector_state_table(f"{STACK}-StorageConnectorStateTable5E6F7A8B")
        yield url


def test_the_rebuild_command_sets_an_accounts_days_from_its_orders(moto_server: str) -> None:
    store = OrderStore(create_orders_table(f"{STACK}-StorageOrdersTable1A2B3C4D"))
    store.create(_record("W-1", NOW, captured=_gbp(2500)))
    store.create(_record("W-2", NOW - timedelta(days=1), captured=_gbp(100)))
    _forget_rollups(store)
    arguments = ["today", "rebuild", "--account", ACCOUNT, "--endpoint-url", moto_server]
    result = CliRunner().invoke(app, [*arguments, "--region", REGION])
    assert result.exit_code == 0, result.output
    assert f"{ACCOUNT}: {DAYS} days rebuilt" in result.stdout
    assert "2 orders counted" in result.stdout
    assert _day(store).money[("captured", "GBP")] == (2500, 1)
    assert _day(store, TODAY - timedelta(days=1)).count("received") == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "yesterday"], "--from 'yesterday' is not a day"),
        (["--from", "2026-02-02", "--to", "2026-02-01"], "--to 2026-02-01 is before --from"),
    ],
)
def test_the_rebuild_command_says_what_to_give_instead(
    moto_server: str, arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["today", "rebuild", "--account", ACCOUNT, "--endpoint-url", moto_server, *arguments],
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


# -- two writers of one day's rollup at once ---------------------------------------------------


class _ContendedClient:
    """boto3's client, except that DynamoDB cancels the first `conflicts` transactions for
    another one in progress on the same items (what it does to two writers of one rollup)."""

    def __init__(self, client: Any, conflicts: int) -> None:
        self._client = client
        self.conflicts = conflicts
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        self.attempts += 1
        if self.conflicts:
            self.conflicts -= 1
            reasons = [{"Code": "None"}] + [{"Code": "TransactionConflict"}] * (
                len(kwargs["TransactItems"]) - 1
            )
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**kwargs)


class _ContendedTable:
    def __init__(self, table: Any, conflicts: int) -> None:
        self._table = table
        self.client = _ContendedClient(table.meta.client, conflicts)
        self.meta = type("Meta", (), {"client": self.client})()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def test_a_transaction_cancelled_for_a_concurrent_one_is_tried_again(store: OrderStore) -> None:
    contended = _ContendedTable(store.table, conflicts=2)
    OrderStore(contended).create(_record("W-1", NOW, captured=_gbp(2500)))
    assert contended.client.attempts == 3
    assert _day(store).count("received") == 1
    assert _day(store).money[("captured", "GBP")] == (2500, 1)


def test_a_transaction_contended_past_the_retries_is_raised_and_writes_nothing(
    store: OrderStore,
) -> None:
    from botocore.exceptions import ClientError

    store.begin_card_intake("W-1", VENDOR, "W-1-P1")
    contended = OrderStore(_ContendedTable(store.table, conflicts=100))
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        contended.create_closing_card_intake(_record("W-1", NOW))  # not "abandoned"
    assert store.find("W-1") is None
    assert DailyRollupStore(store.table).day(ACCOUNT, TODAY) is None
