"""Per-SKU FBA inventory levels in the connector-state table.

One item per (seller account, internal SKU): `pk = "inventory#<account>"`, `sk = <internal SKU>`.
A level is written only when it differs from the stored one and is newer (`asOf`), so a
replayed or late report never overwrites a fresher level and an unchanged level costs no write.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opayo_fba.model.common import UtcDatetime
from opayo_fba.store.watermarks import to_iso

INVENTORY_KEY_PREFIX = "inventory#"


class InventoryLevel(BaseModel):
    """How many units of one SKU Amazon holds for us, from one inventory report."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    sku: str = Field(min_length=1)
    """Our internal SKU (mapped from the seller SKU)."""
    seller_sku: str = Field(min_length=1)
    asin: str | None = None
    product_name: str | None = None
    """Amazon's title for the SKU in the marketplace (EU names: accents, ™), when known."""
    fulfillable: int = Field(ge=0)
    unsellable: int = Field(default=0, ge=0)
    reserved: int = Field(default=0, ge=0)
    total: int = Field(ge=0)
    as_of: UtcDatetime
    report_id: str | None = None

    def same_quantities(self, other: InventoryLevel | None) -> bool:
        return other is not None and (
            self.fulfillable,
            self.unsellable,
            self.reserved,
            self.total,
        ) == (other.fulfillable, other.unsellable, other.reserved, other.total)


class InventoryStore:
    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource of the connector-state table."""
        self._table = table

    @classmethod
    def from_table_name(cls, name: str) -> InventoryStore:
        import boto3

        return cls(boto3.resource("dynamodb").Table(name))

    def levels(self, seller_account: str) -> dict[str, InventoryLevel]:
        """Every stored level of the account, by internal SKU."""
        from boto3.dynamodb.conditions import Key

        found: dict[str, InventoryLevel] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(INVENTORY_KEY_PREFIX + seller_account),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                level = InventoryLevel.model_validate_json(str(item["level"]))
                found[level.sku] = level
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put_if_newer(self, seller_account: str, level: InventoryLevel) -> bool:
        """Store `level` unless a level as new or newer is stored; False when not written."""
        from botocore.exceptions import ClientError

        as_of = to_iso(level.as_of)
        try:
            self._table.put_item(
                Item={
                    "pk": INVENTORY_KEY_PREFIX + seller_account,
                    "sk": level.sku,
                    "asOf": as_of,
                    "level": level.model_dump_json(),
                },
                ConditionExpression="attribute_not_exists(pk) OR asOf < :asOf",
                ExpressionAttributeValues={":asOf": as_of},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def level_changed(new: InventoryLevel, old: InventoryLevel | None) -> bool:
    """Whether `new` is a change worth an event: different quantities and not older."""
    if old is None:
        return True
    return new.as_of > old.as_of and not new.same_quantities(old)
