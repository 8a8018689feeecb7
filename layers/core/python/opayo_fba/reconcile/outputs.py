"""journal.csv, journal.json, exceptions.csv and the JournalEntriesReady event payload."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

from opayo_fba.model.money import CURRENCY_EXPONENTS
from opayo_fba.reconcile.amounts import format_minor
from opayo_fba.reconcile.engine import ReconcileResult
from opayo_fba.reconcile.journal import JournalEntry, balances_by_currency
from opayo_fba.reconcile.matching import ReconcileException

EVENT_SOURCE = "opayo-fba.reconcile"
EVENT_DETAIL_TYPE = "JournalEntriesReady"

JOURNAL_COLUMNS = (
    "entry_id", "date", "source_kind", "source_id", "source_file", "currency", "account",
    "debit_minor", "credit_minor", "debit", "credit", "memo",
)  # fmt: skip
EXCEPTION_COLUMNS = (
    "reason", "order", "source", "line", "currency", "amount_minor", "expected_minor",
    "amount", "expected", "detail",
)  # fmt: skip


def _decimal(amount: int | None, currency: str) -> str:
    if amount is None or currency not in CURRENCY_EXPONENTS:
        return ""
    return format_minor(amount, CURRENCY_EXPONENTS[currency])


class ExceptionWriter:
    """Streams exceptions to CSV as the reconciler finds them."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(EXCEPTION_COLUMNS)

    def write(self, exception: ReconcileException) -> None:
        self._writer.writerow((
            exception.reason, exception.order, exception.source,
            "" if exception.line is None else exception.line, exception.currency,
            "" if exception.amount_minor is None else exception.amount_minor,
            "" if exception.expected_minor is None else exception.expected_minor,
            _decimal(exception.amount_minor, exception.currency),
            _decimal(exception.expected_minor, exception.currency),
            exception.detail,
        ))  # fmt: skip


def write_journal_csv(entries: Iterable[JournalEntry], stream: IO[str]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(JOURNAL_COLUMNS)
    for entry in entries:
        for line in entry.lines:
            writer.writerow((
                entry.entry_id, entry.date.isoformat(), entry.source_kind, entry.source_id,
                entry.source_file, entry.currency, line.account, line.debit_minor,
                line.credit_minor, _decimal(line.debit_minor, entry.currency),
                _decimal(line.credit_minor, entry.currency), line.memo,
            ))  # fmt: skip


def entry_document(entry: JournalEntry) -> dict[str, Any]:
    return {
        "entryId": entry.entry_id,
        "sourceKind": entry.source_kind,
        "sourceId": entry.source_id,
        "sourceFile": entry.source_file,
        "date": entry.date.isoformat(),
        "currency": entry.currency,
        "balanced": entry.is_balanced(),
        "clearingMinor": entry.clearing_minor,
        "controlTotalMinor": entry.control_total_minor,
        "tiesOut": entry.ties_out(),
        "lines": [
            {
                "account": line.account,
                "debitMinor": line.debit_minor,
                "creditMinor": line.credit_minor,
                "memo": line.memo,
            }
            for line in entry.lines
        ],
    }


def write_journal_json(result: ReconcileResult, stream: IO[str]) -> None:
    json.dump(
        {
            "generatedAt": result.generated_at.isoformat(),
            "entries": [entry_document(entry) for entry in result.entries],
        },
        stream,
        indent=2,
    )
    stream.write("\n")


def journal_entries_ready_detail(
    result: ReconcileResult, *, run_id: str, outputs: Mapping[str, str]
) -> dict[str, Any]:
    """The `detail` of the JournalEntriesReady event: counts and totals, never order data.

    `outputs` names where each file went (local paths here, S3 URIs in the pipeline).
    """
    debits: dict[str, int] = {}
    for entry in result.entries:
        debits[entry.currency] = debits.get(entry.currency, 0) + entry.debits
    return {
        "runId": run_id,
        "generatedAt": result.generated_at.isoformat(),
        "settlementIds": result.settlement_ids,
        "batchIds": result.batch_ids,
        "entryCount": len(result.entries),
        "balanced": all(entry.is_balanced() for entry in result.entries)
        and not any(balances_by_currency(result.entries).values()),
        "tiesOut": all(entry.ties_out() for entry in result.entries),
        "debitsMinorByCurrency": dict(sorted(debits.items())),
        "matchedOrders": result.matched_orders,
        "exceptionCount": result.exception_count,
        "exceptionsByReason": dict(sorted(result.exceptions_by_reason.items())),
        "outputs": dict(outputs),
    }


def journal_entries_ready_event(
    result: ReconcileResult, *, run_id: str, outputs: Mapping[str, str]
) -> dict[str, Any]:
    """The event as EventBridge delivers it (source, detail-type, detail); the pipeline
    publishes it with PutEvents (Source, DetailType, Detail=json.dumps(detail))."""
    return {
        "source": EVENT_SOURCE,
        "detail-type": EVENT_DETAIL_TYPE,
        "detail": journal_entries_ready_detail(result, run_id=run_id, outputs=outputs),
    }
