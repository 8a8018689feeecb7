"""`opayo-fba status`: its parsing and formatting, its gathering against moto, its CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from opayo_fba.cli.status import format_age, parse_period
from opayo_fba.model import OrderStatus
from opayo_fba.ops import status
from opayo_fba.store.orders import HistoryEntry, OrderRecord, OrderStore
from opayo_fba.store.watermarks import WatermarkStore
from tests.fixtures.moto_endpoint import moto_endpoint
from tests.fixtures.saga_world import authorised_payment, make_order
from tests.fixtures.tables import REGION, create_connector_state_table, create_orders_table

STACK = "OpayoFba-dev"
ORDERS = f"{STACK}-StorageOrdersTable1A2B3C4D"
STATE = f"{STACK}-StorageConnectorStateTable5E6F7A8B"
UK, DE, FR = "A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH"
NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("90m", timedelta(minutes=90)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("2W", timedelta(weeks=2)),
    ],
)
def test_periods_parse(text: str, period: timedelta) -> None:
    assert parse_period(text) == period


@pytest.mark.parametrize("text", ["", "24", "h", "0h", "-1d", "1y", "1.5h", "24 hours"])
def test_bad_periods_say_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match=r"use e\.g\. 90m, 24h"):
        parse_period(text)


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (timedelta(seconds=-3), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=12, seconds=5), "12m"),
        (timedelta(hours=3, minutes=5), "3h 05m"),
        (timedelta(days=2, hours=4, minutes=59), "2d 04h"),
    ],
)
def test_ages_are_short(age: timedelta, shown: str) -> None:
    assert format_age(age) == shown


def _order(
    store: OrderStore,
    order_id: str,
    account: str,
    marketplace: str | None,
    *,
    received: datetime = NOW,
    vendor: str = "exampleuk",
    held_since: datetime | None = None,
    status_: OrderStatus = OrderStatus.RECEIVED,
) -> None:
    order = make_order(order_id).model_copy(update={"marketplace_id": marketplace})
    payment = (
        authorised_payment(order_id).model_copy(update={"created_at": held_since})
        if held_since is not None
        else None
    )
    store.create(
        OrderRecord(
            order=order,
            seller_account=account,
            vendor=vendor,
            payment=payment,
            status=status_,
            history=[HistoryEntry(at=received, event="received")],
        )
    )


def _dead_letter_queue(sqs: Any, name: str, messages: int) -> None:
    dead = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.create_queue(
        QueueName=name,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        },
    )
    for n in range(messages):
        sqs.send_message(QueueUrl=dead, MessageBody=f"poison-{n}")


def _populate() -> None:
    """Inside an active moto: a stack's tables and queues with orders, holds, watermarks."""
    orders = OrderStore(create_orders_table(ORDERS))
    state = create_connector_state_table(STATE)
    create_orders_table("OpayoFba-prod-StorageOrdersTable99")  # another stage's, not ours
    _order(orders, "UK-1", "uk-main", UK)
    _order(orders, "UK-2", "uk-main", UK, status_=OrderStatus.SHIPPED)
    _order(orders, "UK-OLD", "uk-main", UK, received=NOW - timedelta(days=3))
    _order(orders, "UK-NONE", "uk-main", None)
    _order(orders, "EU-1", "eu-main", DE, vendor="exampleeu", held_since=NOW - timedelta(hours=5))
    _order(orders, "EU-2", "eu-main", FR, vendor="exampleeu", held_since=NOW - timedelta(hours=1))
    _order(orders, "EU-3", "eu-main", FR, status_=OrderStatus.CANCELLED)
    orders.park_payment(authorised_payment("PARKED"))  # not an order: never counted
    watermarks = WatermarkStore(state)
    watermarks.advance("uk-main", "orders", NOW - timedelta(minutes=7))
    watermarks.advance("uk-main", "settlement-reports", NOW - timedelta(hours=20))
    watermarks.advance("exampleeu", "opayo-batches", NOW - timedelta(hours=2))
    sqs = boto3.client("sqs", REGION)
    _dead_letter_queue(sqs, f"{STACK}-EventsQueue", 2)
    _dead_letter_queue(sqs, f"{STACK}-OrdersQueue", 0)
    _dead_letter_queue(sqs, "OpayoFba-prod-EventsQueue", 4)  # another stage's


SCOPES = status.Scopes(
    accounts={"uk-main": [UK], "eu-main": [DE, FR, "APJ6JRA9NG5V4"]},
    vendors=["exampleuk", "exampleeu"],
    source="cdk.json",
)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        _populate()
        yield


def _gather(scopes: status.Scopes = SCOPES) -> status.StackStatus:
    dynamodb = boto3.resource("dynamodb", REGION)
    sqs = boto3.client("sqs", REGION)
    resources = status.LocalRuntimeLocator(boto3.client("dynamodb", REGION), sqs).locate(STACK)
    return status.gather_status(
        resources,
        scopes,
        orders=OrderStore(dynamodb.Table(resources.orders_table)),
        watermarks=WatermarkStore(dynamodb.Table(resources.connector_state_table)),
        sqs=sqs,
        since=NOW - timedelta(hours=24),
        now=NOW,
    )


def test_the_local_locator_finds_this_stages_tables_and_queues(aws: None) -> None:
    found = status.LocalRuntimeLocator(
        boto3.client("dynamodb", REGION), boto3.client("sqs", REGION)
    ).locate(STACK)
    assert (found.orders_table, found.connector_state_table) == (ORDERS, STATE)
    assert found.queue_names == {
        f"{STACK}-EventsQueue",
        f"{STACK}-EventsQueue-dlq",
        f"{STACK}-OrdersQueue",
        f"{STACK}-OrdersQueue-dlq",
    }
    with pytest.raises(status.StackNotFound, match="no tables of stack OpayoFba-test"):
        status.LocalRuntimeLocator(
            boto3.client("dynamodb", REGION), boto3.client("sqs", REGION)
        ).locate("OpayoFba-test")


def test_orders_are_counted_per_account_and_marketplace_over_the_period(aws: None) -> None:
    rows = {(r.seller_account, r.marketplace_id): r.by_status for r in _gather().orders}
    assert rows == {
        ("uk-main", UK): {"received": 1, "shipped": 1},  # UK-OLD is before the period
        ("uk-main", None): {"received": 1},
        ("eu-main", DE): {"received": 1},
        ("eu-main", FR): {"received": 1, "cancelled": 1},
        ("eu-main", "APJ6JRA9NG5V4"): {},  # configured, no orders
    }


def test_counts_query_the_index_every_page(aws: None) -> None:
    store = OrderStore(boto3.resource("dynamodb", REGION).Table(ORDERS))
    for n in range(30):
        _order(store, f"BULK-{n}", "bulk", UK)
    pages: list[int] = []
    query = store.table.query

    def counting_query(**kwargs: Any) -> Any:
        page = query(**{**kwargs, "Limit": 7})
        pages.append(len(page["Items"]))
        return page

    store.table.query = counting_query  # type: ignore[method-assign]
    assert store.orders_by_status("bulk", NOW - timedelta(hours=1)) == {UK: {"received": 30}}
    assert len(pages) >= 5


def test_open_authorisations_per_vendor_with_the_oldest(aws: None) -> None:
    holds = {h.vendor: h for h in _gather().holds}
    assert holds["exampleuk"].held == 0
    assert holds["exampleuk"].oldest_held_since is None
    eu = holds["exampleeu"]
    assert eu.held == 2
    assert eu.oldest_held_since is not None
    assert abs((NOW - eu.oldest_held_since) - timedelta(hours=5)) < timedelta(seconds=1)


def test_dead_letter_depths_are_this_stacks_only(aws: None) -> None:
    depths = {q.name: q.messages for q in _gather().dead_letter_queues}
    assert depths == {f"{STACK}-EventsQueue-dlq": 2, f"{STACK}-OrdersQueue-dlq": 0}


def test_last_polls_show_every_watermark_of_each_account_and_vendor(aws: None) -> None:
    polls = {(p.scope, p.poller): NOW - p.at for p in _gather().polls}
    assert set(polls) == {
        ("uk-main", "orders"),
        ("uk-main", "settlement-reports"),
        ("exampleeu", "opayo-batches"),
    }
    assert abs(polls[("uk-main", "orders")] - timedelta(minutes=7)) < timedelta(seconds=1)


def test_without_a_configuration_the_tables_name_the_accounts_and_vendors(aws: None) -> None:
    dynamodb = boto3.resource("dynamodb", REGION)
    scopes = status.scopes_from_tables(
        OrderStore(dynamodb.Table(ORDERS)), WatermarkStore(dynamodb.Table(STATE))
    )
    assert dict(scopes.accounts) == {"uk-main": []}
    assert list(scopes.vendors) == ["exampleeu"]
    rows = {(r.seller_account, r.marketplace_id) for r in _gather(scopes).orders}
    assert rows == {("uk-main", UK), ("uk-main", None)}


def test_the_cloudformation_locator_reads_the_stacks_resources() -> None:
    template = {
        "Resources": {
            "StorageOrdersTableAB12": _table_resource("pk"),
            "StorageConnectorStateTableCD34": _table_resource("pk"),
            "EventsDlqEF56": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }
    with mock_aws():
        cloudformation = boto3.client("cloudformation", REGION)
        cloudformation.create_stack(StackName="OpayoFba-prod", TemplateBody=json.dumps(template))
        found = status.CloudFormationLocator(cloudformation).locate("OpayoFba-prod")
        tables = boto3.client("dynamodb", REGION).list_tables()["TableNames"]
        assert found.orders_table in tables
        assert "OrdersTable" in found.orders_table
        assert "ConnectorStateTable" in found.connector_state_table
        assert len(found.queue_names) == 1
        assert "EventsDlq" in next(iter(found.queue_names))
        with pytest.raises(status.StackNotFound, match="no stack OpayoFba-dev"):
            status.CloudFormationLocator(cloudformation).locate("OpayoFba-dev")


def _table_resource(key: str) -> dict[str, Any]:
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_endpoint(monkeypatch) as url:
        _populate()
        yield url


def test_the_cli_prints_one_json_document_of_the_local_runtime(moto_server: str) -> None:
    result = CliRunner().invoke(
        app, ["status", "--endpoint-url", moto_server, "--region", REGION, "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["stack"] == STACK
    assert document["accountsFrom"] == "cdk.json"  # the tests run in the repository
    uk = [o for o in document["orders"] if o["marketplaceId"] == UK]
    assert uk == [
        {
            "sellerAccount": "uk-main",
            "marketplaceId": UK,
            "byStatus": {"received": 1, "shipped": 1},
            "total": 2,
        }
    ]
    assert {q["name"]: q["messages"] for q in document["deadLetterQueues"]} == {
        f"{STACK}-EventsQueue-dlq": 2,
        f"{STACK}-OrdersQueue-dlq": 0,
    }


def test_the_cli_prints_tables(moto_server: str) -> None:
    result = CliRunner().invoke(
        app, ["status", "--endpoint-url", moto_server, "--region", REGION, "--since", "7d"]
    )
    assert result.exit_code == 0, result.output
    for heading in ("Orders", "Open authorisations", "Dead-letter queues", "Last polls"):
        assert heading in result.output
    assert f"{STACK}-EventsQueue-dlq" in result.output
    assert "uk-main" in result.output
    assert "7m" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", "yesterday"], "is not a period"),
        (["--stage", "staging"], "environment 'staging' is not defined"),
        (["--stage", "prod"], "OpayoFba-prod has 0 tables named like ConnectorStateTable"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(
    moto_server: str, arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        app, ["status", "--endpoint-url", moto_server, "--region", REGION, *arguments]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
