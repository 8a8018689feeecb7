"""Report ledger, scheduling and polling with an in-memory Amazon, moto DynamoDB and S3."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import pytest

from opayo_fba.amazon.connector import SETTLEMENT_REPORT_TYPE
from opayo_fba.amazon.results import DownloadedDocument, ReportInfo
from opayo_fba.errors import InvalidInputError
from opayo_fba.jobs.amazon_reports import (
    GIVE_UP_AFTER,
    INVENTORY_REPORT_TYPE,
    SPOOL_IN_MEMORY_BYTES,
    poll_amazon_reports,
    schedule_amazon_reports,
)
from opayo_fba.jobs.archive import ReportArchive, amazon_report_key, opayo_batch_key
from opayo_fba.jobs.events import INVENTORY_LEVEL_CHANGED
from opayo_fba.store.inventory import InventoryStore
from opayo_fba.store.report_requests import ReportEntry, ReportLedger
from opayo_fba.store.watermarks import WatermarkStore
from tests.unit.pipeline.test_inventory import report
from tests.unit.polling.support import REPORTS_BUCKET, RecordingEvents
from tests.unit.reconcile.builders import order_fee, settlement_lines

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ACCOUNT = "uk-main"


@dataclass
class FakeReports:
    """Reports 2021-06-30 in memory; the test moves `status` and sets documents."""

    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, bytes] = field(default_factory=dict)
    content_types: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    listed_since: list[datetime] = field(default_factory=list)

    def create_report(
        self,
        report_type: str,
        *,
        data_start: datetime | None = None,
        data_end: datetime | None = None,
    ) -> str:
        report_id = f"R{len(self.reports) + 1}"
        self.reports[report_id] = {
            "reportId": report_id,
            "reportType": report_type,
            "processingStatus": "IN_QUEUE",
            "createdTime": NOW.isoformat(),
        }
        self.created.append(report_id)
        return report_id

    def finish(
        self,
        report_id: str,
        content: str,
        *,
        encoding: str = "utf-8",
        content_type: str | None = None,
    ) -> None:
        document_id = f"DOC-{report_id}"
        self.documents[document_id] = content.encode(encoding)
        if content_type is not None:
            self.content_types[document_id] = content_type
        self.reports[report_id].update(processingStatus="DONE", reportDocumentId=document_id)

    def add_settlement(self, report_id: str, content: str) -> None:
        self.reports[report_id] = {
            "reportId": report_id,
            "reportType": SETTLEMENT_REPORT_TYPE,
            "processingStatus": "IN_QUEUE",
            "createdTime": (NOW - timedelta(days=1)).isoformat(),
        }
        self.finish(report_id, content)

    def get_report(self, report_id: str) -> ReportInfo:
        return ReportInfo.from_payload(self.reports[report_id])

    def download_report_document(self, document_id: str, sink: IO[bytes]) -> DownloadedDocument:
        sink.write(self.documents[document_id])
        return DownloadedDocument(
            len(self.documents[document_id]), self.content_types.get(document_id)
        )

    def list_settlement_reports(self, created_since: datetime) -> list[ReportInfo]:
        self.listed_since.append(created_since)
        return [
            ReportInfo.from_payload(r)
            for r in self.reports.values()
            if r["reportType"] == SETTLEMENT_REPORT_TYPE
        ]


@dataclass
class Pipeline:
    amazon: FakeReports
    ledger: ReportLedger
    archive: ReportArchive
    inventory: InventoryStore
    watermarks: WatermarkStore
    events: RecordingEvents
    s3: Any

    def schedule(self, now: datetime = NOW) -> Any:
        return schedule_amazon_reports(self.amazon, self.ledger, self.watermarks, ACCOUNT, now)

    def poll(self, now: datetime = NOW) -> Any:
        return poll_amazon_reports(
            self.amazon,
            self.ledger,
            self.archive,
            ACCOUNT,
            now,
            inventory=self.inventory,
            events=self.events,
        )

    def archived(self, key: str) -> str:
        body: bytes = self.s3.get_object(Bucket=REPORTS_BUCKET, Key=key)["Body"].read()
        return body.decode("utf-8")


@pytest.fixture
def pipeline(
    ledger: ReportLedger,
    archive: ReportArchive,
    inventory: InventoryStore,
    watermarks: WatermarkStore,
    s3: Any,
) -> Pipeline:
    return Pipeline(FakeReports(), ledger, archive, inventory, watermarks, RecordingEvents(), s3)


def test_the_ledger_remembers_a_report_once_and_moves_it_to_history(ledger: ReportLedger) -> None:
    entry = ReportEntry("amazon-report", ACCOUNT, "R1", INVENTORY_REPORT_TYPE, NOW)
    assert ledger.add_pending(entry)
    assert not ledger.add_pending(entry)
    assert [e.source_id for e in ledger.pending(ACCOUNT)] == ["R1"]
    with pytest.raises(ValueError, match="final status"):
        ledger.finish(entry)
    ledger.finish(ReportEntry("amazon-report", ACCOUNT, "R1", INVENTORY_REPORT_TYPE, NOW, "done"))
    assert ledger.pending(ACCOUNT) == []
    assert not ledger.add_pending(entry)  # finished: never waited for again
    finished = ledger.finished(ACCOUNT, "amazon-report", "R1")
    assert finished is not None
    assert finished.status == "done"


def test_an_inventory_report_is_requested_once_then_archived_parsed_and_announced(
    pipeline: Pipeline,
) -> None:
    scheduled = pipeline.schedule()
    assert scheduled.inventory_report_id == "R1"
    # Requested again while the first is on its way: nothing new is requested.
    again = pipeline.schedule(NOW + timedelta(minutes=30))
    assert (again.inventory_report_id, again.inventory_report_pending) == (None, "R1")
    assert pipeline.amazon.created == ["R1"]

    waiting = pipeline.poll(NOW + timedelta(minutes=1))
    assert waiting.count("waiting") == 1
    content = "".join(report(("AMZ-MUG-BLUE", 5, 0, 0), ("AMZ-MUG-RED", 2, 0, 1)))
    pipeline.amazon.finish("R1", content)
    done = pipeline.poll(NOW + timedelta(minutes=5))
    outcome = done.outcomes[0]
    assert outcome.status == "done"
    assert outcome.archive_key == f"amazon/{INVENTORY_REPORT_TYPE}/2026/11/28/R1.tsv"
    assert pipeline.archived(outcome.archive_key) == content
    levels = pipeline.inventory.levels(ACCOUNT)
    assert {sku: level.fulfillable for sku, level in levels.items()} == {
        "AMZ-MUG-BLUE": 5,
        "AMZ-MUG-RED": 2,
    }
    assert len(pipeline.events.of(INVENTORY_LEVEL_CHANGED)) == 2
    assert pipeline.ledger.pending(ACCOUNT) == []
    assert pipeline.poll(NOW + timedelta(minutes=10)).outcomes == ()


EU_NAME = "Tasse émaillée – Enamel mug™"


def _named_report(name: str) -> str:
    return "".join(report(("AMZ-MUG-BLUE", 5, 0, 0))).replace("\tMug\t", f"\t{name}\t")


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("text/plain;charset=Cp1252", "cp1252"),  # Amazon's Java name
        ("text/plain; charset=windows-1252", "cp1252"),
        ("text/plain; charset=UTF-8", "utf-8"),
        ("text/plain; charset=ISO8859_15", "iso8859-15"),
        (None, "cp1252"),  # nothing declared: Cp1252
        ("text/plain; charset=x-no-such-charset", "cp1252"),  # unknown: Cp1252
        ("text/plain; charset=UTF-8", "cp1252"),  # declared UTF-8, bytes are not: Cp1252
    ],
)
def test_an_inventory_report_is_read_in_its_declared_charset_or_cp1252(
    pipeline: Pipeline, content_type: str | None, encoding: str
) -> None:
    name = EU_NAME if encoding != "iso8859-15" else "Tasse émaillée €"
    pipeline.schedule()
    pipeline.amazon.finish("R1", _named_report(name), encoding=encoding, content_type=content_type)
    outcome = pipeline.poll().outcomes[0]
    assert outcome.status == "done", outcome.detail
    assert pipeline.inventory.levels(ACCOUNT)["AMZ-MUG-BLUE"].product_name == name
    (event,) = pipeline.events.of(INVENTORY_LEVEL_CHANGED)
    assert event["productName"] == name
    head = pipeline.s3.head_object(Bucket=REPORTS_BUCKET, Key=outcome.archive_key)
    assert head["ContentType"].startswith("text/tab-separated-values; charset=")


def test_bytes_in_no_charset_we_can_read_fail_the_report_with_the_reason(
    pipeline: Pipeline,
) -> None:
    pipeline.schedule()
    pipeline.amazon.finish("R1", "", content_type="text/plain; charset=UTF-8")
    pipeline.amazon.documents["DOC-R1"] = _named_report("Mug").encode() + b"\x81\xff\n"
    outcome = pipeline.poll().outcomes[0]
    assert outcome.status == "failed"
    assert "UTF-8 nor in Cp1252" in (outcome.detail or "")
    assert pipeline.events.of(INVENTORY_LEVEL_CHANGED) == []


def test_a_report_that_never_finishes_is_given_up_with_a_clear_record(
    pipeline: Pipeline,
) -> None:
    pipeline.schedule()
    late = NOW + GIVE_UP_AFTER
    result = pipeline.poll(late)
    assert result.count("gave_up") == 1
    record = pipeline.ledger.finished(ACCOUNT, "amazon-report", "R1")
    assert record is not None
    assert record.status == "gave_up"
    assert record.detail is not None
    assert "still IN_QUEUE" in record.detail
    assert NOW.isoformat() in record.detail
    # The next schedule asks for a new one.
    assert pipeline.schedule(late).inventory_report_id == "R2"


@pytest.mark.parametrize("status", ["CANCELLED", "FATAL"])
def test_a_report_amazon_ended_is_recorded_as_failed(pipeline: Pipeline, status: str) -> None:
    pipeline.schedule()
    pipeline.amazon.reports["R1"]["processingStatus"] = status
    assert pipeline.poll().count("failed") == 1
    record = pipeline.ledger.finished(ACCOUNT, "amazon-report", "R1")
    assert record is not None
    assert status in (record.detail or "")


def test_an_unreadable_inventory_report_is_archived_and_recorded_as_failed(
    pipeline: Pipeline,
) -> None:
    pipeline.schedule()
    pipeline.amazon.finish("R1", "not\ta report\n")
    outcome = pipeline.poll().outcomes[0]
    assert outcome.status == "failed"
    assert outcome.archive_key is not None
    assert pipeline.archived(outcome.archive_key) == "not\ta report\n"
    assert "header lacks" in (outcome.detail or "")
    assert pipeline.ledger.pending(ACCOUNT) == []


def test_new_settlement_reports_are_listed_once_archived_and_made_ready(
    pipeline: Pipeline,
) -> None:
    content = "".join(settlement_lines([order_fee("W-1", "-2.50")], total="-2.50"))
    pipeline.amazon.add_settlement("S1", content)
    first = pipeline.schedule()
    assert first.settlement_reports_new == ("S1",)
    assert pipeline.amazon.listed_since[-1] == NOW - timedelta(days=30)
    pipeline.poll()
    ready = pipeline.ledger.ready_for_reconciliation()
    assert [(e.source_id, e.archive_key) for e in ready] == [
        ("S1", f"amazon/{SETTLEMENT_REPORT_TYPE}/2026/11/27/S1.tsv")
    ]
    assert pipeline.archived(ready[0].archive_key or "") == content
    # Listed again the next day: already finished, not processed twice.
    second = pipeline.schedule(NOW + timedelta(days=1))
    assert second.settlement_reports_new == ()
    assert pipeline.amazon.listed_since[-1] == NOW - timedelta(days=1)  # the overlap
    assert len(pipeline.ledger.ready_for_reconciliation()) == 1


def test_only_inventory_report_types_are_requested(pipeline: Pipeline) -> None:
    with pytest.raises(InvalidInputError, match="inventory_report_type"):
        schedule_amazon_reports(
            pipeline.amazon,
            pipeline.ledger,
            pipeline.watermarks,
            ACCOUNT,
            NOW,
            inventory_report_type=SETTLEMENT_REPORT_TYPE,
        )


def test_a_large_document_is_spooled_to_disk_and_uploaded_in_parts(pipeline: Pipeline) -> None:
    header = "".join(settlement_lines([], total="0.00"))
    filler = "".join(f"# padding line {n:08d}\n" for n in range(400_000))  # ~10 MB
    pipeline.amazon.add_settlement("S-BIG", header + filler)
    pipeline.schedule()
    outcome = next(o for o in pipeline.poll().outcomes if o.report_id == "S-BIG")
    assert outcome.status == "done"
    head = pipeline.s3.head_object(Bucket=REPORTS_BUCKET, Key=outcome.archive_key)
    assert head["ContentLength"] == len(header) + len(filler) > SPOOL_IN_MEMORY_BYTES
    assert "-" in head["ETag"]  # a multipart upload's ETag names its part count
    assert pipeline.archived(outcome.archive_key or "").endswith("padding line 00399999\n")


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("GET_X", "R/../1", date(2026, 3, 2)), "amazon/GET_X/2026/03/02/R_.._1.tsv"),
        (("GET X", "12", date(2026, 12, 31)), "amazon/GET_X/2026/12/31/12.tsv"),
    ],
)
def test_archive_keys_are_dated_and_cannot_escape_their_prefix(
    args: tuple[str, str, date], key: str
) -> None:
    assert amazon_report_key(*args) == key


def test_an_archive_key_needs_its_parts() -> None:
    with pytest.raises(ValueError, match="report_id is required"):
        amazon_report_key("GET_X", "..", date(2026, 3, 2))
    assert opayo_batch_key("shop a", "7", "", date(2026, 3, 2)) == (
        "opayo/batches/shop_a/2026/03/02/7-unknown.xml"
    )
