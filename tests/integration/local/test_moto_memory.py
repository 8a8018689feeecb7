"""The local runtime's moto keeps only the objects its state holds (moto_memory.py)."""

from __future__ import annotations

import gc
from typing import Any

import boto3
from moto import mock_aws

from local_runtime.moto_memory import stop_tracking_instances


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def _table(client: Any) -> None:
    client.create_table(
        TableName="memory",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _write(client: Any, n: int) -> None:
    """As an order write does: the order's conditional Put and its rollup's ADD, one
    transaction, on the same two items each time."""
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "memory", "Item": {"pk": {"S": "order#1"}, "v": {"N": str(n)}}}},
            {
                "Update": {
                    "TableName": "memory",
                    "Key": {"pk": {"S": "daily#1"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )


def test_replaced_items_and_transaction_backups_are_not_kept() -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    stop_tracking_instances()
    stop_tracking_instances()  # idempotent
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        _table(client)
        _write(client, 0)
        tables, items = _alive(Table), _alive(Item)
        for n in range(1, 41):
            _write(client, n)
        # moto would keep each write's table backup and each replaced item: 40 more of each.
        assert _alive(Table) == tables
        assert _alive(Item) <= items + 2
        order = client.get_item(TableName="memory", Key={"pk": {"S": "order#1"}})["Item"]
        counted = client.get_item(TableName="memory", Key={"pk": {"S": "daily#1"}})["Item"]
        assert (order["v"], counted["n"]) == ({"N": "40"}, {"N": "41"})


def test_s3_keys_are_still_tracked_for_moto_s3_reset_to_close_their_files() -> None:
    from moto.s3.models import FakeKey

    stop_tracking_instances()
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-2")
        s3.create_bucket(
            Bucket="memory-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        before = len(FakeKey.instances_tracked)  # type: ignore[attr-defined]
        s3.put_object(Bucket="memory-bucket", Key="k", Body=b"x")
        assert len(FakeKey.instances_tracked) == before + 1  # type: ignore[attr-defined]
