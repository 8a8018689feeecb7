"""Journal runs: every archived settlement report and Opayo batch waiting for reconciliation
goes through the reconciliation core in one run, streamed from the S3 archive; the journal
and exceptions are written back to S3 and a JournalEntriesReady event announces them.

One run takes everything ready, so an Amazon settlement and the Opayo batches of the same
orders are matched together. A file the reconciliation cannot read is taken out of the run
(recorded as failed in the ledger, with the file, line and field) and the run is repeated
without it, so one bad file never blocks the journals of the others.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from opayo_fba.jobs.archive import ReportArchive, journal_key
from opayo_fba.reconcile.amazon import SettlementParser
from opayo_fba.reconcile.config import ReconcileConfig
from opayo_fba.reconcile.engine import Reconciler, ReconcileResult
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.opayo import BatchParser
from opayo_fba.reconcile.orders import OrderBook
from opayo_fba.reconcile.outputs import (
    EVENT_DETAIL_TYPE,
    ExceptionWriter,
    journal_entries_ready_detail,
    write_journal_csv,
    write_journal_json,
)
from opayo_fba.reconcile.report import render_report
from opayo_fba.saga.ports import EventPort
from opayo_fba.store.report_requests import ReportEntry, ReportLedger

JOURNAL_FILES = ("journal.csv", "journal.json", "exceptions.csv", "report.html")
LEASE = timedelta(minutes=15)
"""Longer than any run can take (the Lambdas stop at 5 minutes); a crashed run's lease expires."""


@dataclass(frozen=True)
class JournalRun:
    run_id: str
    inputs: tuple[str, ...]
    """Archive keys reconciled in this run."""
    outputs: dict[str, str]
    """File name -> S3 URI."""
    entry_count: int
    exception_count: int
    rejected: tuple[str, ...]
    """Archive keys taken out of the run because they could not be read."""


def _reconcile(
    entries: list[ReportEntry],
    archive: ReportArchive,
    config: ReconcileConfig,
    orders: OrderBook | None,
    exceptions: io.StringIO,
    now: Callable[[], datetime],
) -> ReconcileResult:
    writer = ExceptionWriter(exceptions)
    reconciler = Reconciler(config, orders=orders, on_exception=writer.write, now=now)
    for entry in entries:
        assert entry.archive_key is not None
        source = archive.uri(entry.archive_key)
        if entry.kind == "opayo-batch":
            reconciler.add_batch(BatchParser(archive.chunks(entry.archive_key), source))
        else:
            reconciler.add_settlement(SettlementParser(archive.lines(entry.archive_key), source))
    return reconciler.finish()


def journal_ready_reports(
    ledger: ReportLedger,
    archive: ReportArchive,
    config: ReconcileConfig,
    events: EventPort,
    *,
    orders: OrderBook | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    run_id: str | None = None,
) -> JournalRun | None:
    """Reconcile everything ready; None when nothing was waiting or another run holds the
    lease (two schedules finishing at once must not journal the same files twice).

    `orders` (the canonical orders as an OrderBook) lets the matcher tie Amazon and Opayo
    rows to our orders; without it every order is reported as unknown_order.
    """
    run = run_id or uuid.uuid4().hex
    if not ledger.acquire_journal_lease(run, now(), LEASE):
        return None
    try:
        return _journal(ledger, archive, config, events, orders, now, run)
    finally:
        ledger.release_journal_lease(run)


def _journal(
    ledger: ReportLedger,
    archive: ReportArchive,
    config: ReconcileConfig,
    events: EventPort,
    orders: OrderBook | None,
    now: Callable[[], datetime],
    run: str,
) -> JournalRun | None:
    entries = sorted(ledger.ready_for_reconciliation(), key=lambda e: (e.kind, e.source_id))
    rejected: list[str] = []
    while entries:
        exceptions = io.StringIO()
        try:
            result = _reconcile(entries, archive, config, orders, exceptions, now)
        except MalformedInputError as error:
            bad = next(
                (e for e in entries if archive.uri(e.archive_key or "") == error.source), None
            )
            if bad is None:
                raise
            ledger.finish(
                replace(
                    bad,
                    status="failed",
                    detail=f"reconciliation could not read it: {error}",
                    finished_at=now(),
                )
            )
            ledger.mark_reconciled([bad])
            rejected.append(bad.archive_key or "")
            entries = [e for e in entries if e is not bad]
            continue
        day = result.generated_at.date()
        journal_csv, journal_json = io.StringIO(), io.StringIO()
        write_journal_csv(result.entries, journal_csv)
        write_journal_json(result, journal_json)
        outputs: dict[str, str] = {}
        for name, stream, content_type in (
            ("journal.csv", journal_csv, "text/csv; charset=utf-8"),
            ("journal.json", journal_json, "application/json"),
            ("exceptions.csv", exceptions, "text/csv; charset=utf-8"),
            ("report.html", io.StringIO(render_report(result)), "text/html; charset=utf-8"),
        ):
            key = archive.put_bytes(
                journal_key(run, day, name),
                stream.getvalue().encode("utf-8"),
                content_type=content_type,
            )
            outputs[name] = archive.uri(key)
        detail = journal_entries_ready_detail(result, run_id=run, outputs=outputs)
        archive.put_bytes(
            journal_key(run, day, "journal-entries-ready.json"),
            (json.dumps(detail, indent=2) + "\n").encode("utf-8"),
            content_type="application/json",
        )
        # Published before the inputs are released: a crash in between repeats the run
        # (a new run id, the same journal), never loses the event.
        events.publish(EVENT_DETAIL_TYPE, detail)
        ledger.mark_reconciled(entries)
        return JournalRun(
            run_id=run,
            inputs=tuple(e.archive_key or "" for e in entries),
            outputs=outputs,
            entry_count=len(result.entries),
            exception_count=result.exception_count,
            rejected=tuple(rejected),
        )
    return None
