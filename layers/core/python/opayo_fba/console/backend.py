"""What the console reads, through the stores the API and the CLI use: no second path to the data.

`ConsoleBackend` is the small interface the pages need; `StackBackend` implements it on a
stack's resources (found by ops.status's locators, on AWS or on the local runtime): orders
by OrderStore, the Today page's figures from the daily rollups (ops.today), saga executions
by Step Functions' GetExecutionHistory, dead letters by ops.dlq (what `opayo-fba dlq` runs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol

from opayo_fba.console.facts import StackFacts
from opayo_fba.model import OrderStatus
from opayo_fba.ops import dlq
from opayo_fba.ops import journal_runs as runs
from opayo_fba.ops.status import LastPoll, VendorHolds, last_polls, open_authorisations
from opayo_fba.ops.timeline import (
    TimelineEntry,
    execution_arn,
    execution_timeline,
    saga_attempts,
)
from opayo_fba.ops.today import TodaySummary, first_day, summary_from_rollups
from opayo_fba.store.daily_rollup import DailyRollupStore
from opayo_fba.store.orders import OrderPage, OrderRecord, OrderStore
from opayo_fba.store.watermarks import WatermarkStore

if TYPE_CHECKING:
    from opayo_fba.console.actions import Action, ActionReply, OrderActions
    from opayo_fba.jobs.archive import ReportArchive
    from opayo_fba.reconcile.config import ReconcileConfig
    from opayo_fba.saga.ports import EventPort
    from opayo_fba.store.order_export import OrderExportStore
    from opayo_fba.store.report_requests import ReportLedger


@dataclass(frozen=True)
class OrderFilters:
    """The Orders page's filters: one seller account (the index's partition), and within it a
    status, a marketplace and the days received (UTC, both inclusive)."""

    seller_account: str
    status: OrderStatus | None = None
    marketplace_id: str | None = None
    received_from: date | None = None
    received_to: date | None = None


SHAPES_SECONDS = 300.0  # how long which queues are dead-letter queues (and of what) is kept
RUNS_KEPT = 4  # runs whose exceptions and suggestions the backend keeps, most recent first


@dataclass(frozen=True)
class _RunRead:
    exceptions: list[runs.RunException]
    suggestions: dict[int, list[runs.Suggestion]]


@dataclass(frozen=True)
class SagaHistory:
    entries: list[TimelineEntry]
    problem: str | None = None
    """Why the saga's history could not be read, when it could not (e.g. no permission)."""


class ConsoleBackend(Protocol):
    @property
    def stack_name(self) -> str: ...

    def seller_accounts(self) -> Mapping[str, Sequence[str]]:
        """Each seller account with its marketplaces."""
        ...

    def facts(self) -> StackFacts:
        """The stack's configuration, as its template says (the Settings page)."""
        ...

    def orders(
        self, filters: OrderFilters, limit: int, start_key: dict[str, str] | None
    ) -> OrderPage: ...

    def search(self, text: str) -> list[OrderRecord]:
        """The orders `text` names: as order id, vendorTxCode or sellerFulfillmentOrderId, or
        (with an @) as the customer's e-mail address, newest first."""
        ...

    def held_index(self) -> Mapping[str, Sequence[datetime]]:
        """The held-authorisation index: each partition (a vendor, `refund#<vendor>`...) with
        since when each of its items is held (one read, for the page's figures below)."""
        ...

    def open_authorisations(
        self, held: Mapping[str, Sequence[datetime]] | None = None
    ) -> list[VendorHolds]:
        """Per vendor, the Deferred authorisations still held (as `opayo-fba status`), from
        `held` when the page has read it."""
        ...

    def last_polls(self) -> list[LastPoll]:
        """When each poller last advanced its watermark, per account and vendor."""
        ...

    def today(
        self,
        seller_account: str,
        now: datetime,
        held: Mapping[str, Sequence[datetime]] | None = None,
    ) -> TodaySummary:
        """The Today page's figures for the last 30 UTC days up to `now` (its held figures
        from `held` when the page has read it)."""
        ...

    def order(self, order_id: str) -> OrderRecord | None: ...

    def saga_history(self, record: OrderRecord) -> SagaHistory: ...

    def dead_letter_queues(self) -> list[dlq.DeadLetterQueue]:
        """The stack's dead-letter queues (those another of its queues redrives into)."""
        ...

    def dead_letter_queue(self, name: str) -> dlq.DeadLetterQueue | None:
        """The one of `dead_letter_queues` named `name` (None: not a DLQ of this stack),
        read from that queue alone."""
        ...

    def dead_letters(self, queue: dlq.DeadLetterQueue, limit: int) -> list[dlq.DeadLetter]:
        """Up to `limit` of its messages; they stay in it."""
        ...

    def redrive(self, queue: dlq.DeadLetterQueue, message_id: str | None) -> dlq.RedriveResult:
        """Move all its messages (or the one `message_id`) back to the queue they came from,
        or, for a queue EventBridge dead-letters into with a function to replay to, give them
        to that function again (ops/dlq.replay). LookupError if that one is not there;
        ValueError if the queue has neither a single source nor a function."""
        ...

    def journal_runs(self, limit: int) -> list[runs.RunSummary] | None:
        """The newest journal runs, newest first; None if the stack's archive was not found."""
        ...

    def journal_run(self, run_id: str) -> runs.RunSummary | None: ...

    def journal_file(self, run: runs.RunSummary, name: str) -> bytes | None: ...

    def run_exceptions(self, run: runs.RunSummary) -> list[runs.RunException]: ...

    def run_suggestions(self, run: runs.RunSummary) -> dict[int, list[runs.Suggestion]]:
        """ops.journal_runs.suggest_matches on the run's exceptions."""
        ...

    def exception_decisions(self, run: runs.RunSummary) -> dict[int, runs.ExceptionDecision]: ...

    def decide(
        self, run: runs.RunSummary, number: int, decision: str, note: str, match: int | None
    ) -> runs.ExceptionDecision:
        """Record it (ValueError with the reason, nothing recorded, for a bad one)."""
        ...

    @property
    def runs_on_uploads(self) -> str | None:
        """Why a run cannot be started on uploaded files here (None: it can)."""
        ...

    def reconcile_uploads(self, uploads: Sequence[runs.Upload]) -> runs.UploadRun:
        """ops.journal_runs.reconcile_uploads on this stack (MalformedInputError, ValueError)."""
        ...

    @property
    def actions_refused(self) -> str | None:
        """Why an order's actions cannot be taken from here (None: they can)."""
        ...

    def order_action(
        self, action: Action, order_id: str, body: dict[str, Any] | None
    ) -> ActionReply:
        """The action, asked of the stack's API (console/actions.py); ConnectionError when
        the API cannot be reached."""
        ...


class StackBackend:
    def __init__(
        self,
        stack_name: str,
        orders: OrderStore,
        accounts: Mapping[str, Sequence[str]],
        *,
        stepfunctions: Any | None = None,
        state_machine_arns: Sequence[str] = (),
        sqs: Any | None = None,
        queue_names: frozenset[str] = frozenset(),
        server_side_redrive: bool = False,
        facts: StackFacts | None = None,
        watermarks: WatermarkStore | None = None,
        journals: JournalAccess | None = None,
        actions: OrderActions | None = None,
        lambda_: Any | None = None,
        functions: Mapping[str, str] | None = None,
    ) -> None:
        """`stepfunctions` and `sqs` are boto3 clients (None: no saga history, no dead
        letters are shown); `queue_names` are the stack's queues (its locator's);
        `server_side_redrive` moves a whole queue with SQS's message-move task (AWS), else
        message by message (the local runtime's moto has no such task); `lambda_` (a boto3
        client) and `functions` (logical id -> name) replay a rule's dead letters to its
        target (without them, no replay is offered)."""
        self._stack_name = stack_name
        self._orders = orders
        self._accounts = {account: list(m) for account, m in accounts.items()}
        self._stepfunctions = stepfunctions
        self._state_machines = list(state_machine_arns)
        self._sqs = sqs
        self._queue_names = queue_names
        self._server_side_redrive = server_side_redrive
        self._facts = facts or StackFacts(accounts=self._accounts)
        self._watermarks = watermarks
        self._journals = journals
        self._actions = actions
        # A run, once found, stays where it is with the files it has (ops/journal_runs.py).
        self._runs: dict[str, runs.RunSummary] = {}
        self._run_reads: dict[tuple[str, str], _RunRead] = {}
        self._shapes: tuple[float, list[dlq.DeadLetterQueue]] | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._rollups = DailyRollupStore(orders.table)
        self._lambda = lambda_
        self._functions = dict(functions or {})

    @property
    def stack_name(self) -> str:
        return self._stack_name

    def seller_accounts(self) -> Mapping[str, Sequence[str]]:
        return self._accounts

    def facts(self) -> StackFacts:
        return self._facts

    def orders(
        self, filters: OrderFilters, limit: int, start_key: dict[str, str] | None
    ) -> OrderPage:
        start = filters.received_from
        end = filters.received_to
        return self._orders.orders_by_account(
            filters.seller_account,
            received_from=datetime.combine(start, time.min, UTC) if start else None,
            received_to=(
                datetime.combine(end + timedelta(days=1), time.min, UTC) - timedelta(microseconds=1)
                if end
                else None
            ),
            status=filters.status.value if filters.status else None,
            marketplace_id=filters.marketplace_id,
            limit=limit,
            start_key=start_key,
        )

    def search(self, text: str) -> list[OrderRecord]:
        if "@" in text:
            return self._orders.find_by_customer_email(text)
        found: dict[str, OrderRecord] = {}
        for lookup in (
            self._orders.find,
            self._orders.find_by_vendor_tx_code,
            self._orders.find_by_fulfillment_order,
        ):
            record = lookup(text)
            if record is not None:
                found.setdefault(record.order_id, record)
        return list(found.values())

    def order(self, order_id: str) -> OrderRecord | None:
        return self._orders.find(order_id)

    def held_index(self) -> Mapping[str, Sequence[datetime]]:
        return self._orders.held_index()

    def open_authorisations(
        self, held: Mapping[str, Sequence[datetime]] | None = None
    ) -> list[VendorHolds]:
        return open_authorisations(self._orders, self._facts.vendors, held)

    def last_polls(self) -> list[LastPoll]:
        if self._watermarks is None:
            return []
        return last_polls(self._watermarks, [*self._accounts, *self._facts.vendors])

    def today(
        self,
        seller_account: str,
        now: datetime,
        held: Mapping[str, Sequence[datetime]] | None = None,
    ) -> TodaySummary:
        """From the account's 30 daily rollups (one BatchGetItem) and the held index of the
        stack's vendors: no order is read, however many there are."""
        rollups = self._rollups.days(seller_account, first_day(now), now.astimezone(UTC).date())
        held = self._orders.held_index() if held is None else held
        times = [t for vendor in self._facts.vendors for t in held.get(vendor, ())]
        return summary_from_rollups(seller_account, rollups, times, now)

    def saga_history(self, record: OrderRecord) -> SagaHistory:
        if self._stepfunctions is None or not self._state_machines:
            return SagaHistory([], "no state machine of this stack was found")
        from botocore.exceptions import ClientError

        entries: list[TimelineEntry] = []
        for attempt in saga_attempts(record):
            for state_machine in self._state_machines:
                arn = execution_arn(state_machine, record.order_id, attempt)
                try:
                    events = [
                        event
                        for page in self._stepfunctions.get_paginator(
                            "get_execution_history"
                        ).paginate(executionArn=arn)
                        for event in page.get("events", [])
                    ]
                except ClientError as error:
                    code = error.response["Error"]["Code"]
                    if code == "ExecutionDoesNotExist":
                        continue
                    return SagaHistory(entries, f"Step Functions refused ({code})")
                entries += execution_timeline(events, attempt)
                break
        return SagaHistory(entries)

    def dead_letter_queues(self) -> list[dlq.DeadLetterQueue]:
        """The stack's dead-letter queues with their depths now. Which queues they are, and
        what feeds them, is read once and kept for SHAPES_SECONDS (it changes only with a
        deploy, and a queue gone since makes it read again): a page then asks SQS only each
        queue's depth, side by side."""
        if self._sqs is None:
            return []
        kept = self._kept_shapes()
        fresh = self._depths(kept) if kept is not None else None
        if fresh is not None:
            return fresh
        found = self._read_shapes()
        self._shapes = (monotonic(), found)
        return found

    def _kept_shapes(self) -> list[dlq.DeadLetterQueue] | None:
        """The dead-letter queues as last read, if within SHAPES_SECONDS (else None)."""
        kept = self._shapes
        return kept[1] if kept is not None and monotonic() - kept[0] < SHAPES_SECONDS else None

    def _depths(self, queues: list[dlq.DeadLetterQueue]) -> list[dlq.DeadLetterQueue] | None:
        """`queues` with their depths now; None if one is gone (what was kept is let go)."""
        assert self._sqs is not None
        try:
            return dlq.with_depths(self._sqs, queues, self._pool())
        except Exception as error:
            if not dlq.gone(error):
                raise
            self._shapes = None
            return None

    def _read_shapes(self) -> list[dlq.DeadLetterQueue]:
        assert self._sqs is not None
        found = [q for q in dlq.list_dead_letter_queues(self._sqs) if q.name in self._queue_names]
        for logical_id, (name, senders) in sorted(self._event_queue_names().items()):
            if all(q.name != name for q in found):
                found.append(self._event_queue(logical_id, name, senders))
        return found

    def _event_queue_names(self) -> dict[str, tuple[str, Sequence[str]]]:
        """EventBridge's dead-letter queues (the template says which), by logical id: the
        stack's one queue named for it (`<stack>-<logicalId>` locally,
        `<stack>-<logicalId>-<suffix>` on AWS), with what dead-letters into it."""
        found: dict[str, tuple[str, Sequence[str]]] = {}
        for logical_id, senders in self._facts.event_dead_letters.items():
            names = [n for n in self._queue_names if logical_id in n]
            if len(names) == 1:
                found[logical_id] = (names[0], senders)
        return found

    def _pool(self) -> ThreadPoolExecutor:
        """Threads for reads that go side by side (boto3's clients are thread-safe)."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(8, thread_name_prefix="console-read")
        return self._threads

    def _event_queue(
        self, logical_id: str, name: str, senders: Sequence[str]
    ) -> dlq.DeadLetterQueue:
        """The queue EventBridge dead-letters into (template's `logical_id`), with the
        function its messages replay to, if the template names one."""
        assert self._sqs is not None
        target = self._facts.event_replay_targets.get(logical_id)
        replay_to = self._function_name(target) if target else None
        return dlq.event_dead_letter_queue(self._sqs, name, senders, replay_to)

    def _function_name(self, logical_id: str) -> str | None:
        """The stack's function of that logical id (None without a Lambda client, or if the
        stack has none). A name cut at Lambda's 64 characters stands for the ids it begins."""
        if self._lambda is None:
            return None
        if logical_id in self._functions:
            return self._functions[logical_id]
        cut = [name for key, name in self._functions.items() if logical_id.startswith(key)]
        return cut[0] if len(cut) == 1 else None

    def _invoke(self, function: str) -> Callable[[str], str | None]:
        """Run `function` on a message's body and wait for it: None if it took it, else what
        went wrong (its error type and message, or Lambda's refusal)."""
        from botocore.exceptions import ClientError

        client = self._lambda
        assert client is not None  # a queue names a function to replay to only with one

        def invoke(body: str) -> str | None:
            try:
                reply = client.invoke(
                    FunctionName=function,
                    InvocationType="RequestResponse",
                    Payload=body.encode("utf-8"),
                )
            except ClientError as error:
                info = error.response.get("Error", {})
                return f"Lambda refused it: {info.get('Code')}: {info.get('Message')}"
            if not reply.get("FunctionError"):
                return None
            try:
                said = json.loads(reply["Payload"].read() or b"{}")
            except ValueError:
                said = {}
            kind = said.get("errorType") if isinstance(said, dict) else None
            message = said.get("errorMessage") if isinstance(said, dict) else None
            return f"{function} failed: {kind or reply['FunctionError']}: {message or ''}"[:500]

        return invoke

    def dead_letter_queue(self, name: str) -> dlq.DeadLetterQueue | None:
        if self._sqs is None or name not in self._queue_names:
            return None
        known = [q for q in self._kept_shapes() or () if q.name == name]
        fresh = self._depths(known) if known else None
        if fresh:
            return fresh[0]
        found = dlq.dead_letter_queue(self._sqs, name)
        if found is not None:
            return found
        for logical_id, (event_queue, senders) in self._event_queue_names().items():
            if event_queue == name:
                return self._event_queue(logical_id, name, senders)
        return None

    def dead_letters(self, queue: dlq.DeadLetterQueue, limit: int) -> list[dlq.DeadLetter]:
        assert self._sqs is not None
        return dlq.peek(self._sqs, queue, limit)

    def redrive(self, queue: dlq.DeadLetterQueue, message_id: str | None) -> dlq.RedriveResult:
        assert self._sqs is not None
        if queue.replay_to is not None:
            return dlq.replay(self._sqs, queue, self._invoke(queue.replay_to), message_id)
        if message_id is not None:
            return dlq.redrive_message(self._sqs, queue, message_id)
        return dlq.redrive(self._sqs, queue, server_side=self._server_side_redrive)

    def journal_runs(self, limit: int) -> list[runs.RunSummary] | None:
        if self._journals is None:
            return None
        return runs.list_runs(self._journals.archive, limit)

    def journal_run(self, run_id: str) -> runs.RunSummary | None:
        if self._journals is None:
            return None
        found = self._runs.get(run_id) or runs.find_run(self._journals.archive, run_id)
        if found is not None:
            self._runs[run_id] = found
        return found

    def journal_file(self, run: runs.RunSummary, name: str) -> bytes | None:
        assert self._journals is not None
        return runs.run_file(self._journals.archive, run, name)

    def run_exceptions(self, run: runs.RunSummary) -> list[runs.RunException]:
        return self._run_read(run).exceptions

    def run_suggestions(self, run: runs.RunSummary) -> dict[int, list[runs.Suggestion]]:
        return self._run_read(run).suggestions

    def _run_read(self, run: runs.RunSummary) -> _RunRead:
        """A run's exceptions and their suggested matches, read and worked out once: its files
        never change once it is written (ops/journal_runs.py), only its decisions (never
        cached). The last RUNS_KEPT runs read are kept."""
        assert self._journals is not None
        key = (run.folder, run.run_id)
        found = self._run_reads.pop(key, None)
        if found is None:
            exceptions = runs.run_exceptions(self._journals.archive, run)
            found = _RunRead(exceptions, runs.suggest_matches(exceptions))
        self._run_reads[key] = found  # the most recently read last
        while len(self._run_reads) > RUNS_KEPT:
            del self._run_reads[next(iter(self._run_reads))]
        return found

    def exception_decisions(self, run: runs.RunSummary) -> dict[int, runs.ExceptionDecision]:
        assert self._journals is not None
        return runs.decisions(self._journals.archive, run)

    def decide(
        self, run: runs.RunSummary, number: int, decision: str, note: str, match: int | None
    ) -> runs.ExceptionDecision:
        assert self._journals is not None
        return runs.record_decision(
            self._journals.archive,
            run,
            number,
            decision,
            note=note,
            match=match,
            decided_by=self._journals.operator,
        )

    @property
    def runs_on_uploads(self) -> str | None:
        j = self._journals
        if j is None:
            return "this stack's reports bucket was not found"
        if j.config is None:
            return (
                "runs start on uploaded files against the local runtime only; a deployed "
                "stack journals what its schedules fetch"
            )
        if j.ledger is None or j.events is None:
            return "this stack's report ledger or event bus was not found"
        return None

    def reconcile_uploads(self, uploads: Sequence[runs.Upload]) -> runs.UploadRun:
        j = self._journals
        why = self.runs_on_uploads
        if why is not None or j is None or j.config is None:
            raise ValueError(why or "no journal access")
        assert j.ledger is not None
        assert j.events is not None
        from opayo_fba.jobs.order_book import order_book

        book = order_book(j.orders.all_orders()) if j.orders is not None else None
        return runs.reconcile_uploads(uploads, j.ledger, j.archive, j.config, j.events, orders=book)

    @property
    def actions_refused(self) -> str | None:
        if self._actions is None:
            return "the stack's API URL is not known here (start the console with its stage)"
        return None

    def order_action(
        self, action: Action, order_id: str, body: dict[str, Any] | None
    ) -> ActionReply:
        if self._actions is None:
            raise ConnectionError(self.actions_refused)
        return self._actions.act(action, order_id, body)


@dataclass(frozen=True)
class JournalAccess:
    """What the Reconciliation page reads and writes: the report archive (runs, their files,
    decisions), and to start a run on uploaded files (the local runtime only, where `config`
    is the chart of accounts): the report ledger, the bus and the orders (the order book)."""

    archive: ReportArchive
    operator: str
    """Who decides, as recorded with each decision (the caller's AWS identity)."""
    ledger: ReportLedger | None = None
    events: EventPort | None = None
    orders: OrderExportStore | None = None
    config: ReconcileConfig | None = None
