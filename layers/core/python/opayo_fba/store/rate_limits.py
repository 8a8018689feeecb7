"""Token buckets shared by every concurrent Lambda instance, kept in one DynamoDB table.

One item per bucket (e.g. one seller account's createFulfillmentOrder budget). The item holds
the bucket as a GCRA "theoretical arrival time" (`tat`): the moment the bucket would be full
again if nobody called. A caller *reserves* the next free slot with one conditional write and
then waits until its slot comes; reservations are handed out in order, so N callers together
send at exactly the plan's rate after the burst is spent, and nobody sends early.

GCRA with rate r and burst b: T = 1/r, tolerance tau = (b - 1) * T. A call at `now` may go at
`max(now, tat - tau)` and moves the bucket to `tat' = max(tat, now) + T`.

Concurrency is optimistic: each write is conditional on the `version` read, and a lost race
simply re-reads. Nothing is locked, so a crashed caller never blocks the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]

# Races lost in a row before giving up; with tens of concurrent callers a handful is typical.
_MAX_CONFLICTS = 200
# Float sums of 1/rate drift by ~1e-12; a "wait" below a microsecond is no wait at all.
_EPSILON = 1e-6


class RateBudgetExceeded(Exception):
    """The next free slot is further away than the caller can wait."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"rate limit bucket {key!r}: next slot in {retry_after:.2f}s")
        self.key = key
        self.retry_after = retry_after


class BucketContention(Exception):
    """Too many concurrent writers won the race in a row; the caller may try again later."""


@dataclass(frozen=True)
class Reservation:
    """A slot granted to the caller: send after `wait_seconds`, at the bucket's `rate`."""

    key: str
    wait_seconds: float
    rate: float
    burst: int


@dataclass(frozen=True)
class BucketState:
    key: str
    tat: float
    version: int
    learned_rate: float | None
    learned_burst: int | None


def _number(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


class TokenBucketTable:
    """Reads and reserves slots in the shared buckets table (partition key `pk`, a string).

    `clock` returns epoch seconds; every instance must use the same time base (the wall clock
    in production; benchmarks pass a scaled clock).
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        clock: Clock = time.time,
    ) -> None:
        if not table_name:
            raise ValueError("table_name is required (the rate-limit DynamoDB table)")
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._table = table_name
        self._client = client
        self._clock = clock

    def read(self, key: str) -> BucketState | None:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        learned_rate = item.get("learned_rate")
        learned_burst = item.get("learned_burst")
        return BucketState(
            key=key,
            tat=float(item["tat"]["N"]),
            version=int(item["version"]["N"]),
            learned_rate=float(learned_rate["N"]) if learned_rate else None,
            learned_burst=int(learned_burst["N"]) if learned_burst else None,
        )

    def reserve(self, key: str, *, rate: float, burst: int, max_wait: float) -> Reservation:
        """Take the next slot of `key` if it comes within `max_wait` seconds.

        `rate` (requests/s) and `burst` are the plan's numbers; a rate learned from Amazon's
        `x-amzn-RateLimit-Limit` header (see `learn`) takes precedence over them.
        Raises RateBudgetExceeded (nothing reserved) when the slot is too far away.
        """
        if rate <= 0 or burst < 1:
            raise ValueError(f"bucket {key!r}: rate must be > 0 and burst >= 1")
        client_error = self._client.exceptions.ConditionalCheckFailedException
        for _ in range(_MAX_CONFLICTS):
            state = self.read(key)
            effective_rate = state.learned_rate if state and state.learned_rate else rate
            effective_burst = state.learned_burst if state and state.learned_burst else burst
            interval = 1.0 / effective_rate
            tolerance = (effective_burst - 1) * interval
            now = self._clock()
            tat = state.tat if state else now
            wait = tat - tolerance - now
            wait = 0.0 if wait < _EPSILON else wait
            if wait > max_wait:
                raise RateBudgetExceeded(key, wait)
            new_tat = max(tat, now) + interval
            try:
                self._write_tat(key, new_tat, state)
            except client_error:
                continue
            return Reservation(key, wait, effective_rate, effective_burst)
        raise BucketContention(f"rate limit bucket {key!r}: {_MAX_CONFLICTS} lost races in a row")

    def _write_tat(self, key: str, new_tat: float, state: BucketState | None) -> None:
        if state is None:
            self._client.put_item(
                TableName=self._table,
                Item={"pk": {"S": key}, "tat": _number(new_tat), "version": {"N": "1"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET tat = :tat, version = :next",
            ConditionExpression="version = :seen",
            ExpressionAttributeValues={
                ":tat": _number(new_tat),
                ":next": {"N": str(state.version + 1)},
                ":seen": {"N": str(state.version)},
            },
        )

    def learn(self, key: str, rate: float, burst: int | None = None) -> None:
        """Record the rate Amazon says applies (its header wins over the plan's table)."""
        if rate <= 0:
            raise ValueError(f"bucket {key!r}: a learned rate must be > 0, got {rate}")
        values: dict[str, dict[str, str]] = {
            ":rate": _number(rate),
            ":long_ago": _number(0),
            ":first": {"N": "0"},
        }
        expression = "SET learned_rate = :rate, tat = if_not_exists(tat, :long_ago)"
        expression += ", version = if_not_exists(version, :first)"
        if burst is not None:
            values[":burst"] = {"N": str(burst)}
            expression += ", learned_burst = :burst"
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": key}},
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )
