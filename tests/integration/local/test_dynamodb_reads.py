"""The local runtime's moto sorts by plain keys in the order moto's own comparisons give
(local_runtime/dynamodb_reads.py)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from local_runtime.dynamodb_reads import faster_sorts

REGION = "eu-west-2"


def _moto_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[name]


def _fill(resource: Any, name: str, range_type: str | None) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "account", "AttributeType": "S"},
        {"AttributeName": "n", "AttributeType": "N"},
    ]
    if range_type:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": range_type})
    table = resource.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attributes,
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-account",
                "KeySchema": [
                    {"AttributeName": "account", "KeyType": "HASH"},
                    {"AttributeName": "n", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    rng = random.Random(7)
    keys = ["pk", "sk"] if range_type else ["pk"]
    with table.batch_writer(overwrite_by_pkeys=keys) as writer:
        for i in range(300):
            item: dict[str, Any] = {
                "pk": f"order#{rng.randint(0, 60)}",  # repeats: several items per hash key
                "account": rng.choice(["a", "b"]),
                # numbers whose text sorts otherwise ("10" < "9"), ties, negatives, decimals
                "n": rng.choice([9, 10, 100, -3, Decimal("2.5"), 10]),
            }
            if range_type == "N":
                item["sk"] = i * rng.choice([1, -1])
            elif range_type == "S":
                item["sk"] = f"{rng.randint(0, 999)}"
            writer.put_item(Item=item)


def _keys(items: list[Any]) -> list[tuple[Any, ...]]:
    return [(i.attrs["pk"].value, i.attrs.get("sk") and i.attrs["sk"].value) for i in items]


def test_every_sort_gives_moto_s_own_order() -> None:
    from moto.dynamodb.models.table import Table

    faster_sorts()
    faster_sorts()  # idempotent
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name=REGION)
        for name, range_type in (("hash-only", None), ("numbered", "N"), ("lettered", "S")):
            _fill(resource, name, range_type)
            table = _moto_table(name)
            ours = table.all_items()
            assert _keys(ours) == _keys(Table.all_items.__wrapped__(table))  # type: ignore[attr-defined]
            hash_attrs, range_attrs = ["account", "pk"], ["n", table.range_key_attr]
            theirs = Table.sorted_items.__wrapped__(  # type: ignore[attr-defined]
                table, hash_attrs, range_attrs, list(ours)
            )
            assert _keys(table.sorted_items(hash_attrs, range_attrs, list(ours))) == _keys(theirs)
            # And through the API: newest first by a number sort key, as the console asks.
            reply = resource.Table(name).query(
                IndexName="by-account",
                KeyConditionExpression=Key("account").eq("a"),
                ScanIndexForward=False,
            )
            numbers = [item["n"] for item in reply["Items"]]
            assert numbers == sorted(numbers, reverse=True)
            assert len(numbers) > 20
