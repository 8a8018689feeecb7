"""Journal runs as the console's Reconciliation page and finance read them, from the archive.

A run (jobs/journals.py) leaves its files under `journals/<yyyy>/<mm>/<dd>/<runId>/`:
journal.csv, journal.json, exceptions.csv, report.html and journal-entries-ready.json (the
JournalEntriesReady event's detail: counts and totals). Nothing else records runs, so the
archive is the list: a run is a folder with its `journal-entries-ready.json`.

An exception's decision (accepted: the suggested match, or the difference, is booked by
hand; dismissed: nothing to do) is recorded beside the run as
`decisions/<exception number>.json`, the exception's number being its row in exceptions.csv
(the file never changes once written). Deciding again replaces the object; the bucket is
versioned, so every earlier decision stays in its history.

`reconcile_uploads` starts a run on files an operator hands over (the console, against the
local runtime): each is read through before anything is written (a file the reconciliation
cannot read is refused with the file, line and field, and changes nothing), archived, marked
ready, and then the same `journal_ready_reports` as the schedule runs.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from opayo_fba.jobs.archive import ReportArchive
from opayo_fba.jobs.journals import JournalRun, journal_ready_reports
from opayo_fba.reconcile.amazon import SettlementParser
from opayo_fba.reconcile.config import ReconcileConfig
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.opayo import BatchParser
from opayo_fba.reconcile.orders import OrderBook
from opayo_fba.reconcile.outputs import EXCEPTION_COLUMNS
from opayo_fba.saga.ports import EventPort
from opayo_fba.store.report_requests import ReportEntry, ReportLedger

JOURNALS_PREFIX = "journals/"
READY_FILE = "journal-entries-ready.json"
DOWNLOADS: dict[str, str] = {
    "journal.csv": "text/csv; charset=utf-8",
    "journal.json": "application/json",
    "exceptions.csv": "text/csv; charset=utf-8",
    "report.html": "text/html; charset=utf-8",
}
"""The run's files a user may download, with their content types."""
UPLOAD_SCOPE = "console-upload"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
"""Per file, once decompressed: a month of a busy shop's settlement is a few MB."""
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY = re.compile(r"^journals/(\d{4})/(\d{2})/(\d{2})/([A-Za-z0-9._=-]+)/([^/]+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

Decision = Literal["accepted", "dismissed"]
UploadKind = Literal["amazon-settlement", "opayo-batch"]
DECISIONS: tuple[Decision, ...] = ("accepted", "dismissed")


@dataclass(frozen=True)
class RunSummary:
    """One run as its journal-entries-ready.json tells it."""

    run_id: str
    day: date
    folder: str
    """The archive prefix of its files (ends with '/')."""
    generated_at: datetime
    settlement_ids: list[str]
    batch_ids: list[str]
    entry_count: int
    balanced: bool
    ties_out: bool
    debits_by_currency: dict[str, int]
    matched_orders: int
    exception_count: int
    exceptions_by_reason: dict[str, int]
    files: tuple[str, ...] = ()
    """The downloadable files the run wrote (older runs have no report.html)."""


@dataclass(frozen=True)
class RunException:
    """A row of the run's exceptions.csv; `number` is its row (1 = the first exception)."""

    number: int
    reason: str
    order: str
    source: str
    line: int | None
    currency: str
    amount_minor: int | None
    expected_minor: int | None
    detail: str


@dataclass(frozen=True)
class ExceptionDecision:
    number: int
    decision: Decision
    note: str
    decided_at: datetime
    decided_by: str
    match: int | None = None
    """The exception it was matched with, when a suggested match was accepted."""


@dataclass(frozen=True)
class Upload:
    """A file handed over for a run: its name (as the user's machine called it) and bytes."""

    kind: UploadKind
    name: str
    content: bytes


@dataclass(frozen=True)
class UploadRun:
    run: JournalRun | None
    """None when another run held the lease (the files stay ready for the next one)."""
    archived: list[str] = field(default_factory=list)


class RunFileCache(ReportArchive):
    """The archive, keeping what it has read of runs' own files: those never change once
    written (a run repeated is a new run id), so the console reads each once. Decisions do
    change and are always read; so is every listing. At most `max_bytes` are kept, the
    oldest read dropped first."""

    def __init__(self, s3_client: Any, bucket: str, max_bytes: int = 64 * 1024 * 1024) -> None:
        super().__init__(s3_client, bucket)
        self._kept: dict[str, bytes] = {}
        self._size = 0
        self._max = max_bytes

    def get_bytes(self, key: str) -> bytes | None:
        if "/decisions/" in key or not key.startswith(JOURNALS_PREFIX):
            return super().get_bytes(key)
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        data = super().get_bytes(key)
        if data is not None and len(data) <= self._max:
            self._kept[key] = data
            self._size += len(data)
            while self._size > self._max:
                oldest = next(iter(self._kept))
                self._size -= len(self._kept.pop(oldest))
        return data


def _summary(folder: str, document: dict[str, Any], files: tuple[str, ...]) -> RunSummary:
    match = _KEY.match(folder + READY_FILE)
    assert match is not None
    year, month, day, run_id, _ = match.groups()
    return RunSummary(
        run_id=str(document.get("runId") or run_id),
        day=date(int(year), int(month), int(day)),
        folder=folder,
        generated_at=datetime.fromisoformat(str(document["generatedAt"])),
        settlement_ids=[str(x) for x in document.get("settlementIds", [])],
        batch_ids=[str(x) for x in document.get("batchIds", [])],
        entry_count=int(document.get("entryCount", 0)),
        balanced=bool(document.get("balanced")),
        ties_out=bool(document.get("tiesOut")),
        debits_by_currency={
            str(k): int(v) for k, v in dict(document.get("debitsMinorByCurrency", {})).items()
        },
        matched_orders=int(document.get("matchedOrders", 0)),
        exception_count=int(document.get("exceptionCount", 0)),
        exceptions_by_reason={
            str(k): int(v) for k, v in dict(document.get("exceptionsByReason", {})).items()
        },
        files=tuple(name for name in DOWNLOADS if name in files),
    )


def _folders(archive: ReportArchive) -> dict[str, set[str]]:
    """Each run folder with the names of the files in it."""
    folders: dict[str, set[str]] = {}
    for key in archive.keys(JOURNALS_PREFIX):
        match = _KEY.match(key)
        if match is not None:
            folder = key[: key.rindex("/") + 1]
            folders.setdefault(folder, set()).add(match.group(5))
    return folders


def list_runs(archive: ReportArchive, limit: int = 25) -> list[RunSummary]:
    """The newest `limit` runs, newest first (by day, then by the time each was generated)."""
    folders = _folders(archive)
    complete = sorted((f for f, names in folders.items() if READY_FILE in names), reverse=True)
    if len(complete) > limit:
        # A day's folders sort by run id, not by time: read every run of the last day shown.
        day = complete[limit - 1][: len("journals/yyyy/mm/dd/")]
        complete = complete[:limit] + [f for f in complete[limit:] if f.startswith(day)]
    runs = []
    for folder in complete:
        document = archive.get_bytes(folder + READY_FILE)
        if document is not None:
            runs.append(_summary(folder, json.loads(document), tuple(folders[folder])))
    runs.sort(key=lambda r: (r.day, r.generated_at), reverse=True)
    return runs[:limit]


def find_run(archive: ReportArchive, run_id: str) -> RunSummary | None:
    """The run `run_id`, wherever its day put it; None if no run has that id."""
    if not RUN_ID.match(run_id):
        return None
    for folder, names in _folders(archive).items():
        if folder.endswith(f"/{run_id}/") and READY_FILE in names:
            document = archive.get_bytes(folder + READY_FILE)
            if document is not None:
                return _summary(folder, json.loads(document), tuple(names))
    return None


def run_file(archive: ReportArchive, run: RunSummary, name: str) -> bytes | None:
    if name not in DOWNLOADS:
        return None
    return archive.get_bytes(run.folder + name)


def _int(value: str) -> int | None:
    return int(value) if value.strip() else None


def run_exceptions(archive: ReportArchive, run: RunSummary) -> list[RunException]:
    data = archive.get_bytes(run.folder + "exceptions.csv")
    if data is None:
        return []
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    missing = set(EXCEPTION_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{run.folder}exceptions.csv has no column {sorted(missing)[0]}")
    return [
        RunException(
            number=number,
            reason=row["reason"],
            order=row["order"],
            source=row["source"],
            line=_int(row["line"]),
            currency=row["currency"],
            amount_minor=_int(row["amount_minor"]),
            expected_minor=_int(row["expected_minor"]),
            detail=row["detail"],
        )
        for number, row in enumerate(reader, start=1)
    ]


def _decision_key(run: RunSummary, number: int) -> str:
    return f"{run.folder}decisions/{number}.json"


def decisions(archive: ReportArchive, run: RunSummary) -> dict[int, ExceptionDecision]:
    """The current decision of each decided exception."""
    found: dict[int, ExceptionDecision] = {}
    for key in archive.keys(run.folder + "decisions/"):
        data = archive.get_bytes(key)
        if data is None:
            continue
        document = json.loads(data)
        found[int(document["exception"])] = ExceptionDecision(
            number=int(document["exception"]),
            decision=document["decision"],
            note=str(document.get("note", "")),
            decided_at=datetime.fromisoformat(str(document["decidedAt"])),
            decided_by=str(document.get("decidedBy", "")),
            match=document.get("match"),
        )
    return found


def record_decision(
    archive: ReportArchive,
    run: RunSummary,
    number: int,
    decision: str,
    *,
    note: str = "",
    match: int | None = None,
    decided_by: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExceptionDecision:
    """Record what finance decided about exception `number` of `run`. ValueError (with the
    reason, nothing written) for an unknown decision, exception or match, or a note over
    500 characters."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    if len(note) > 500:
        raise ValueError("a note is at most 500 characters")
    known = {e.number for e in run_exceptions(archive, run)}
    if number not in known:
        raise ValueError(f"run {run.run_id} has no exception {number}")
    if match is not None and (match not in known or match == number):
        raise ValueError(f"run {run.run_id} has no other exception {match} to match with")
    made = ExceptionDecision(
        number=number,
        decision=decision,
        note=note,
        decided_at=now(),
        decided_by=decided_by,
        match=match,
    )
    document = {
        "runId": run.run_id,
        "exception": number,
        "decision": made.decision,
        "note": note,
        "match": match,
        "decidedAt": made.decided_at.isoformat(),
        "decidedBy": decided_by,
    }
    archive.put_bytes(
        _decision_key(run, number),
        (json.dumps(document, indent=2) + "\n").encode("utf-8"),
        content_type="application/json",
    )
    return made


def _text(upload: Upload) -> bytes:
    data = upload.content
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_UPLOAD_BYTES + 1)
        except (OSError, EOFError) as error:
            raise MalformedInputError(
                upload.name, None, None, f"not a readable gzip file: {error}"
            ) from None
    if len(data) > MAX_UPLOAD_BYTES:
        limit = MAX_UPLOAD_BYTES // (1024 * 1024)
        raise MalformedInputError(upload.name, None, None, f"larger than {limit} MB")
    if not data.strip():
        raise MalformedInputError(upload.name, None, None, "the file is empty")
    return data


def _read_through(upload: Upload, data: bytes) -> None:
    """Parse the whole file as the journal run will, so a bad one is refused before anything
    is written. MalformedInputError names the file (as uploaded), line and field."""
    if upload.kind == "opayo-batch":
        for _ in BatchParser(io.BytesIO(data), upload.name).transactions():
            pass
        return
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise MalformedInputError(upload.name, None, None, f"not UTF-8 text: {error}") from None
    for _ in SettlementParser(io.StringIO(text), upload.name).rows():
        pass


def upload_key(run_id: str, day: date, index: int, upload: Upload) -> str:
    name = _UNSAFE.sub("_", upload.name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]) or "file"
    suffix = ".xml" if upload.kind == "opayo-batch" else ".tsv"
    stem = name.removesuffix(".gz")
    return (
        f"uploads/{day:%Y/%m/%d}/{run_id}/{index}-{stem}{'' if stem.endswith(suffix) else suffix}"
    )


def reconcile_uploads(
    uploads: Sequence[Upload],
    ledger: ReportLedger,
    archive: ReportArchive,
    config: ReconcileConfig,
    events: EventPort,
    *,
    orders: OrderBook | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> UploadRun:
    """Archive `uploads`, mark them ready and run the journal (with anything else ready).

    Every file is read through first: MalformedInputError for the first that cannot be
    read, before anything is archived or marked. ValueError without a settlement or batch."""
    if not uploads:
        raise ValueError("give at least one Amazon settlement or Opayo batch file")
    contents = []
    for upload in uploads:
        data = _text(upload)
        _read_through(upload, data)
        contents.append(data)
    run_id = uuid.uuid4().hex
    moment = now()
    archived = []
    for index, (upload, data) in enumerate(zip(uploads, contents, strict=True), start=1):
        key = upload_key(run_id, moment.date(), index, upload)
        content_type = (
            "application/xml" if upload.kind == "opayo-batch" else "text/tab-separated-values"
        )
        archive.put_bytes(key, data, content_type=content_type)
        archived.append(key)
        ledger.mark_ready_for_reconciliation(
            ReportEntry(
                kind="opayo-batch" if upload.kind == "opayo-batch" else "amazon-report",
                scope=UPLOAD_SCOPE,
                source_id=f"{run_id}-{index}",
                report_type="OPAYO_BATCH"
                if upload.kind == "opayo-batch"
                else "UPLOADED_SETTLEMENT",
                requested_at=moment,
                status="done",
                archive_key=key,
                detail=f"uploaded as {upload.name}",
                finished_at=moment,
            )
        )
    run = journal_ready_reports(
        ledger, archive, config, events, orders=orders, now=now, run_id=run_id
    )
    return UploadRun(run, archived)


# The exceptions that are each other's missing half when an order reached the two
# providers under two ids (a vendorTxCode typed by hand, an MCF id with a suffix): Opayo
# captured one id that Amazon never settled, and Amazon settled the other that Opayo never
# captured. `unknown_order` pairs with either: the id the orders file lacks may be the typo.
_COMPLEMENTS: dict[str, frozenset[str]] = {
    "captured_not_fulfilled": frozenset({"fulfilled_not_captured", "unknown_order"}),
    "fulfilled_not_captured": frozenset({"captured_not_fulfilled", "unknown_order"}),
    "unknown_order": frozenset({"captured_not_fulfilled", "fulfilled_not_captured"}),
}


@dataclass(frozen=True)
class Suggestion:
    number: int
    """The other exception."""
    order: str
    similarity: float
    """1.0 the same id but for separators or case, 0.9 one id inside the other (a prefix or
    suffix added), 0.8 one character mistyped or two swapped."""


def _plain(order: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", order.upper())


def id_likeness(a: str, b: str) -> float | None:
    """How likely `a` and `b` name one order typed two ways; None if not alike.

    Neighbouring ids (W-1001, W-1002) are different orders, not typos: a difference between
    two digits never counts, so a shop's sequence of ids does not suggest itself."""
    x, y = _plain(a), _plain(b)
    if not x or not y:
        return None
    if x == y:
        return 1.0
    if min(len(x), len(y)) >= 4 and (x in y or y in x):
        return 0.9
    if len(x) != len(y):
        return None
    differ = [i for i, (p, q) in enumerate(zip(x, y, strict=True)) if p != q]
    if len(differ) == 1:
        i = differ[0]
        return None if x[i].isdigit() and y[i].isdigit() else 0.8
    if len(differ) == 2 and differ[1] == differ[0] + 1:
        i, j = differ
        return 0.8 if x[i] == y[j] and x[j] == y[i] else None
    return None


def _alike_candidates(ids: Sequence[str]) -> set[tuple[int, int]]:
    """Pairs of positions in `ids` that `id_likeness` may find alike, found through indexes
    (the same plain id; one inside the other; one position differing; two swapped) rather
    than by comparing every pair: a run with thousands of exceptions stays fast."""
    plain = [_plain(order) for order in ids]
    exact: dict[str, list[int]] = {}
    wild: dict[str, list[int]] = {}
    for n, x in enumerate(plain):
        if not x:
            continue
        exact.setdefault(x, []).append(n)
        for i in range(len(x)):
            wild.setdefault(x[:i] + "?" + x[i + 1 :], []).append(n)
    pairs: set[tuple[int, int]] = set()

    def add(a: int, others: list[int]) -> None:
        pairs.update((min(a, b), max(a, b)) for b in others if b != a)

    for n, x in enumerate(plain):
        if not x:
            continue
        add(n, exact[x])
        for size in range(4, len(x)):
            for start in range(len(x) - size + 1):
                add(n, exact.get(x[start : start + size], []))
        for i in range(len(x)):
            add(n, wild.get(x[:i] + "?" + x[i + 1 :], []))
        for i in range(len(x) - 1):
            add(n, exact.get(x[:i] + x[i + 1] + x[i] + x[i + 2 :], []))
    return pairs


def suggest_matches(
    exceptions: Sequence[RunException], per_exception: int = 3
) -> dict[int, list[Suggestion]]:
    """For each exception that has a likely other half (see _COMPLEMENTS): up to
    `per_exception` of them, in the same currency (or with none known), with an id alike
    (`id_likeness`), most alike first. A suggestion, never a decision: finance accepts or
    dismisses it."""
    halves = [e for e in exceptions if e.reason in _COMPLEMENTS and e.order]
    found: dict[int, list[Suggestion]] = {}
    for a, b in _alike_candidates([e.order for e in halves]):
        one, other = halves[a], halves[b]
        if other.reason not in _COMPLEMENTS[one.reason]:
            continue
        if one.currency and other.currency and one.currency != other.currency:
            continue
        likeness = id_likeness(one.order, other.order)
        if likeness is None:
            continue
        found.setdefault(one.number, []).append(Suggestion(other.number, other.order, likeness))
        found.setdefault(other.number, []).append(Suggestion(one.number, one.order, likeness))
    for number, suggestions in found.items():
        suggestions.sort(key=lambda s: (-s.similarity, s.number))
        found[number] = suggestions[:per_exception]
    return found
