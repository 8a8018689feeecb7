"""`opayo-fba status`: one view of a stack, per seller account, marketplace and Opayo vendor.

Orders by status over a period (the orders table's by-account index), open authorisations
per vendor (the sparse held-authorisation index), dead-letter queue depths and each poller's
last watermark. Everything is read through the stores and boto3 clients passed in, so the
same functions run against AWS and against the local runtime's moto.

The stack's resources are found by a locator: on AWS from CloudFormation's resource list;
locally, where moto has no stack, from the names the local runtime gives them
(`<stack name>-<logicalId>`, local_runtime/template.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from opayo_fba.ops.dlq import list_dead_letter_queues
from opayo_fba.store.orders import CARD_INTAKE_KEY_PREFIX, PENDING_REFUND_PREFIX, OrderStore
from opayo_fba.store.watermarks import WatermarkStore

ORDERS_TABLE_LOGICAL_ID = "OrdersTable"
CONNECTOR_STATE_TABLE_LOGICAL_ID = "ConnectorStateTable"
REPORTS_BUCKET_LOGICAL_ID = "ReportsBucket"
EVENT_BUS_LOGICAL_ID = "CanonicalEventsBus"
# The watermarks kept per Opayo vendor; every other one is kept per seller account.
VENDOR_WATERMARKS = frozenset({"opayo-batches"})


class StackNotFound(LookupError):
    """No stack (or not the tables it should have) under that name."""


@dataclass(frozen=True)
class StackResources:
    stack_name: str
    orders_table: str
    connector_state_table: str
    queue_names: frozenset[str]
    # The stack's state machines (ARNs): the console reads an order's saga executions there.
    state_machine_arns: tuple[str, ...] = ()
    # The report archive (its journal runs) and the canonical bus (JournalEntriesReady): the
    # console's Reconciliation page; None where a locator was not asked to find them.
    reports_bucket: str | None = None
    event_bus: str | None = None
    # The stack's Lambda functions, logical id -> name: the console replays a rule's dead
    # letters to its target; empty where a locator was not asked to find them.
    functions: Mapping[str, str] = field(default_factory=dict)


class StackLocator(Protocol):
    def locate(self, stack_name: str) -> StackResources: ...


def _pick(stack_name: str, tables: Mapping[str, str], logical_id: str) -> str:
    """The one table whose logical id contains `logical_id` (CDK appends a hash)."""
    found = [name for logical, name in tables.items() if logical_id in logical]
    if len(found) != 1:
        raise StackNotFound(
            f"stack {stack_name} has {len(found)} tables named like {logical_id} "
            f"(tables: {', '.join(sorted(tables.values())) or 'none'})"
        )
    return found[0]


class CloudFormationLocator:
    """A deployed stack: its resources as CloudFormation lists them."""

    def __init__(self, cloudformation: Any) -> None:
        self._cloudformation = cloudformation

    def locate(self, stack_name: str) -> StackResources:
        from botocore.exceptions import ClientError

        tables: dict[str, str] = {}
        queues: set[str] = set()
        state_machines: list[str] = []
        named: dict[str, str] = {}
        functions: dict[str, str] = {}
        try:
            pages = self._cloudformation.get_paginator("list_stack_resources").paginate(
                StackName=stack_name
            )
            for page in pages:
                for resource in page.get("StackResourceSummaries", []):
                    physical = resource.get("PhysicalResourceId")
                    if not physical:
                        continue
                    if resource["ResourceType"] == "AWS::DynamoDB::Table":
                        tables[resource["LogicalResourceId"]] = physical
                    elif resource["ResourceType"] == "AWS::SQS::Queue":
                        queues.add(physical.rsplit("/", 1)[-1])  # its URL
                    elif resource["ResourceType"] == "AWS::StepFunctions::StateMachine":
                        state_machines.append(physical)  # its ARN
                    elif resource["ResourceType"] in ("AWS::S3::Bucket", "AWS::Events::EventBus"):
                        named[resource["LogicalResourceId"]] = physical  # its name
                    elif resource["ResourceType"] == "AWS::Lambda::Function":
                        functions[resource["LogicalResourceId"]] = physical  # its name
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationError":
                raise StackNotFound(f"no stack {stack_name} in this account and region") from None
            raise
        return StackResources(
            stack_name=stack_name,
            orders_table=_pick(stack_name, tables, ORDERS_TABLE_LOGICAL_ID),
            connector_state_table=_pick(stack_name, tables, CONNECTOR_STATE_TABLE_LOGICAL_ID),
            queue_names=frozenset(queues),
            state_machine_arns=tuple(sorted(state_machines)),
            reports_bucket=_optional(named, REPORTS_BUCKET_LOGICAL_ID),
            event_bus=_optional(named, EVENT_BUS_LOGICAL_ID),
            functions=functions,
        )


def _optional(names: Mapping[str, str], logical_id: str) -> str | None:
    """The one resource whose logical id contains `logical_id`; None if not exactly one."""
    found = [name for logical, name in names.items() if logical_id.lower() in logical.lower()]
    return found[0] if len(found) == 1 else None


class LocalRuntimeLocator:
    """The local runtime: tables and queues named `<stack name>-<logicalId>`; its state
    machines keep the names the template gives them, and it runs one stack, so all of them."""

    def __init__(
        self,
        dynamodb: Any,
        sqs: Any,
        stepfunctions: Any | None = None,
        *,
        s3: Any | None = None,
        events: Any | None = None,
        lambda_: Any | None = None,
    ) -> None:
        """`dynamodb`, `sqs`, `stepfunctions`, `s3`, `events` and `lambda_` are boto3 clients
        (without one of the last four, no state machines, reports bucket, bus or functions
        are found)."""
        self._dynamodb = dynamodb
        self._sqs = sqs
        self._stepfunctions = stepfunctions
        self._s3 = s3
        self._events = events
        self._lambda = lambda_

    def locate(self, stack_name: str) -> StackResources:
        prefix = f"{stack_name}-"
        tables: dict[str, str] = {}
        for page in self._dynamodb.get_paginator("list_tables").paginate():
            for name in page.get("TableNames", []):
                if name.startswith(prefix):
                    tables[name.removeprefix(prefix)] = name
        if not tables:
            raise StackNotFound(f"no tables of stack {stack_name} at this endpoint")
        queues: set[str] = set()
        for page in self._sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix):
            queues.update(url.rsplit("/", 1)[-1] for url in page.get("QueueUrls", []))
        state_machines: list[str] = []
        if self._stepfunctions is not None:
            for page in self._stepfunctions.get_paginator("list_state_machines").paginate():
                state_machines.extend(m["stateMachineArn"] for m in page.get("stateMachines", []))
        # Buckets are named `<stack name>-<logicalId>` in lower case (S3's rule).
        named: dict[str, str] = {}
        if self._s3 is not None:
            bucket_prefix = prefix.lower()
            for bucket in self._s3.list_buckets().get("Buckets", []):
                if bucket["Name"].startswith(bucket_prefix):
                    named[bucket["Name"].removeprefix(bucket_prefix)] = bucket["Name"]
        # The template names its bus (`opayo-fba-<stage>-canonical`, not after the stack), and
        # the local runtime runs one stack: its one canonical bus.
        event_bus = None
        if self._events is not None:
            buses = self._events.list_event_buses().get("EventBuses", [])
            canonical = [b["Name"] for b in buses if "canonical" in b["Name"].lower()]
            event_bus = canonical[0] if len(canonical) == 1 else None
        return StackResources(
            stack_name=stack_name,
            orders_table=_pick(stack_name, tables, ORDERS_TABLE_LOGICAL_ID),
            connector_state_table=_pick(stack_name, tables, CONNECTOR_STATE_TABLE_LOGICAL_ID),
            queue_names=frozenset(queues),
            state_machine_arns=tuple(sorted(state_machines)),
            reports_bucket=_optional(named, REPORTS_BUCKET_LOGICAL_ID),
            event_bus=event_bus,
            functions=self._functions(prefix),
        )

    def _functions(self, prefix: str) -> dict[str, str]:
        """Functions are named `<stack name>-<logicalId>` (cut at 64 characters, Lambda's
        limit: such a name stands for every logical id it begins)."""
        found: dict[str, str] = {}
        if self._lambda is None:
            return found
        for page in self._lambda.get_paginator("list_functions").paginate():
            for function in page.get("Functions", []):
                name = str(function["FunctionName"])
                if name.startswith(prefix):
                    found[name.removeprefix(prefix)] = name
        return found


@dataclass(frozen=True)
class Scopes:
    """The seller accounts (with their marketplaces) and vendors to report on."""

    accounts: Mapping[str, Sequence[str]]
    vendors: Sequence[str]
    source: str  # "cdk.json" or "tables"


def scopes_from_tables(orders: OrderStore, watermarks: WatermarkStore) -> Scopes:
    """Without a configuration: the accounts and vendors that have watermarks, and the
    vendors holding something in the sparse held-authorisation index."""
    accounts: dict[str, list[str]] = {}
    vendors: set[str] = set()
    for scope, names in watermarks.scopes().items():
        if names & VENDOR_WATERMARKS:
            vendors.add(scope)
        if names - VENDOR_WATERMARKS:
            accounts[scope] = []
    for held in orders.held_vendors():
        vendors.add(held.removeprefix(PENDING_REFUND_PREFIX).removeprefix(CARD_INTAKE_KEY_PREFIX))
    return Scopes(accounts=dict(sorted(accounts.items())), vendors=sorted(vendors), source="tables")


@dataclass(frozen=True)
class MarketplaceOrders:
    seller_account: str
    marketplace_id: str | None
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class VendorHolds:
    vendor: str
    held: int
    oldest_held_since: datetime | None
    pending_refunds: int


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int
    source_queues: tuple[str, ...]


@dataclass(frozen=True)
class LastPoll:
    scope: str
    poller: str
    at: datetime


@dataclass(frozen=True)
class StackStatus:
    stack_name: str
    now: datetime
    since: datetime
    scopes_source: str
    orders: list[MarketplaceOrders] = field(default_factory=list)
    holds: list[VendorHolds] = field(default_factory=list)
    dead_letter_queues: list[QueueDepth] = field(default_factory=list)
    polls: list[LastPoll] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "stack": self.stack_name,
            "now": iso(self.now),
            "since": iso(self.since),
            "accountsFrom": self.scopes_source,
            "orders": [
                {
                    "sellerAccount": row.seller_account,
                    "marketplaceId": row.marketplace_id,
                    "byStatus": row.by_status,
                    "total": row.total,
                }
                for row in self.orders
            ],
            "openAuthorisations": [
                {
                    "vendor": hold.vendor,
                    "held": hold.held,
                    "oldestHeldSince": iso(hold.oldest_held_since),
                    "oldestHeldSeconds": (
                        int((self.now - hold.oldest_held_since).total_seconds())
                        if hold.oldest_held_since
                        else None
                    ),
                    "pendingRefunds": hold.pending_refunds,
                }
                for hold in self.holds
            ],
            "deadLetterQueues": [
                {"name": q.name, "messages": q.messages, "sourceQueues": list(q.source_queues)}
                for q in self.dead_letter_queues
            ],
            "lastPolls": [
                {
                    "scope": poll.scope,
                    "poller": poll.poller,
                    "at": iso(poll.at),
                    "ageSeconds": int((self.now - poll.at).total_seconds()),
                }
                for poll in self.polls
            ],
        }


def order_counts(
    orders: OrderStore, accounts: Mapping[str, Sequence[str]], since: datetime
) -> list[MarketplaceOrders]:
    """Per account and marketplace, orders received since `since` by status; a configured
    marketplace with no orders shows as a row of zeros."""
    rows: list[MarketplaceOrders] = []
    for account, marketplaces in accounts.items():
        counts = orders.orders_by_status(account, since)
        extra = sorted(k for k in counts if k is not None and k not in marketplaces)
        for marketplace in [*marketplaces, *extra]:
            found = counts.get(marketplace)
            rows.append(MarketplaceOrders(account, marketplace, dict(found) if found else {}))
        if None in counts:
            rows.append(MarketplaceOrders(account, None, dict(counts[None])))
    return rows


def open_authorisations(
    orders: OrderStore,
    vendors: Sequence[str],
    held: Mapping[str, Sequence[datetime]] | None = None,
) -> list[VendorHolds]:
    """Per vendor, its held authorisations (how many, since when the oldest) and its pending
    refunds, from the held index (`OrderStore.held_index`, read here unless given)."""
    held = orders.held_index() if held is None else held
    holds = []
    for vendor in vendors:
        times = held.get(vendor, ())
        refunds = held.get(PENDING_REFUND_PREFIX + vendor, ())
        holds.append(VendorHolds(vendor, len(times), min(times, default=None), len(refunds)))
    return holds


def dead_letter_depths(sqs: Any, queue_names: frozenset[str]) -> list[QueueDepth]:
    """The stack's dead-letter queues (those another of its queues redrives into)."""
    return [
        QueueDepth(
            queue.name,
            queue.messages,
            tuple(url.rsplit("/", 1)[-1] for url in queue.source_queues),
        )
        for queue in list_dead_letter_queues(sqs)
        if queue.name in queue_names
    ]


def last_polls(watermarks: WatermarkStore, scopes: Sequence[str]) -> list[LastPoll]:
    return [
        LastPoll(scope, poller, at)
        for scope in scopes
        for poller, at in sorted(watermarks.for_scope(scope).items())
    ]


def gather_status(
    resources: StackResources,
    scopes: Scopes,
    *,
    orders: OrderStore,
    watermarks: WatermarkStore,
    sqs: Any,
    since: datetime,
    now: datetime,
) -> StackStatus:
    return StackStatus(
        stack_name=resources.stack_name,
        now=now,
        since=since,
        scopes_source=scopes.source,
        orders=order_counts(orders, scopes.accounts, since),
        holds=open_authorisations(orders, scopes.vendors),
        dead_letter_queues=dead_letter_depths(sqs, resources.queue_names),
        polls=last_polls(watermarks, [*scopes.accounts, *scopes.vendors]),
    )
