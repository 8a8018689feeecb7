"""Opayo batches fetched whole and archived; journal runs over everything ready."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring

from opayo_fba.jobs.archive import ReportArchive, amazon_report_key, opayo_batch_key
from opayo_fba.jobs.journals import journal_ready_reports
from opayo_fba.jobs.opayo_batches import BATCH_WATERMARK, fetch_opayo_batches
from opayo_fba.jobs.order_book import order_book, order_book_line
from opayo_fba.model import Refund
from opayo_fba.opayo.reporting import Batch, TransactionGroup
from opayo_fba.reconcile.outputs import EVENT_DETAIL_TYPE
from opayo_fba.store.order_export import OrderExportStore
from opayo_fba.store.orders import OrderAttempt, OrderRecord
from opayo_fba.store.report_requests import ReportEntry, ReportLedger
from opayo_fba.store.watermarks import WatermarkStore
from tests.fixtures.saga_world import authorised_payment, make_order
from tests.unit.polling.support import REPORTS_BUCKET, RecordingEvents, create_orders_table
from tests.unit.reconcile.builders import (
    batch_xml,
    config,
    order_fee,
    settlement_lines,
    transaction,
)

NOW = datetime(2026, 11, 17, 2, 0, tzinfo=UTC)
COMPLETED = datetime(2026, 11, 16, 0, 5, tzinfo=UTC)
VENDOR = "shop-a"


@dataclass
class FakeReporting:
    """getBatchList / getBatchDetail over prepared XML, paged like the Reporting API."""

    batches: dict[str, list[str]] = field(default_factory=dict)
    page_size: int = 2
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    detail_calls: int = 0

    def get_batch_list(self, start: datetime, end: datetime) -> list[Batch]:
        """As getBatchList answers: batchid, authprocessorname, completed, and per currency
        how many payments the batch holds (which is where paging stops)."""
        self.windows.append((start, end))
        return [
            Batch(
                batch_id,
                "Elavon",
                {"completed": "16/11/2026 00:05:00.000"},
                completed=COMPLETED,
                groups=(TransactionGroup("GBP", len(rows), None, 0, None),),
            )
            for batch_id, rows in self.batches.items()
        ]

    def command(self, command: str, parameters: Sequence[tuple[str, str]] = ()) -> Element:
        """getBatchDetail: at most `page_size` rows, no <totalrows> (not confirmed to exist)."""
        assert command == "getBatchDetail"
        self.detail_calls += 1
        values = dict(parameters)
        start = int(values["startrow"])
        rows = self.batches[values["batchid"]]
        page = "".join(rows[start - 1 : start - 1 + self.page_size])
        document = (
            f"<vspaccess><errorcode>0000</errorcode><transactions>{page}</transactions></vspaccess>"
        )
        root: Element = fromstring(document.encode("utf-8"))
        return root


@pytest.fixture
def reporting() -> FakeReporting:
    return FakeReporting(
        batches={
            "501": [
                transaction("W-1-P1", "25.00"),
                transaction("W-2-P1", "10.00"),
                transaction("W-3-P1", "5.00"),
            ]
        }
    )


def fetch(
    reporting: FakeReporting,
    ledger: ReportLedger,
    watermarks: WatermarkStore,
    archive: ReportArchive,
    now: datetime = NOW,
) -> Any:
    return fetch_opayo_batches(reporting, ledger, watermarks, archive, VENDOR, now)


def test_a_batch_is_fetched_page_by_page_archived_whole_and_made_ready(
    reporting: FakeReporting,
    ledger: ReportLedger,
    watermarks: WatermarkStore,
    archive: ReportArchive,
    s3: Any,
) -> None:
    result = fetch(reporting, ledger, watermarks, archive)
    key = opayo_batch_key(VENDOR, "501", "Elavon", COMPLETED.date())
    assert result.archived == (key,)
    assert reporting.detail_calls == 2
    document = s3.get_object(Bucket=REPORTS_BUCKET, Key=key)["Body"].read().decode()
    assert [code in document for code in ("W-1-P1", "W-2-P1", "W-3-P1")] == [True] * 3
    ready = ledger.ready_for_reconciliation()
    assert [(e.kind, e.source_id, e.archive_key) for e in ready] == [("opayo-batch", "501", key)]
    finished = ledger.finished(VENDOR, "opayo-batch", "501")
    assert finished is not None
    assert finished.detail == "3 transactions"
    assert watermarks.get(VENDOR, BATCH_WATERMARK) == NOW

    # The next run lists the batch again (overlap) and leaves it alone.
    again = fetch(reporting, ledger, watermarks, archive, NOW + timedelta(days=1))
    assert (again.archived, again.already_known) == ((), 1)
    assert reporting.windows[-1][0] == NOW - timedelta(days=2)
    assert reporting.detail_calls == 2


def test_an_unreadable_batch_is_archived_and_recorded_as_failed(
    ledger: ReportLedger, watermarks: WatermarkStore, archive: ReportArchive
) -> None:
    reporting = FakeReporting(batches={"502": [transaction("W-1-P1", "lots")]})
    result = fetch(reporting, ledger, watermarks, archive)
    assert result.failed == ("502",)
    record = ledger.finished(VENDOR, "opayo-batch", "502")
    assert record is not None
    assert record.status == "failed"
    assert "amount" in (record.detail or "")
    assert ledger.ready_for_reconciliation() == []


def ready(ledger: ReportLedger, archive: ReportArchive, kind: str, source_id: str, key: str,
          content: str) -> None:  # fmt: skip
    archive.put_bytes(key, content.encode("utf-8"), content_type="text/plain")
    ledger.mark_ready_for_reconciliation(
        ReportEntry(kind, "uk-main" if kind == "amazon-report" else VENDOR, source_id,  # type: ignore[arg-type]
                    "X", NOW, "done", archive_key=key)
    )  # fmt: skip


def test_a_journal_run_reconciles_everything_ready_and_announces_it(
    ledger: ReportLedger, archive: ReportArchive, s3: Any
) -> None:
    settlement = "".join(settlement_lines([order_fee("W-1", "-2.50")], total="-2.50"))
    settlement_key = amazon_report_key("GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "S1", NOW)
    ready(ledger, archive, "amazon-report", "S1", settlement_key, settlement)
    batch_key = opayo_batch_key(VENDOR, "501", "Elavon", NOW.date())
    ready(ledger, archive, "opayo-batch", "501", batch_key,
          batch_xml([transaction("W-1-P1", "25.00")]))  # fmt: skip
    events = RecordingEvents()
    run = journal_ready_reports(ledger, archive, config(), events, run_id="run-1")
    assert run is not None
    assert set(run.inputs) == {settlement_key, batch_key}
    assert run.entry_count >= 2
    assert set(run.outputs) == {"journal.csv", "journal.json", "exceptions.csv", "report.html"}
    report = s3.get_object(Bucket=REPORTS_BUCKET, Key=run.outputs["report.html"].split("/", 3)[3])
    assert b"Reconciliation report" in report["Body"].read()
    journal = json.loads(
        s3.get_object(Bucket=REPORTS_BUCKET, Key=run.outputs["journal.json"].split("/", 3)[3])[
            "Body"
        ].read()
    )
    assert all(entry["balanced"] for entry in journal["entries"])
    [(detail_type, detail)] = events.published
    assert detail_type == EVENT_DETAIL_TYPE
    assert detail["runId"] == "run-1"
    assert detail["settlementIds"] == ["24601"]
    assert detail["outputs"] == run.outputs
    assert ledger.ready_for_reconciliation() == []
    assert journal_ready_reports(ledger, archive, config(), events) is None


def test_a_file_the_reconciliation_cannot_read_is_set_aside_and_the_rest_is_journaled(
    ledger: ReportLedger, archive: ReportArchive
) -> None:
    ready(ledger, archive, "amazon-report", "S9", "amazon/x/S9.tsv", "not a settlement\n")
    ready(ledger, archive, "opayo-batch", "501", "opayo/501.xml",
          batch_xml([transaction("W-1-P1", "25.00")]))  # fmt: skip
    events = RecordingEvents()
    run = journal_ready_reports(ledger, archive, config(), events)
    assert run is not None
    assert run.rejected == ("amazon/x/S9.tsv",)
    assert run.inputs == ("opayo/501.xml",)
    rejected = ledger.finished("uk-main", "amazon-report", "S9")
    assert rejected is not None
    assert rejected.status == "failed"
    assert "s3://reports/amazon/x/S9.tsv, line 1" in (rejected.detail or "")
    assert ledger.ready_for_reconciliation() == []


def test_the_order_book_knows_each_order_by_every_providers_id(aws: None) -> None:
    store = OrderExportStore(create_orders_table())
    record = OrderRecord(
        order=make_order("W-1", total=2500),
        payment=authorised_payment("W-1"),
        seller_account="uk-main",
        refunds=[
            Refund(
                order_id="W-1",
                vendor_tx_code="RFND-W-1-1",
                reference_transaction_id="TX-W-1",
                amount={"amount": 500, "currency": "GBP"},  # type: ignore[arg-type]
            )
        ],
    )
    store.create(record)
    store.create(OrderRecord(order=make_order("W-2", total=1000), seller_account="uk-main"))
    store.park_payment(authorised_payment("W-9"))
    line = json.loads(order_book_line(record) or "{}")
    assert line == {
        "orderId": "W-1",
        "totalAmount": {"amount": 2500, "currency": "GBP"},
        "sellerFulfillmentOrderId": "W-1",
        "refundVendorTxCodes": ["RFND-W-1-1"],
        "vendorTxCode": "W-1-P1",
    }
    book = order_book(store.all_orders())
    assert sorted(book.order_ids) == ["W-1", "W-2"]
    assert book.resolve_opayo("W-1-P1") == book.order_ids.index("W-1")
    assert book.resolve_opayo("RFND-W-1-1") == book.order_ids.index("W-1")
    assert book.resolve_amazon("W-2", "") == book.order_ids.index("W-2")


def test_a_resubmitted_order_is_known_by_its_earlier_attempts_ids_too(aws: None) -> None:
    """A Payment refunded when Amazon could not fulfil it, then a Repeat for attempt 2: the
    batches settle all three against the one order, and Amazon knows both order ids."""
    first = authorised_payment("W-1")
    refund = Refund(
        order_id="W-1",
        vendor_tx_code="RFND-W-1-R1",
        reference_transaction_id="TX-W-1",
        amount={"amount": 2500, "currency": "GBP"},  # type: ignore[arg-type]
        status="succeeded",
    )
    record = OrderRecord(
        order=make_order("W-1", total=2500),
        payment=first.model_copy(update={"vendor_tx_code": "RPT-W-1-A2"}),
        seller_account="uk-main",
        attempt=2,
        previous_attempts=[
            OrderAttempt(
                attempt=1,
                seller_fulfillment_order_id="W-1",
                payment=first,
                refunds=(refund,),
                ended_at=datetime(2026, 11, 28, tzinfo=UTC),
            )
        ],
    )
    line = json.loads(order_book_line(record) or "{}")
    assert line["vendorTxCode"] == "RPT-W-1-A2"
    assert line["earlierVendorTxCodes"] == ["RFND-W-1-R1", "W-1-P1"]
    book = order_book([record])
    for code in ("RPT-W-1-A2", "W-1-P1", "RFND-W-1-R1"):
        assert book.resolve_opayo(code) == 0
    assert book.resolve_amazon("W-1", "") == 0
    assert book.resolve_opayo("RPT-W-1-A3") == -1


def test_only_one_journal_run_at_a_time_and_a_crashed_runs_lease_expires(
    ledger: ReportLedger, archive: ReportArchive
) -> None:
    ready(ledger, archive, "opayo-batch", "501", "opayo/501.xml",
          batch_xml([transaction("W-1-P1", "25.00")]))  # fmt: skip
    events = RecordingEvents()
    assert ledger.acquire_journal_lease("other-run", NOW, timedelta(minutes=15))
    busy = journal_ready_reports(ledger, archive, config(), events, now=lambda: NOW)
    assert busy is None
    assert events.published == []
    assert len(ledger.ready_for_reconciliation()) == 1

    later = NOW + timedelta(minutes=16)  # the other run crashed; its lease has expired
    run = journal_ready_reports(ledger, archive, config(), events, now=lambda: later)
    assert run is not None
    assert len(events.published) == 1
    # The lease was given back: the next run may take it at once.
    assert ledger.acquire_journal_lease("next-run", later, timedelta(minutes=15))
    ledger.release_journal_lease("someone-else")  # not the holder: changes nothing
    assert not ledger.acquire_journal_lease("third-run", later, timedelta(minutes=15))
