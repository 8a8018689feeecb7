"""The SQS consumers' idempotency, built on the first record (lambda_support.IdempotentOnFirstCall),
on moto's DynamoDB: once per key, keyed as Powertools keyed the decorated function before."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opayo_fba.lambda_support import IdempotentOnFirstCall

TABLE = "idempotency"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "payment-events")
    with mock_aws():
        created = boto3.resource("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield created


calls: list[str] = []


def apply_event(event: dict[str, Any]) -> dict[str, Any]:
    calls.append(event["event_id"])
    return {"applied": event["event_id"]}


def _once() -> IdempotentOnFirstCall:
    return IdempotentOnFirstCall(
        apply_event,
        data_keyword_argument="event",
        event_key_jmespath="event_id",
        table_name=TABLE,
        expires_after_seconds=60,
    )


def test_each_event_is_applied_once_however_often_it_comes(table: Any) -> None:
    calls.clear()
    once = _once()
    first = once(event={"event_id": "E-1", "n": 1})
    again = once(event={"event_id": "E-1", "n": 1})
    other = once(event={"event_id": "E-2", "n": 2})
    assert first == again == {"applied": "E-1"}
    assert other == {"applied": "E-2"}
    assert calls == ["E-1", "E-2"]


def test_records_are_keyed_on_the_function_as_the_decorator_keyed_them(table: Any) -> None:
    _once()(event={"event_id": "E-3"})
    (item,) = table.scan()["Items"]
    name = f"{__name__}.apply_event"
    assert str(item["id"]).startswith(f"payment-events.{name}#")


def test_nothing_is_built_before_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Made without AWS at all: the persistence layer (and its client) waits for a record."""
    monkeypatch.delitem(sys.modules, "aws_lambda_powertools.utilities.idempotency", raising=False)
    once = _once()
    assert "aws_lambda_powertools.utilities.idempotency" not in sys.modules
    assert once._built is None
