"""The report ledger in the connector-state table: what was requested, what came back.

Three kinds of item, each under its own partition so that every poll reads only live work:
- `pk = "report-pending#<scope>"`: reports requested (or listed) and not yet archived; the
  report poller reads this partition on every run and gives up on entries that stay too long;
- `pk = "report#<scope>"`: the final record of each report or batch (done, failed, gave up),
  kept so that a settlement report or Opayo batch listed again is not processed twice;
- `pk = "reconcile-ready"`: archived settlement reports and batches waiting for a journal run;
- `pk = "reconcile-lease"`: held by the one journal run in progress (several schedules may
  start one at the same time; only the holder reads the ready items).

`scope` is the seller account (Amazon) or the vendor (Opayo); `sk = "<kind>#<source id>"`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from opayo_fba.store.watermarks import from_iso, to_iso

PENDING_KEY_PREFIX = "report-pending#"
FINISHED_KEY_PREFIX = "report#"
RECONCILE_READY_KEY = "reconcile-ready"
JOURNAL_LEASE_KEY = {"pk": "reconcile-lease", "sk": "journal-run"}

ReportKind = Literal["amazon-report", "opayo-batch"]
ReportStatus = Literal["pending", "done", "failed", "gave_up"]


@dataclass(frozen=True)
class ReportEntry:
    kind: ReportKind
    scope: str
    source_id: str
    """Amazon reportId, or Opayo batch id."""
    report_type: str
    """Amazon reportType, or "OPAYO_BATCH"."""
    requested_at: datetime
    status: ReportStatus = "pending"
    archive_key: str | None = None
    detail: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    finished_at: datetime | None = None

    @property
    def sort_key(self) -> str:
        return f"{self.kind}#{self.source_id}"

    def to_item(self, pk: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": pk,
            "sk": self.sort_key,
            "kind": self.kind,
            "scope": self.scope,
            "sourceId": self.source_id,
            "reportType": self.report_type,
            "requestedAt": to_iso(self.requested_at),
            "status": self.status,
            "attributes": json.dumps(self.attributes, sort_keys=True),
        }
        for name, value in (("archiveKey", self.archive_key), ("detail", self.detail)):
            if value is not None:
                item[name] = value
        if self.finished_at is not None:
            item["finishedAt"] = to_iso(self.finished_at)
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ReportEntry:
        finished = item.get("finishedAt")
        return cls(
            kind=item["kind"],
            scope=str(item["scope"]),
            source_id=str(item["sourceId"]),
            report_type=str(item["reportType"]),
            requested_at=from_iso(str(item["requestedAt"])),
            status=item["status"],
            archive_key=item.get("archiveKey"),
            detail=item.get("detail"),
            attributes=json.loads(str(item.get("attributes") or "{}")),
            finished_at=from_iso(str(finished)) if finished else None,
        )


class ReportLedger:
    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource of the connector-state table."""
        self._table = table

    @classmethod
    def from_table_name(cls, name: str) -> ReportLedger:
        import boto3

        return cls(boto3.resource("dynamodb").Table(name))

    def _query(self, pk: str) -> list[ReportEntry]:
        from boto3.dynamodb.conditions import Key

        entries: list[ReportEntry] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk)}
        while True:
            page = self._table.query(ConsistentRead=True, **kwargs)
            entries.extend(ReportEntry.from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return entries
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def finished(self, scope: str, kind: ReportKind, source_id: str) -> ReportEntry | None:
        item = self._table.get_item(
            Key={"pk": FINISHED_KEY_PREFIX + scope, "sk": f"{kind}#{source_id}"},
            ConsistentRead=True,
        ).get("Item")
        return ReportEntry.from_item(item) if item else None

    def add_pending(self, entry: ReportEntry) -> bool:
        """Remember a report to wait for; False if it is already pending or finished."""
        from botocore.exceptions import ClientError

        if self.finished(entry.scope, entry.kind, entry.source_id) is not None:
            return False
        try:
            self._table.put_item(
                Item=replace(entry, status="pending").to_item(PENDING_KEY_PREFIX + entry.scope),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def pending(self, scope: str, kind: ReportKind | None = None) -> list[ReportEntry]:
        entries = self._query(PENDING_KEY_PREFIX + scope)
        return [e for e in entries if kind is None or e.kind == kind]

    def finish(self, entry: ReportEntry) -> None:
        """Record the final state, then drop the pending entry (a crash in between only
        leaves a pending entry whose next poll finds it finished and drops it)."""
        if entry.status == "pending":
            raise ValueError("finish() needs a final status: done, failed or gave_up")
        self._table.put_item(Item=entry.to_item(FINISHED_KEY_PREFIX + entry.scope))
        self._table.delete_item(Key={"pk": PENDING_KEY_PREFIX + entry.scope, "sk": entry.sort_key})

    def discard_pending(self, entry: ReportEntry) -> None:
        self._table.delete_item(Key={"pk": PENDING_KEY_PREFIX + entry.scope, "sk": entry.sort_key})

    def history(self, scope: str) -> list[ReportEntry]:
        return self._query(FINISHED_KEY_PREFIX + scope)

    # -- settlement reports and batches waiting for a journal run ---------------------------

    def mark_ready_for_reconciliation(self, entry: ReportEntry) -> None:
        if entry.archive_key is None:
            raise ValueError("only an archived report can be reconciled")
        item = entry.to_item(RECONCILE_READY_KEY)
        item["sk"] = f"{entry.kind}#{entry.scope}#{entry.source_id}"
        self._table.put_item(Item=item)

    def ready_for_reconciliation(self) -> list[ReportEntry]:
        return self._query(RECONCILE_READY_KEY)

    def mark_reconciled(self, entries: list[ReportEntry]) -> None:
        for entry in entries:
            self._table.delete_item(
                Key={
                    "pk": RECONCILE_READY_KEY,
                    "sk": f"{entry.kind}#{entry.scope}#{entry.source_id}",
                }
            )

    # -- one journal run at a time ----------------------------------------------------------

    def acquire_journal_lease(self, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take the journal-run lease unless another run holds an unexpired one."""
        from botocore.exceptions import ClientError

        try:
            self._table.put_item(
                Item={**JOURNAL_LEASE_KEY, "owner": owner, "expiresAt": to_iso(now + ttl)},
                ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
                ExpressionAttributeValues={":now": to_iso(now)},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_journal_lease(self, owner: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._table.delete_item(
                Key=JOURNAL_LEASE_KEY,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
