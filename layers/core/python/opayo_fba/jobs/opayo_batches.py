"""Opayo settlement batches: list new ones, fetch each whole, archive the XML, mark it ready.

getBatchList names the batches settled in a window (from the watermark minus an overlap, so
a batch Opayo lists late is still found); each batch not already in the ledger is fetched
with getBatchDetail page by page, the pages joined into one `<vspaccess>` document (the shape
the reconciliation's BatchParser reads), archived to S3, checked by parsing it streaming from
the archive, and recorded as ready for reconciliation. The watermark moves only after every
batch of the window was recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from opayo_fba.errors import InvalidInputError
from opayo_fba.jobs.archive import ReportArchive, opayo_batch_key
from opayo_fba.model.money import Money
from opayo_fba.opayo.errors import ReportingApiError
from opayo_fba.opayo.reporting import Batch, page_batch_detail
from opayo_fba.reconcile.opayo import BatchParser
from opayo_fba.store.report_requests import ReportEntry, ReportLedger
from opayo_fba.store.watermarks import WatermarkStore

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

BATCH_WATERMARK = "opayo-batches"
BATCH_REPORT_TYPE = "OPAYO_BATCH"
FIRST_LOOKBACK = timedelta(days=7)
OVERLAP = timedelta(days=2)
"""Opayo dates batches in UK local time and lists them after the day closes."""
PAGE_SIZE = 500


class BatchSource(Protocol):
    """The part of `opayo_fba.opayo.reporting.ReportingClient` this step uses."""

    def get_batch_list(self, start: datetime, end: datetime) -> list[Batch]: ...

    def command(self, command: str, parameters: Sequence[tuple[str, str]] = ()) -> Element: ...


@dataclass(frozen=True)
class BatchFetchResult:
    vendor: str
    since: datetime
    batches_listed: int
    archived: tuple[str, ...]
    """Archive keys of the batches fetched by this run."""
    already_known: int
    failed: tuple[str, ...]
    """Batch ids whose detail could not be read (recorded in the ledger with the reason)."""


def _leaf(parent: Element, name: str, text: str) -> None:
    from xml.etree.ElementTree import SubElement

    SubElement(parent, name).text = text


def batch_detail_document(
    source: BatchSource, batch: Batch, *, page_size: int = PAGE_SIZE
) -> bytes:
    """One batch as one `<vspaccess>` document: the header getBatchList gave (batchid,
    authprocessor, completed, its transactiongroups) and every getBatchDetail page's rows.

    getBatchDetail's own header is not relied on (no public source shows one). Paging stops
    at the count getBatchList gave (`opayo_fba.opayo.reporting.page_batch_detail`); that
    count is written as `<totalrows>`, so the reconciliation reports any row that went
    missing.
    """
    from xml.etree.ElementTree import Element, SubElement, tostring

    root = Element("vspaccess")
    _leaf(root, "errorcode", "0000")
    header = SubElement(root, "batch")
    _leaf(header, "batchid", batch.batch_id)
    _leaf(header, "authprocessor", batch.auth_processor)
    if batch.completed is not None:
        _leaf(header, "completed", batch.raw.get("completed", ""))
    if batch.groups:
        groups = SubElement(header, "transactiongroups")
        for group in batch.groups:
            element = SubElement(groups, "transactiongroup")
            _leaf(element, "currency", group.currency)
            _leaf(element, "paymentnumber", str(group.payment_number))
            _leaf(element, "paymentvalue", _decimal(group.payment_value))
            _leaf(element, "refundnumber", str(group.refund_number))
            _leaf(element, "refundvalue", _decimal(group.refund_value))
    transactions = SubElement(header, "transactions")
    received = 0
    try:
        for rows in page_batch_detail(
            source, batch.batch_id, batch.auth_processor, batch.expected_rows, page_size
        ):
            transactions.extend(rows)
            received += len(rows)
    except ReportingApiError as error:
        raise InvalidInputError(f"getBatchDetail of batch {batch.batch_id}: {error}") from None
    expected = batch.expected_rows
    _leaf(transactions, "totalrows", str(expected if expected is not None else received))
    document: bytes = tostring(root, encoding="utf-8")
    return document


def _decimal(money: Money | None) -> str:
    return "" if money is None else money.format()


def _business_date(batch: Batch, fallback: datetime) -> date:
    """The day the batch was closed (`completed`), which names its archive folder."""
    return (batch.completed or fallback).date()


def fetch_opayo_batches(
    reporting: BatchSource,
    ledger: ReportLedger,
    watermarks: WatermarkStore,
    archive: ReportArchive,
    vendor: str,
    now: datetime,
    *,
    first_lookback: timedelta = FIRST_LOOKBACK,
    overlap: timedelta = OVERLAP,
) -> BatchFetchResult:
    """Archive every batch settled since the watermark for one vendor (see module docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    previous = watermarks.get(vendor, BATCH_WATERMARK)
    since = previous - overlap if previous is not None else now - first_lookback
    batches = reporting.get_batch_list(since, now)
    archived: list[str] = []
    failed: list[str] = []
    known = 0
    for batch in batches:
        if not batch.batch_id:
            raise InvalidInputError("getBatchList returned a batch without a batchid")
        if ledger.finished(vendor, "opayo-batch", batch.batch_id) is not None:
            known += 1
            continue
        entry = ReportEntry(
            kind="opayo-batch",
            scope=vendor,
            source_id=batch.batch_id,
            report_type=BATCH_REPORT_TYPE,
            requested_at=now,
            attributes={"authProcessor": batch.auth_processor},
            finished_at=now,
        )
        document = batch_detail_document(reporting, batch)
        key = opayo_batch_key(
            vendor, batch.batch_id, batch.auth_processor, _business_date(batch, now)
        )
        archive.put_bytes(key, document, content_type="application/xml")
        archived_entry = replace(entry, archive_key=key)
        try:
            rows = sum(1 for _ in BatchParser(archive.chunks(key), archive.uri(key)).transactions())
        except InvalidInputError as error:
            ledger.finish(replace(archived_entry, status="failed", detail=str(error)))
            failed.append(batch.batch_id)
            continue
        ledger.mark_ready_for_reconciliation(archived_entry)
        ledger.finish(replace(archived_entry, status="done", detail=f"{rows} transactions"))
        archived.append(key)
    watermarks.advance(vendor, BATCH_WATERMARK, now)
    return BatchFetchResult(
        vendor=vendor,
        since=since,
        batches_listed=len(batches),
        archived=tuple(archived),
        already_known=known,
        failed=tuple(failed),
    )


if TYPE_CHECKING:
    from opayo_fba.opayo.reporting import ReportingClient

    def _client_is_a_batch_source(client: ReportingClient) -> BatchSource:
        return client  # mypy checks the real client against the protocol
