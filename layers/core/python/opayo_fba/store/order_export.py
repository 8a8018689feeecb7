"""Every saga order in the orders table, for a journal run's order book.

Cost: a Scan of the whole table (every item read is charged, ~1 RCU per 8 KB eventually
consistent), once per journal run — settlements and batches arrive daily or fortnightly, so
this is a few full reads a day. A run over a very large table would want an export (DynamoDB
export to S3) instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opayo_fba.store.orders import ORDER_KEY_PREFIX, OrderRecord, OrderStore


class OrderExportStore(OrderStore):
    @classmethod
    def from_table_name(cls, name: str) -> OrderExportStore:
        import boto3

        return cls(boto3.resource("dynamodb").Table(name))

    def all_orders(self) -> Iterator[OrderRecord]:
        from boto3.dynamodb.conditions import Attr

        kwargs: dict[str, Any] = {"FilterExpression": Attr("pk").begins_with(ORDER_KEY_PREFIX)}
        while True:
            page = self._table.scan(**kwargs)
            for item in page.get("Items", []):
                record = OrderRecord.model_validate_json(str(item["record"]))
                record.version = int(item["version"])
                yield record
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
