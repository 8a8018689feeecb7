"""The orders poller and the report pipeline against the SP-API sandbox over HTTP, with the
tables and the archive bucket in moto."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from opayo_fba.amazon.connector import SETTLEMENT_REPORT_TYPE, SpApiConnector
from opayo_fba.jobs.amazon_orders import ORDERS_WATERMARK, poll_amazon_orders
from opayo_fba.jobs.amazon_reports import (
    INVENTORY_REPORT_TYPE,
    poll_amazon_reports,
    schedule_amazon_reports,
)
from opayo_fba.jobs.events import INVENTORY_LEVEL_CHANGED, ORDER_STATUS_CHANGED
from opayo_fba.jobs.journals import journal_ready_reports
from opayo_fba.reconcile.config import default_config_path, load_config
from opayo_fba.reconcile.outputs import EVENT_DETAIL_TYPE
from opayo_fba.store.amazon_orders import AmazonOrderStore
from opayo_fba.store.inventory import InventoryStore
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body
from tests.integration.pipeline.conftest import Aws
from tests.unit.polling.support import RecordingEvents

pytestmark = pytest.mark.integration
ACCOUNT = "uk-main"


class SandboxClock:
    """The sandbox's frozen clock, moved by the test (the pollers take `now` from it)."""

    def __init__(self, handle: AmazonSandboxHandle) -> None:
        self.handle = handle
        self.now: datetime = AMAZON_SANDBOX_START

    def advance(self, seconds: float) -> datetime:
        self.handle.advance(seconds)
        self.now += timedelta(seconds=seconds)
        return self.now


def test_orders_are_polled_from_a_watermark_and_followed_to_shipped(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle, aws: Aws
) -> None:
    clock, events = SandboxClock(amazon_sandbox), RecordingEvents()
    orders = AmazonOrderStore(aws.orders_table)

    def poll() -> object:
        return poll_amazon_orders(
            amazon,
            aws.watermarks,
            ACCOUNT,
            clock.now,
            orders=orders,
            events=events,
            initial_lookback=timedelta(days=7),
        )

    first = poll()
    seeded = first.orders_stored  # type: ignore[attr-defined]
    assert seeded >= 2
    assert aws.watermarks.get(ACCOUNT, ORDERS_WATERMARK) == clock.now

    amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-7001"))
    amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-7002", quantity=2))
    clock.advance(300)
    second = poll()
    assert second.since == AMAZON_SANDBOX_START - timedelta(minutes=2)  # type: ignore[attr-defined]
    assert second.orders_stored == 2  # type: ignore[attr-defined]
    assert aws.watermarks.get(ACCOUNT, ORDERS_WATERMARK) == clock.now
    mcf = [e for e in events.of(ORDER_STATUS_CHANGED) if e["sourceStatus"] == "Pending"]
    assert len(mcf) == 2
    mcf_ids = {}
    for event in mcf:
        record = orders.find(event["orderId"])
        assert record is not None
        assert record.order is not None
        mcf_ids[record.order.custom_fields["seller_order_id"]] = event["orderId"]
    assert set(mcf_ids) == {"OPF-7001", "OPF-7002"}
    stored = orders.find(mcf[0]["orderId"])
    assert stored is not None
    assert stored.order is not None
    assert stored.order.lines[0].seller_sku == "OPF-MUG-BLUE"

    # Nothing changed: the next run stores and announces nothing.
    clock.advance(60)
    quiet = poll()
    assert (quiet.orders_stored, quiet.events_published) == (0, 0)  # type: ignore[attr-defined]

    amazon.release_fulfillment_order("OPF-7001")
    for _ in range(4):  # Received -> Planning -> Processing -> Complete, on the sandbox clock
        clock.advance(300)
    poll()
    shipped = [
        e
        for e in events.of(ORDER_STATUS_CHANGED)
        if e["status"] == "shipped" and e["previousStatus"] is not None
    ]
    assert len(shipped) == 1
    assert shipped[0]["orderId"] == mcf_ids["OPF-7001"]
    assert shipped[0]["sourceStatus"] == "Shipped"
    record = orders.find(shipped[0]["orderId"])
    assert record is not None
    assert record.source_status == "Shipped"
    assert aws.watermarks.get(ACCOUNT, ORDERS_WATERMARK) == clock.now


def test_an_inventory_report_is_requested_waited_for_archived_and_parsed(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle, aws: Aws
) -> None:
    clock, events = SandboxClock(amazon_sandbox), RecordingEvents()
    inventory = InventoryStore(aws.state_table)

    def cycle(wait_seconds: float = 120) -> object:
        schedule_amazon_reports(amazon, aws.ledger, aws.watermarks, ACCOUNT, clock.now)
        waiting = poll_amazon_reports(
            amazon, aws.ledger, aws.archive, ACCOUNT, clock.now, inventory=inventory, events=events
        )
        assert waiting.count("waiting") == 1  # type: ignore[attr-defined]
        clock.advance(wait_seconds)  # IN_QUEUE -> IN_PROGRESS -> DONE
        return poll_amazon_reports(
            amazon, aws.ledger, aws.archive, ACCOUNT, clock.now, inventory=inventory, events=events
        )

    stock = {
        r["sku"]: r["quantity"]
        for r in amazon_sandbox.control.get("/_sandbox/inventory").json()["inventory"]
    }
    done = cycle()
    [outcome] = done.outcomes  # type: ignore[attr-defined]
    assert outcome.status == "done"
    assert outcome.archive_key.startswith(f"amazon/{INVENTORY_REPORT_TYPE}/2026/03/02/")
    archived = aws.archived(outcome.archive_key)
    assert archived.decode("cp1252").startswith("sku\t")  # decompressed, Amazon's bytes
    assert "Tasse émaillée bleue – Enamel mug™".encode("cp1252") in archived
    levels = inventory.levels(ACCOUNT)
    assert {sku: level.fulfillable for sku, level in levels.items()} == {
        sku: quantity for sku, quantity in stock.items() if quantity > 0
    }
    assert len(events.of(INVENTORY_LEVEL_CHANGED)) == len(levels)
    # The document is Cp1252 and says so: EU names arrive intact, in the levels and events.
    assert levels["OPF-MUG-BLUE"].product_name == "Tasse émaillée bleue – Enamel mug™"
    names = {e["sku"]: e["productName"] for e in events.of(INVENTORY_LEVEL_CHANGED)}
    assert names["OPF-TEE-M"] == "T-Shirt aus Bio-Baumwolle, Größe M"

    # One SKU sells out: the unsuppressed report drops it, and it is announced as zero.
    sold_out = next(iter(levels))
    amazon_sandbox.control.post(
        "/_sandbox/inventory", json={"sku": sold_out, "quantity": 0}
    ).raise_for_status()
    clock.advance(60)
    again = cycle()
    assert again.outcomes[0].inventory.dropped_to_zero == (sold_out,)  # type: ignore[attr-defined]
    assert inventory.levels(ACCOUNT)[sold_out].total == 0
    last = events.of(INVENTORY_LEVEL_CHANGED)[-1]
    assert (last["sku"], last["fulfillable"]) == (sold_out, 0)
    assert len(events.published) == len(levels) + 1
    assert aws.ledger.pending(ACCOUNT) == []


def test_a_settlement_report_is_listed_archived_and_journaled(
    amazon: SpApiConnector, amazon_sandbox: AmazonSandboxHandle, aws: Aws
) -> None:
    clock, events = SandboxClock(amazon_sandbox), RecordingEvents()
    amazon.create_fulfillment_order_on_hold(mcf_order_body("OPF-8001"))
    amazon.release_fulfillment_order("OPF-8001")
    clock.advance(1000)
    closed = amazon_sandbox.close_settlement()
    inventory = InventoryStore(aws.state_table)

    scheduled = schedule_amazon_reports(amazon, aws.ledger, aws.watermarks, ACCOUNT, clock.now)
    assert closed["reportId"] in scheduled.settlement_reports_new
    result = poll_amazon_reports(
        amazon, aws.ledger, aws.archive, ACCOUNT, clock.now, inventory=inventory, events=events
    )
    settlement = next(o for o in result.outcomes if o.report_id == closed["reportId"])
    assert settlement.status == "done"
    assert settlement.report_type == SETTLEMENT_REPORT_TYPE
    assert "OPF-8001" in aws.archived(settlement.archive_key or "").decode("utf-8")
    assert [e.source_id for e in aws.ledger.ready_for_reconciliation()] == [closed["reportId"]]

    run = journal_ready_reports(aws.ledger, aws.archive, load_config(default_config_path()), events)
    assert run is not None
    assert run.inputs == (settlement.archive_key,)
    journal = aws.archived(run.outputs["journal.csv"].removeprefix("s3://reports/"))
    assert b"amazon-settlement" in journal
    [detail] = events.of(EVENT_DETAIL_TYPE)
    assert detail["balanced"] is True
    assert detail["settlementIds"]
    assert aws.ledger.ready_for_reconciliation() == []

    # Listed again by the next schedule: already done, nothing is fetched twice.
    clock.advance(3600)
    later = schedule_amazon_reports(amazon, aws.ledger, aws.watermarks, ACCOUNT, clock.now)
    assert later.settlement_reports_new == ()
