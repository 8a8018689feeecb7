"""Version-checked writes through the local runtime's moto server never lose an update."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_runtime import dynamodb_writes


@pytest.fixture
def dynamodb_url() -> Iterator[str]:
    dynamodb_writes.serialise()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _client(url: str) -> Any:
    return boto3.client(
        "dynamodb",
        region_name="eu-west-2",
        endpoint_url=url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_concurrent_version_checked_increments_are_all_kept(dynamodb_url: str) -> None:
    setup = _client(dynamodb_url)
    setup.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"pk": {"S": "order#1"}}
    setup.put_item(TableName="orders", Item={**key, "version": {"N": "0"}})
    kept: list[int] = []

    def writer() -> None:
        client = _client(dynamodb_url)
        for _ in range(25):
            while True:
                item = client.get_item(TableName="orders", Key=key, ConsistentRead=True)
                version = int(item["Item"]["version"]["N"])
                try:
                    client.put_item(
                        TableName="orders",
                        Item={**key, "version": {"N": str(version + 1)}},
                        ConditionExpression="version = :seen",
                        ExpressionAttributeValues={":seen": {"N": str(version)}},
                    )
                except ClientError:
                    continue  # somebody wrote in between: read again, as OrderStore does
                kept.append(version + 1)
                break

    threads = [threading.Thread(target=writer) for _ in range(8)]
    # Switch threads as often as possible, so that a check-then-store that is not atomic
    # (moto's own, without the lock) is caught between its two halves.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        sys.setswitchinterval(interval)
    final = setup.get_item(TableName="orders", Key=key, ConsistentRead=True)
    # Every successful write had a version of its own, and the last one is the count.
    assert sorted(kept) == list(range(1, 201))
    assert int(final["Item"]["version"]["N"]) == 200


def test_serialising_is_idempotent() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    dynamodb_writes.serialise()
    first = DynamoDBBackend.put_item
    dynamodb_writes.serialise()
    assert DynamoDBBackend.put_item is first
    assert getattr(first, "_opayo_fba_serialised", False)


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb_url: str) -> None:
    """moto's transactions back up only the items they name (cheap_transaction_backups):
    a cancelled one still restores what it had written before its failing action."""
    dynamodb_writes.cheap_transaction_backups()
    client = _client(dynamodb_url)
    client.create_table(
        TableName="rollback",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for pk in ("kept", "counted", "other"):
        client.put_item(TableName="rollback", Item={"pk": {"S": pk}, "n": {"N": "1"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "rollback",
                        "Key": {"pk": {"S": "counted"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": "rollback", "Item": {"pk": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": "rollback",
                        "Item": {"pk": {"S": "kept"}, "n": {"N": "9"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    items = client.scan(TableName="rollback")["Items"]
    assert sorted((i["pk"]["S"], i["n"]["N"]) for i in items) == [
        ("counted", "1"),
        ("kept", "1"),
        ("other", "1"),
    ]
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "rollback",
                    "Key": {"pk": {"S": "counted"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ]
    )
    counted = client.get_item(TableName="rollback", Key={"pk": {"S": "counted"}})["Item"]
    assert counted["n"]["N"] == "2"
