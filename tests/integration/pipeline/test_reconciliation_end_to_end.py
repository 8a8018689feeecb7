"""One order through both sandboxes: Opayo captures it, Amazon ships it, both settle; the
pipeline archives the settlement report and the batch, and one journal run matches them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opayo_fba.amazon.connector import SpApiConnector
from opayo_fba.convert.opayo_pi import payment_from_pi
from opayo_fba.jobs.amazon_reports import poll_amazon_reports, schedule_amazon_reports
from opayo_fba.jobs.journals import journal_ready_reports
from opayo_fba.jobs.opayo_batches import fetch_opayo_batches
from opayo_fba.jobs.order_book import order_book
from opayo_fba.model import PaymentTransaction
from opayo_fba.opayo.reporting import ReportingClient
from opayo_fba.reconcile.config import default_config_path, load_config
from opayo_fba.reconcile.outputs import EVENT_DETAIL_TYPE
from opayo_fba.store.inventory import InventoryStore
from opayo_fba.store.order_export import OrderExportStore
from opayo_fba.store.orders import OrderRecord
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle, mcf_order_body
from tests.fixtures.opayo_sandbox import OpayoSandboxHandle
from tests.fixtures.saga_world import make_order
from tests.integration.pipeline.conftest import Aws
from tests.unit.polling.support import RecordingEvents

pytestmark = pytest.mark.integration
ORDER_ID = "W-E2E-1"
TOTAL = 2599


def test_an_order_captured_and_shipped_is_matched_in_one_journal_run(
    amazon: SpApiConnector,
    amazon_sandbox: AmazonSandboxHandle,
    opayo_sandbox: OpayoSandboxHandle,
    reporting: ReportingClient,
    aws: Aws,
) -> None:
    vendor = opayo_sandbox.options.vendor
    created = opayo_sandbox.pay("Deferred", TOTAL, vendor_tx_code=f"{ORDER_ID}-P1")
    opayo_sandbox.instruct(created["transactionId"], "release", TOTAL).raise_for_status()
    payment: PaymentTransaction = payment_from_pi(
        created, vendor_tx_code=f"{ORDER_ID}-P1", order_id=ORDER_ID
    )
    orders = OrderExportStore(aws.orders_table)
    orders.create(
        OrderRecord(
            order=make_order(ORDER_ID, total=TOTAL),
            payment=payment,
            vendor=vendor,
            seller_account="uk-main",
        )
    )
    amazon.create_fulfillment_order_on_hold(mcf_order_body(ORDER_ID))
    amazon.release_fulfillment_order(ORDER_ID)
    amazon_sandbox.advance(1000)  # shipped
    amazon_sandbox.close_settlement()
    opayo_sandbox.advance(86400)  # the capture settles after midnight

    amazon_now = AMAZON_SANDBOX_START + timedelta(seconds=1000)
    schedule_amazon_reports(amazon, aws.ledger, aws.watermarks, "uk-main", amazon_now)
    poll_amazon_reports(
        amazon,
        aws.ledger,
        aws.archive,
        "uk-main",
        amazon_now,
        inventory=InventoryStore(aws.state_table),
        events=RecordingEvents(),
    )
    fetched = fetch_opayo_batches(
        reporting,
        aws.ledger,
        aws.watermarks,
        aws.archive,
        vendor,
        opayo_sandbox.now(),
    )
    assert fetched.archived
    kinds = sorted(e.kind for e in aws.ledger.ready_for_reconciliation())
    assert kinds == ["amazon-report", "opayo-batch"]

    events = RecordingEvents()
    run = journal_ready_reports(
        aws.ledger,
        aws.archive,
        load_config(default_config_path()),
        events,
        orders=order_book(orders.all_orders()),
    )
    assert run is not None
    [detail] = events.of(EVENT_DETAIL_TYPE)
    assert detail["matchedOrders"] == 1
    assert detail["balanced"] is True
    exceptions = aws.archived(run.outputs["exceptions.csv"].removeprefix("s3://reports/"))
    assert ORDER_ID.encode() not in exceptions
