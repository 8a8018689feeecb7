"""Amazon marketplace orders the orders poller found, in the orders table.

One item per Amazon order: `pk = "amazon-order#<AmazonOrderId>"`, beside the saga's
`order#...` items (no `vendorTxCode`, so they stay out of the by-vendor-tx-code index).
A write only lands when Amazon's `LastUpdateDate` is newer than the stored one: re-reading an
overlap window, or a retried run, stores nothing twice and never goes backwards.

An order we cannot convert (an unmapped SKU, a field Amazon left out) is stored too, with the
reason and without the canonical order, so the watermark can move on without losing it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from opayo_fba.model import Order, OrderStatus
from opayo_fba.model.common import UtcDatetime
from opayo_fba.store.watermarks import to_iso

AMAZON_ORDER_KEY_PREFIX = "amazon-order#"


class AmazonOrderRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    amazon_order_id: str
    seller_account: str
    last_update: UtcDatetime
    source_status: str
    status: OrderStatus | None = None
    order: Order | None = None
    error: str | None = None
    """Why the order could not be converted (then `order` is None)."""


class AmazonOrderStore:
    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource of the orders table."""
        self._table = table

    @classmethod
    def from_table_name(cls, name: str) -> AmazonOrderStore:
        import boto3

        return cls(boto3.resource("dynamodb").Table(name))

    def find(self, amazon_order_id: str) -> AmazonOrderRecord | None:
        item = self._table.get_item(
            Key={"pk": AMAZON_ORDER_KEY_PREFIX + amazon_order_id}, ConsistentRead=True
        ).get("Item")
        return AmazonOrderRecord.model_validate_json(str(item["record"])) if item else None

    def put_if_newer(self, record: AmazonOrderRecord) -> bool:
        """Store `record` unless one as new or newer is stored; False when not written."""
        from botocore.exceptions import ClientError

        last_update = to_iso(record.last_update)
        item: dict[str, Any] = {
            "pk": AMAZON_ORDER_KEY_PREFIX + record.amazon_order_id,
            "lastUpdateDate": last_update,
            "sellerAccount": record.seller_account,
            "sourceStatus": record.source_status,
            "record": record.model_dump_json(),
        }
        if record.status is not None:
            item["status"] = record.status.value
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR lastUpdateDate < :updated",
                ExpressionAttributeValues={":updated": last_update},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
