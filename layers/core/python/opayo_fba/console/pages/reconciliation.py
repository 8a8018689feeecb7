"""The Reconciliation page: each journal run with its totals tying out, its journal (CSV and
JSON to download), its exceptions with their reasons and suggested matches (accepted or
dismissed, recorded), the charts of its HTML report, and, against the local runtime, a run
started on uploaded files.

Everything goes through ops.journal_runs: runs are read from the report archive where the
journal job (jobs/journals.py) wrote them, and a run on uploaded files is that same job's
`journal_ready_reports`. A decision and an upload are POSTs, so the guard's CSRF and Origin
checks stand before them; the upload is the one multipart form (security.py reads its token
from the form's first field and allows it a larger body).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from opayo_fba.model.money import CURRENCY_EXPONENTS
from opayo_fba.ops.journal_runs import (
    DECISIONS,
    DOWNLOADS,
    MAX_UPLOAD_BYTES,
    RUN_ID,
    RunException,
    RunSummary,
    Upload,
    UploadKind,
)
from opayo_fba.reconcile.amounts import format_minor
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.matching import REASONS
from opayo_fba.reconcile.report import bar_chart, outcome_chart

if TYPE_CHECKING:
    from opayo_fba.console.app import Console

RUNS_SHOWN = 25
EXCEPTIONS_SHOWN = 200
UPLOAD_PATH = "/reconciliation/runs"
UPLOAD_FIELDS: dict[str, UploadKind] = {"amazon": "amazon-settlement", "opayo": "opayo-batch"}
_NUMBER = re.compile(r"^[1-9][0-9]{0,8}$")


def money(amount: int | None, currency: str) -> str:
    """Minor units as the currency writes them ("12.50 GBP"); "—" for none."""
    if amount is None:
        return "—"
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        return f"{amount} (minor units)"
    return f"{format_minor(amount, exponent)} {currency}"


@dataclass(frozen=True)
class EntryView:
    entry_id: str
    date: str
    source_kind: str
    source_file: str
    currency: str
    debits: int
    clearing: int
    control_total: int | None
    balanced: bool
    ties_out: bool


@dataclass(frozen=True)
class Journal:
    entries: list[EntryView]
    by_account: dict[str, dict[str, int]]
    """currency -> account -> net (debit - credit), minor units."""


def read_journal(document: dict[str, Any]) -> Journal:
    entries = []
    by_account: dict[str, dict[str, int]] = {}
    for entry in document.get("entries", []):
        currency = str(entry["currency"])
        debits = sum(int(line["debitMinor"]) for line in entry["lines"])
        for line in entry["lines"]:
            accounts = by_account.setdefault(currency, {})
            net = int(line["debitMinor"]) - int(line["creditMinor"])
            accounts[line["account"]] = accounts.get(line["account"], 0) + net
        entries.append(
            EntryView(
                entry_id=str(entry["entryId"]),
                date=str(entry["date"])[:10],
                source_kind=str(entry["sourceKind"]),
                source_file=str(entry["sourceFile"]),
                currency=currency,
                debits=debits,
                clearing=int(entry["clearingMinor"]),
                control_total=entry.get("controlTotalMinor"),
                balanced=bool(entry["balanced"]),
                ties_out=bool(entry["tiesOut"]),
            )
        )
    return Journal(entries, by_account)


def charts(run: RunSummary, journal: Journal) -> list[str]:
    """The HTML report's charts (reconcile/report.py's bar_chart, SVG with every label
    escaped): each currency's journal by account, and matched orders against exceptions."""
    drawn = []
    for currency, accounts in sorted(journal.by_account.items()):
        bars = [
            (account, amount, money(amount, currency))
            for account, amount in sorted(accounts.items())
            if amount
        ]
        drawn.append(bar_chart(f"Journal by account, net of credits ({currency})", bars))
    drawn.append(outcome_chart(run.matched_orders, run.exceptions_by_reason))
    return drawn


def routes(console: Console) -> list[Route]:
    backend = console.backend

    def find(request: Request) -> RunSummary | Response:
        run_id = request.path_params["run"]
        if not RUN_ID.match(run_id):
            reason = "A run id is 1 to 64 letters, digits, - and _."
            return console.problem(request, reason, 400)
        run = backend.journal_run(run_id)
        if run is None:
            return console.problem(request, f"This stack has no journal run {run_id}.", 404)
        return run

    def exception_of(
        request: Request,
    ) -> tuple[RunSummary, RunException, list[RunException]] | Response:
        """The run and the exception the path names, with all the run's exceptions."""
        run = find(request)
        if isinstance(run, Response):
            return run
        value = request.path_params["number"]
        if not _NUMBER.match(value):
            return console.problem(request, "An exception is numbered from 1.", 400)
        every = backend.run_exceptions(run)
        found = next((e for e in every if e.number == int(value)), None)
        if found is None:
            reason = f"Run {run.run_id} has no exception {value}."
            return console.problem(request, reason, 404)
        return run, found, every

    async def runs_page(request: Request) -> Response:
        return console.render(
            request,
            "reconciliation.html",
            {
                "runs": backend.journal_runs(RUNS_SHOWN),
                "shown": RUNS_SHOWN,
                "money": money,
                "uploads_refused": backend.runs_on_uploads,
                "max_upload_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
            },
        )

    async def run_page(request: Request) -> Response:
        run = find(request)
        if isinstance(run, Response):
            return run
        document = backend.journal_file(run, "journal.json")
        journal = read_journal(json.loads(document) if document else {})
        exceptions = backend.run_exceptions(run)
        context = {
            "run": run,
            "journal": journal,
            "charts": charts(run, journal),
            "exceptions": exceptions[:EXCEPTIONS_SHOWN],
            "exception_total": len(exceptions),
            "suggestions": backend.run_suggestions(run),
            "decisions": backend.exception_decisions(run),
            "reasons": REASONS,
            "money": money,
            "downloads": run.files,
        }
        return console.render(request, "reconciliation_run.html", context)

    async def download(request: Request) -> Response:
        run = find(request)
        if isinstance(run, Response):
            return run
        name = request.path_params["name"]
        if name not in DOWNLOADS:
            known = ", ".join(DOWNLOADS)
            return console.problem(request, f"A run's files are {known}.", 404)
        data = backend.journal_file(run, name)
        if data is None:
            return console.problem(request, f"Run {run.run_id} has no {name}.", 404)
        filename = f"{run.run_id}-{name}"
        return Response(
            data,
            media_type=DOWNLOADS[name],
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    def decision_page(
        request: Request,
        run: RunSummary,
        exception: RunException,
        every: list[RunException],
        status: int = 200,
        error: str | None = None,
    ) -> Response:
        context = {
            "run": run,
            "exception": exception,
            "suggestions": backend.run_suggestions(run).get(exception.number, []),
            "decision": backend.exception_decisions(run).get(exception.number),
            "reasons": REASONS,
            "money": money,
            "error": error,
        }
        return console.render(request, "reconciliation_exception.html", context, status)

    async def exception_page(request: Request) -> Response:
        found = exception_of(request)
        if isinstance(found, Response):
            return found
        return decision_page(request, *found)

    async def decide(request: Request) -> Response:
        found = exception_of(request)
        if isinstance(found, Response):
            return found
        run, exception, every = found
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        decision = form.get("decision", "")
        match_value = form.get("match", "")
        if decision not in DECISIONS:
            error = f"Choose one of: {', '.join(DECISIONS)}."
            return decision_page(request, run, exception, every, 400, error)
        if match_value and not _NUMBER.match(match_value):
            return decision_page(request, run, exception, every, 400, "Pick a listed match.")
        try:
            backend.decide(
                run,
                exception.number,
                decision,
                form.get("note", "").strip(),
                int(match_value) if match_value and decision == "accepted" else None,
            )
        except ValueError as problem:
            return decision_page(request, run, exception, every, 400, f"{problem}.")
        return RedirectResponse(
            f"/reconciliation/{run.run_id}#exception-{exception.number}", status_code=303
        )

    async def upload(request: Request) -> Response:
        why = backend.runs_on_uploads
        if why is not None:
            return console.problem(request, f"No run was started: {why}.", 409)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return console.problem(request, "Send the files with the page's upload form.", 400)
        uploads: list[Upload] = []
        async with request.form(max_files=20, max_fields=10, max_part_size=64 * 1024) as form:
            for field, kind in UPLOAD_FIELDS.items():
                for item in form.getlist(field):
                    if isinstance(item, str) or not item.filename:
                        continue
                    content = await item.read(MAX_UPLOAD_BYTES + 1)
                    uploads.append(Upload(kind, item.filename, content))
        if not uploads:
            reason = "Choose at least one Amazon settlement or Opayo batch file."
            return console.problem(request, reason, 400)
        try:
            started = backend.reconcile_uploads(uploads)
        except MalformedInputError as error:
            reason = f"No run was started: {error}. Fix or replace that file and upload again."
            return console.problem(request, reason, 400)
        except ValueError as error:
            return console.problem(request, f"No run was started: {error}.", 400)
        if started.run is None:
            reason = (
                "Another journal run holds the lease, or nothing was left to reconcile; the "
                "files are archived and wait for the next run."
            )
            return console.problem(request, reason, 409)
        return RedirectResponse(f"/reconciliation/{started.run.run_id}", status_code=303)

    return [
        Route("/reconciliation", runs_page),
        Route(UPLOAD_PATH, upload, methods=["POST"]),
        Route("/reconciliation/{run}", run_page),
        Route("/reconciliation/{run}/files/{name}", download),
        Route("/reconciliation/{run}/exceptions/{number}", exception_page),
        Route("/reconciliation/{run}/exceptions/{number}", decide, methods=["POST"]),
    ]
