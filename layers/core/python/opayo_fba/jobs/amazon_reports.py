"""Amazon reports: request them on schedule, wait for DONE (bounded), archive, then process.

Two scheduled steps, each a separate Lambda run:
- `schedule_amazon_reports` asks for an FBA inventory report (unless one is still on its way)
  and lists the settlement reports Amazon generated since the last listing; every report to
  wait for is remembered in the report ledger (connector-state table);
- `poll_amazon_reports` checks each remembered report: DONE -> download (GZIP is undone by
  the connector, the document is spooled to a temporary file, not held in memory), archive
  the raw file to S3, then parse it streaming, decoded by the charset its Content-Type names
  (Cp1252 when none, an unknown one, or bytes that are not in it: `opayo_fba.amazon.charsets`)
  (inventory -> levels and events; settlement ->
  ready for reconciliation); CANCELLED/FATAL -> recorded as failed with Amazon's status;
  still not DONE after `give_up_after` -> recorded as given up, with when it was requested.

A report is marked finished only after its archive and processing succeeded, so a crash in
between repeats the work (archive versions, idempotent level writes) and loses nothing.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Protocol

from opayo_fba.amazon.charsets import readable_encoding
from opayo_fba.amazon.connector import SETTLEMENT_REPORT_TYPE
from opayo_fba.amazon.results import DownloadedDocument, ReportInfo
from opayo_fba.convert.sku import SkuMapping
from opayo_fba.errors import InvalidInputError
from opayo_fba.jobs.archive import ReportArchive, amazon_report_key
from opayo_fba.jobs.inventory import InventoryResult, apply_inventory_report
from opayo_fba.saga.ports import EventPort
from opayo_fba.store.inventory import InventoryStore
from opayo_fba.store.report_requests import ReportEntry, ReportLedger
from opayo_fba.store.watermarks import WatermarkStore

INVENTORY_REPORT_TYPE = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"
INVENTORY_REPORT_TYPES = frozenset({INVENTORY_REPORT_TYPE, "GET_FBA_MYI_ALL_INVENTORY_DATA"})
SETTLEMENT_WATERMARK = "settlement-reports"
GIVE_UP_AFTER = timedelta(hours=6)
"""Amazon usually finishes an inventory report within minutes; 6 hours means it will not."""
SETTLEMENT_LOOKBACK = timedelta(days=30)
"""Where the first settlement listing starts (Amazon keeps settlement reports 90 days)."""
SETTLEMENT_OVERLAP = timedelta(days=1)
SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
"""Documents up to this size stay in memory while archived and parsed; larger go to /tmp."""
_ENDED = frozenset({"CANCELLED", "FATAL"})


class ReportSource(Protocol):
    """The part of the Amazon connector the report pipeline uses."""

    def create_report(
        self,
        report_type: str,
        *,
        data_start: datetime | None = None,
        data_end: datetime | None = None,
    ) -> str: ...

    def get_report(self, report_id: str) -> ReportInfo: ...

    def download_report_document(self, document_id: str, sink: IO[bytes]) -> DownloadedDocument: ...

    def list_settlement_reports(self, created_since: datetime) -> list[ReportInfo]: ...


@dataclass(frozen=True)
class ScheduleResult:
    inventory_report_id: str | None
    """The report requested now, or None when one was still pending."""
    inventory_report_pending: str | None
    """The report already on its way (when none was requested)."""
    settlement_reports_listed: int
    settlement_reports_new: tuple[str, ...]


@dataclass(frozen=True)
class ReportOutcome:
    report_id: str
    report_type: str
    status: str
    """done, failed, gave_up or waiting."""
    archive_key: str | None = None
    detail: str | None = None
    inventory: InventoryResult | None = None


@dataclass(frozen=True)
class ReportPollResult:
    outcomes: tuple[ReportOutcome, ...]

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


def schedule_amazon_reports(
    connector: ReportSource,
    ledger: ReportLedger,
    watermarks: WatermarkStore,
    seller_account: str,
    now: datetime,
    *,
    inventory_report_type: str = INVENTORY_REPORT_TYPE,
    give_up_after: timedelta = GIVE_UP_AFTER,
    settlement_lookback: timedelta = SETTLEMENT_LOOKBACK,
) -> ScheduleResult:
    """Request an inventory report and remember new settlement reports, for one account."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if inventory_report_type not in INVENTORY_REPORT_TYPES:
        raise InvalidInputError(
            f"inventory_report_type {inventory_report_type!r} is not one of "
            f"{', '.join(sorted(INVENTORY_REPORT_TYPES))}"
        )
    in_flight = [
        entry
        for entry in ledger.pending(seller_account, "amazon-report")
        if entry.report_type == inventory_report_type and now - entry.requested_at < give_up_after
    ]
    requested: str | None = None
    if not in_flight:
        requested = connector.create_report(inventory_report_type)
        ledger.add_pending(
            ReportEntry(
                kind="amazon-report",
                scope=seller_account,
                source_id=requested,
                report_type=inventory_report_type,
                requested_at=now,
            )
        )
    previous = watermarks.get(seller_account, SETTLEMENT_WATERMARK)
    since = previous - SETTLEMENT_OVERLAP if previous is not None else now - settlement_lookback
    listed = connector.list_settlement_reports(since)
    new = [
        info.report_id
        for info in listed
        if ledger.add_pending(
            ReportEntry(
                kind="amazon-report",
                scope=seller_account,
                source_id=info.report_id,
                report_type=info.report_type or SETTLEMENT_REPORT_TYPE,
                requested_at=info.created_time or now,
            )
        )
    ]
    watermarks.advance(seller_account, SETTLEMENT_WATERMARK, now)
    return ScheduleResult(
        inventory_report_id=requested,
        inventory_report_pending=in_flight[0].source_id if in_flight else None,
        settlement_reports_listed=len(listed),
        settlement_reports_new=tuple(new),
    )


def poll_amazon_reports(
    connector: ReportSource,
    ledger: ReportLedger,
    archive: ReportArchive,
    seller_account: str,
    now: datetime,
    *,
    inventory: InventoryStore,
    events: EventPort,
    skus: SkuMapping | None = None,
    give_up_after: timedelta = GIVE_UP_AFTER,
) -> ReportPollResult:
    """Check every report the ledger waits for (one account); see the module docstring."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    outcomes = []
    for entry in ledger.pending(seller_account, "amazon-report"):
        if ledger.finished(entry.scope, entry.kind, entry.source_id) is not None:
            # A crash after finish() wrote the final record: just drop the pending entry.
            ledger.discard_pending(entry)
            continue
        info = connector.get_report(entry.source_id)
        if info.processing_status in _ENDED:
            detail = (
                f"Amazon ended report {entry.source_id} with {info.processing_status} "
                "(CANCELLED can also mean there was no data); a new one is requested on schedule"
            )
            ledger.finish(replace(entry, status="failed", detail=detail, finished_at=now))
            outcomes.append(
                ReportOutcome(entry.source_id, entry.report_type, "failed", None, detail)
            )
            continue
        if not info.done or not info.document_id:
            if now - entry.requested_at >= give_up_after:
                detail = (
                    f"report {entry.source_id} was still {info.processing_status or 'unknown'} "
                    f"{now - entry.requested_at} after it was requested at "
                    f"{entry.requested_at.isoformat()}; gave up after {give_up_after}"
                )
                ledger.finish(replace(entry, status="gave_up", detail=detail, finished_at=now))
                outcomes.append(
                    ReportOutcome(entry.source_id, entry.report_type, "gave_up", None, detail)
                )
            else:
                outcomes.append(ReportOutcome(entry.source_id, entry.report_type, "waiting"))
            continue
        outcomes.append(
            _archive_and_process(
                connector, ledger, archive, entry, info, now, inventory, events, skus
            )
        )
    return ReportPollResult(tuple(outcomes))


def _archive_and_process(
    connector: ReportSource,
    ledger: ReportLedger,
    archive: ReportArchive,
    entry: ReportEntry,
    info: ReportInfo,
    now: datetime,
    inventory: InventoryStore,
    events: EventPort,
    skus: SkuMapping | None,
) -> ReportOutcome:
    assert info.document_id is not None
    report_type = info.report_type or entry.report_type
    created = info.created_time or entry.requested_at
    key = amazon_report_key(report_type, entry.source_id, created.date())
    result: InventoryResult | None = None
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        download = connector.download_report_document(info.document_id, spool)
        size = download.size
        try:
            encoding = readable_encoding(spool, download.charset)
        except UnicodeDecodeError:
            encoding = None
        spool.seek(0)
        archive.upload(
            key,
            spool,
            # Archived as received; the charset says how to read it.
            content_type="text/tab-separated-values"
            + (f"; charset={encoding.removesuffix('-sig')}" if encoding else ""),
            metadata={
                "report-id": entry.source_id,
                "report-type": report_type,
                "document-id": info.document_id,
                "seller-account": entry.scope,
            },
        )
        archived = replace(entry, archive_key=key, report_type=report_type, finished_at=now)
        try:
            if report_type in INVENTORY_REPORT_TYPES:
                if encoding is None:
                    declared = download.charset or "no charset declared"
                    raise UnicodeError(f"its bytes are not text in {declared} nor in Cp1252")
                spool.seek(0)
                text = io.TextIOWrapper(spool, encoding=encoding, newline="")
                try:
                    result = apply_inventory_report(
                        text,
                        source=archive.uri(key),
                        seller_account=entry.scope,
                        report_id=entry.source_id,
                        as_of=created,
                        store=inventory,
                        events=events,
                        skus=skus,
                    )
                finally:
                    text.detach()
            elif report_type == SETTLEMENT_REPORT_TYPE:
                ledger.mark_ready_for_reconciliation(archived)
        except (InvalidInputError, UnicodeError) as error:
            # The file is archived; what is wrong with it will not change on a retry.
            detail = f"archived {size} bytes to {archive.uri(key)} but could not read it: {error}"
            ledger.finish(replace(archived, status="failed", detail=detail))
            return ReportOutcome(entry.source_id, report_type, "failed", key, detail)
    ledger.finish(replace(archived, status="done", detail=f"{size} bytes"))
    return ReportOutcome(entry.source_id, report_type, "done", key, None, result)


if TYPE_CHECKING:
    from opayo_fba.amazon.connector import SpApiConnector

    def _connector_is_a_report_source(connector: SpApiConnector) -> ReportSource:
        return connector  # mypy checks the real connector against the protocol
