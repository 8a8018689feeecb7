"""Watermarks in the connector-state table: how far a poller has safely read.

One item per (scope, name): `pk = "watermark#<scope>"` (a seller account or an Opayo vendor),
`sk = <name>` ("orders", "settlement-reports", "opayo-batches"), `value` an ISO 8601 UTC time.
A watermark only moves forward: two overlapping runs (a retried schedule) cannot move it back,
because the write is conditional on the stored value being older.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

WATERMARK_KEY_PREFIX = "watermark#"


def to_iso(moment: datetime) -> str:
    """A fixed-width UTC timestamp, so that string order is time order."""
    if moment.tzinfo is None:
        raise ValueError("watermarks are timezone-aware UTC datetimes")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class WatermarkStore:
    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource of the connector-state table."""
        self._table = table

    @classmethod
    def from_table_name(cls, name: str) -> WatermarkStore:
        import boto3

        return cls(boto3.resource("dynamodb").Table(name))

    @staticmethod
    def _key(scope: str, name: str) -> dict[str, str]:
        if not scope or not name:
            raise ValueError("a watermark needs a scope and a name")
        return {"pk": WATERMARK_KEY_PREFIX + scope, "sk": name}

    def get(self, scope: str, name: str) -> datetime | None:
        item = self._table.get_item(Key=self._key(scope, name), ConsistentRead=True).get("Item")
        return from_iso(str(item["value"])) if item else None

    def advance(self, scope: str, name: str, value: datetime) -> bool:
        """Move the watermark to `value` if that is later; False when it was already there."""
        from botocore.exceptions import ClientError

        try:
            self._table.put_item(
                Item={**self._key(scope, name), "value": to_iso(value)},
                ConditionExpression="attribute_not_exists(pk) OR #value < :value",
                ExpressionAttributeNames={"#value": "value"},
                ExpressionAttributeValues={":value": to_iso(value)},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def for_scope(self, scope: str) -> dict[str, datetime]:
        """Every watermark of `scope` (a seller account or vendor), by name: a Query."""
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(WATERMARK_KEY_PREFIX + scope),
            "ConsistentRead": True,
        }
        found: dict[str, datetime] = {}
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                found[str(item["sk"])] = from_iso(str(item["value"]))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scopes(self) -> dict[str, set[str]]:
        """Every scope that has a watermark, with the names of its watermarks. A Scan of the
        connector-state table (a few items per account and vendor), for `opayo-fba status`
        when no cdk.json names the accounts and vendors."""
        from boto3.dynamodb.conditions import Attr

        kwargs: dict[str, Any] = {"FilterExpression": Attr("pk").begins_with(WATERMARK_KEY_PREFIX)}
        found: dict[str, set[str]] = {}
        while True:
            page = self._table.scan(**kwargs)
            for item in page.get("Items", []):
                scope = str(item["pk"]).removeprefix(WATERMARK_KEY_PREFIX)
                found.setdefault(scope, set()).add(str(item["sk"]))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
