"""Token buckets shared by every concurrent Lambda instance, kept in one DynamoDB table.

One item per bucket (e.g. one seller account's createFulfillmentOrder budget). The item holds
the bucket as a GCRA "theoretical arrival time" (`tat`): the moment the bucket would be full
again if nobody called. A caller *reserves* the next free slot and then waits until its slot
comes; reservations are handed out in order, so N callers together send at exactly the plan's
rate after the burst is spent, and nobody sends early.

GCRA with rate r and burst b: T = 1/r, tolerance tau = (b - 1) * T. A call at `now` may go at
`max(now, tat - tau)` and moves the bucket to `tat' = max(tat, now) + T`.

A reservation is ONE atomic, conditional UpdateItem, with no read before it:
  - busy bucket (tat >= now): `SET tat = tat + T` if `now <= tat <= now + tau + max_wait`;
  - idle bucket (tat < now, or no item yet): `SET tat = now + T` if `tat < now`.
DynamoDB applies updates to one item one at a time, so concurrent callers never share a slot
and never retry because of each other (an optimistic read-modify-write would make N callers
spend O(N^2) requests per N slots). Only a refusal costs a read, to say how long to wait.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]

# Rounds of (busy, idle) attempts before giving up; two are enough unless the clock jumps.
_MAX_ROUNDS = 20
# Float sums of 1/rate drift by ~1e-12; a "wait" below a microsecond is no wait at all.
_EPSILON = 1e-6


class RateBudgetExceeded(Exception):
    """The next free slot is further away than the caller can wait."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"rate limit bucket {key!r}: next slot in {retry_after:.2f}s")
        self.key = key
        self.retry_after = retry_after


class BucketContention(Exception):
    """The bucket kept changing under us (a clock far out of step); try again later."""


@dataclass(frozen=True)
class Reservation:
    """A slot granted to the caller: send after `wait_seconds`, at the bucket's `rate`."""

    key: str
    wait_seconds: float
    rate: float
    burst: int
    tat: float | None = None
    """The bucket's `tat` as this reservation left it (None for an idle-bucket slot)."""


@dataclass(frozen=True)
class BucketState:
    key: str
    tat: float
    learned_rate: float | None
    learned_burst: int | None


def _number(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


def _learned(item: dict[str, Any]) -> tuple[float | None, int | None]:
    rate = item.get("learned_rate")
    burst = item.get("learned_burst")
    return (float(rate["N"]) if rate else None, int(burst["N"]) if burst else None)


KEY_PREFIX = "ratelimit#"


class TokenBucketTable:
    """Reads and reserves slots in the shared buckets table.

    The table is the connector-state table (string keys `pk` and `sk`): a bucket named
    "<scope>#<name>" (e.g. "A1SELLER#createFulfillmentOrder") is the item
    `pk = "ratelimit#<scope>"`, `sk = "<name>"`. Pass `sort_key=None` for a table keyed on
    `pk` alone. `clock` returns epoch seconds; every instance must use the same time base
    (the wall clock in production; benchmarks pass the sandbox's scaled clock).
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        clock: Clock = time.time,
        sort_key: str | None = "sk",
    ) -> None:
        if not table_name:
            raise ValueError("table_name is required (the rate-limit DynamoDB table)")
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._table = table_name
        self._client = client
        self._clock = clock
        self._sort_key = sort_key
        # Rates Amazon announced, as last seen on the item: (rate, burst) per bucket.
        self._learned: dict[str, tuple[float | None, int | None]] = {}

    def _item_key(self, key: str) -> dict[str, dict[str, str]]:
        if self._sort_key is None:
            return {"pk": {"S": KEY_PREFIX + key}}
        scope, _, name = key.rpartition("#")
        return {"pk": {"S": KEY_PREFIX + (scope or key)}, self._sort_key: {"S": name or "bucket"}}

    def read(self, key: str) -> BucketState | None:
        response = self._client.get_item(
            TableName=self._table, Key=self._item_key(key), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        learned_rate, learned_burst = _learned(item)
        return BucketState(
            key=key,
            tat=float(item["tat"]["N"]),
            learned_rate=learned_rate,
            learned_burst=learned_burst,
        )

    def reserve(self, key: str, *, rate: float, burst: int, max_wait: float) -> Reservation:
        """Take the next slot of `key` if it comes within `max_wait` seconds.

        `rate` (requests/s) and `burst` are the plan's numbers; a rate learned from Amazon's
        `x-amzn-RateLimit-Limit` header (see `learn`) takes precedence over them.
        Raises RateBudgetExceeded (nothing reserved) when the slot is too far away.
        """
        if rate <= 0 or burst < 1:
            raise ValueError(f"bucket {key!r}: rate must be > 0 and burst >= 1")
        failed = self._client.exceptions.ConditionalCheckFailedException
        for _ in range(_MAX_ROUNDS):
            learned_rate, learned_burst = self._learned.get(key, (None, None))
            effective_rate = learned_rate or rate
            effective_burst = learned_burst or burst
            interval = 1.0 / effective_rate
            tolerance = (effective_burst - 1) * interval
            now = self._clock()
            try:
                item = self._update(
                    key,
                    "SET tat = tat + :interval",
                    "tat >= :now AND tat <= :latest",
                    {
                        ":interval": _number(interval),
                        ":now": _number(now),
                        ":latest": _number(now + tolerance + max(0.0, max_wait) + _EPSILON),
                    },
                )
            except failed:
                pass
            else:
                self._learned[key] = _learned(item)
                previous_tat = float(item["tat"]["N"]) - interval
                wait = previous_tat - tolerance - now
                wait = 0.0 if wait < _EPSILON else wait
                return Reservation(
                    key, wait, effective_rate, effective_burst, tat=float(item["tat"]["N"])
                )
            try:
                item = self._update(
                    key,
                    "SET tat = :next",
                    "attribute_not_exists(tat) OR tat < :now",
                    {":next": _number(now + interval), ":now": _number(now)},
                )
            except failed:
                pass
            else:
                self._learned[key] = _learned(item)
                return Reservation(key, 0.0, effective_rate, effective_burst)
            state = self.read(key)
            if state is not None:
                self._learned[key] = (state.learned_rate, state.learned_burst)
                wait = state.tat - tolerance - now
                if wait > max_wait + _EPSILON:
                    raise RateBudgetExceeded(key, wait)
            # Otherwise the bucket moved between our two updates; try again.
        raise BucketContention(f"rate limit bucket {key!r}: no slot after {_MAX_ROUNDS} rounds")

    def _update(
        self, key: str, update: str, condition: str, values: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        response = self._client.update_item(
            TableName=self._table,
            Key=self._item_key(key),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        attributes: dict[str, Any] = response["Attributes"]
        return attributes

    def release(self, reservation: Reservation) -> bool:
        """Give back a slot the caller will not use; True when it was given back.

        Only the last slot handed out can go back (nobody reserved after it: the bucket's
        `tat` is still the one this reservation set); a slot with later ones behind it stays
        spent, which only makes the schedule more conservative.
        """
        if reservation.tat is None:
            return False
        try:
            self._update(
                reservation.key,
                "SET tat = tat - :interval",
                "tat = :ours",
                {":interval": _number(1.0 / reservation.rate), ":ours": _number(reservation.tat)},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def drain(self, key: str, *, rate: float, burst: int) -> None:
        """Empty the bucket now: the provider said 429, so its bucket for us is empty.

        Our schedule may have run ahead of the provider's (its bucket started later, or
        another client spends the same quota); afterwards the next slot is one interval away
        and the bucket refills from there, in step with the provider again.
        """
        learned_rate, learned_burst = self._learned.get(key, (None, None))
        interval = 1.0 / (learned_rate or rate)
        tolerance = ((learned_burst or burst) - 1) * interval
        empty = self._clock() + tolerance + interval
        # A failed condition means the bucket is already as empty as that, or emptier.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._update(
                key,
                "SET tat = :empty",
                "attribute_not_exists(tat) OR tat < :empty",
                {":empty": _number(empty)},
            )

    def learn(self, key: str, rate: float, burst: int | None = None) -> None:
        """Record the rate Amazon says applies (its header wins over the plan's table)."""
        if rate <= 0:
            raise ValueError(f"bucket {key!r}: a learned rate must be > 0, got {rate}")
        values: dict[str, dict[str, str]] = {":rate": _number(rate), ":long_ago": _number(0)}
        expression = "SET learned_rate = :rate, tat = if_not_exists(tat, :long_ago)"
        if burst is not None:
            values[":burst"] = {"N": str(burst)}
            expression += ", learned_burst = :burst"
        self._client.update_item(
            TableName=self._table,
            Key=self._item_key(key),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )
        previous_burst = self._learned.get(key, (None, None))[1]
        self._learned[key] = (rate, burst if burst is not None else previous_burst)
