"""Daily rollups in the orders table: per seller account and UTC day an order was received,
the figures the console's Today page shows, kept by the order writes themselves.

Reading 30 days of orders to count them took the Today page 24 s at 10,000 orders; reading
30 rollup items takes one BatchGetItem. An item `daily#<account>#<YYYY-MM-DD>` holds:
the counts (received, shipped, compensated, declined, as `contribution` defines each), and
per currency the sum of captured and of refunded minor units with the number of orders that
have such money (so a currency whose amounts sum to zero still shows, as it does when the
orders themselves are summed).

Each order adds its `contribution` to the item of its received day. Every write of an order
item (store/orders.py) works out the contribution before and after; when it changes, the
difference is ADDed to the rollup in the same TransactWriteItems as the order's conditional
Put, so a refused condition writes neither and the rollup never drifts from the orders. A
`writes` counter moves on each such ADD: `rebuild` (the backfill for orders written before
rollups existed) SETs its totals only if no write landed while it was counting.

The key cannot meet another item kind: order items are `order#...`, the others `payment#`,
`sfo#`, `intake#`, `amazon-order#`, `inventory#`; and a rollup carries none of the indexes'
attributes (`account`, `heldVendor`, ...), so no index ever sees one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import TYPE_CHECKING, Any

from opayo_fba.model import OrderStatus

if TYPE_CHECKING:
    from opayo_fba.store.orders import OrderRecord

DAILY_ROLLUP_KEY_PREFIX = "daily#"
ROLLUP_ACCOUNT_ATTRIBUTE = "rollupAccount"
ROLLUP_DAY_ATTRIBUTE = "rollupDay"
ROLLUP_WRITES_ATTRIBUTE = "writes"
COUNTS = ("received", "shipped", "compensated", "declined")
# Outcomes that mean Opayo declined the payment: nothing was done, so nothing was undone.
DECLINED_OUTCOMES = frozenset({"payment_declined"})
# Per currency, `<kind>#<ISO 4217>` is the sum of minor units, `<kind>Orders#<ISO>` how
# many orders have that money.
MONEY_KINDS = ("captured", "refunded")
BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit
MAX_BATCH_ATTEMPTS = 5


def rollup_key(seller_account: str, day: date) -> dict[str, str]:
    """The rollup item's key. The day is the fixed-length tail, so an account name holding
    `#` still gives one key per (account, day)."""
    return {"pk": f"{DAILY_ROLLUP_KEY_PREFIX}{seller_account}#{day.isoformat()}"}


def shipped(record: OrderRecord) -> bool:
    """Amazon has shipped at least one package of the order."""
    fulfillment = record.fulfillment
    return fulfillment is not None and any(s.packages for s in fulfillment.shipments)


def declined(record: OrderRecord) -> bool:
    """Opayo declined or rejected the payment."""
    return record.status is OrderStatus.PAYMENT_FAILED or record.outcome in DECLINED_OUTCOMES


def compensated(record: OrderRecord) -> bool:
    """The saga undid what it had done and recorded why; a decline is not also counted here."""
    return record.outcome is not None and not declined(record)


@dataclass(frozen=True)
class Contribution:
    """What one order adds to the rollup of its account and received day."""

    seller_account: str
    day: date
    counts: tuple[tuple[str, int], ...]
    money: tuple[tuple[str, str, int], ...]
    """(kind, currency, minor units) for each money the order has."""


def contribution(record: OrderRecord) -> Contribution:
    """The order's part of its day's rollup: a pure function of the record, so the writers
    can compare it before and after a change."""
    counts = {
        "received": 1,
        "shipped": int(shipped(record)),
        "compensated": int(compensated(record)),
        "declined": int(declined(record)),
    }
    money = [
        (kind, amount.currency, amount.amount)
        for kind, amount in (("captured", record.captured), ("refunded", record.refunded))
        if amount is not None
    ]
    return Contribution(
        seller_account=record.seller_account,
        day=record.received_at().astimezone(UTC).date(),
        counts=tuple((name, value) for name, value in counts.items() if value),
        money=tuple(money),
    )


def _attributes(part: Contribution) -> Counter[str]:
    """The rollup attributes `part` adds to, with how much."""
    added: Counter[str] = Counter(dict(part.counts))
    for kind, currency, minor in part.money:
        added[f"{kind}#{currency}"] += minor
        added[f"{kind}Orders#{currency}"] += 1
    return added


def rollup_changes(
    before: Contribution | None, after: Contribution
) -> dict[tuple[str, date], dict[str, int]]:
    """Per (account, day), the non-zero amounts to ADD so that the rollups hold `after`
    instead of `before` (None: the order is new). Empty when nothing changed: the writer
    then needs no transaction. Two days when a change moved the order's received day."""
    changes: dict[tuple[str, date], Counter[str]] = {}
    changes.setdefault((after.seller_account, after.day), Counter()).update(_attributes(after))
    if before is not None:
        changes.setdefault((before.seller_account, before.day), Counter()).subtract(
            _attributes(before)
        )
    return {
        where: {name: value for name, value in sorted(delta.items()) if value}
        for where, delta in changes.items()
        if any(delta.values())
    }


def rollup_updates(table_name: str, before: Contribution | None, after: Contribution) -> list[Any]:
    """The TransactWriteItems `Update` actions that apply `rollup_changes(before, after)`."""
    updates = []
    for (account, day), delta in rollup_changes(before, after).items():
        names = {"#writes": ROLLUP_WRITES_ATTRIBUTE}
        values: dict[str, Any] = {":one": 1, ":account": account, ":day": day.isoformat()}
        adds = ["#writes :one"]
        for n, (name, value) in enumerate(delta.items()):
            names[f"#a{n}"] = name
            values[f":a{n}"] = value
            adds.append(f"#a{n} :a{n}")
        updates.append(
            {
                "Update": {
                    "TableName": table_name,
                    "Key": rollup_key(account, day),
                    "UpdateExpression": (
                        f"SET {ROLLUP_ACCOUNT_ATTRIBUTE} = :account, "
                        f"{ROLLUP_DAY_ATTRIBUTE} = :day ADD {', '.join(adds)}"
                    ),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        )
    return updates


@dataclass(frozen=True)
class DailyTotals:
    """One account's rollup for one UTC day, as read back (zeros for a day with no item)."""

    seller_account: str
    day: date
    counts: Mapping[str, int] = field(default_factory=dict)
    money: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """(kind, currency) -> (minor units, orders)."""
    writes: int = 0

    def count(self, name: str) -> int:
        return self.counts.get(name, 0)

    def is_empty(self) -> bool:
        """No order counts in it."""
        return not any(self.counts.values()) and not self.money


def totals_from_item(item: Mapping[str, Any]) -> DailyTotals:
    """A rollup item as boto3 returns it (numbers as Decimal)."""
    # Zeros are left out (a count ADDed up and down again, a backfill's SET), so that two
    # rollups of the same orders compare equal however they were written.
    counts = {name: int(item[name]) for name in COUNTS if int(item.get(name, 0))}
    money: dict[tuple[str, str], tuple[int, int]] = {}
    for name in item:
        kind, _, currency = str(name).partition("#")
        kind = kind.removesuffix("Orders")
        if kind in MONEY_KINDS and currency:
            # A zero amount is never ADDed, so an order count may stand without its sum.
            minor = item.get(f"{kind}#{currency}", 0)
            orders = item.get(f"{kind}Orders#{currency}", 0)
            if int(minor) or int(orders):
                money[(kind, currency)] = (int(minor), int(orders))
    return DailyTotals(
        seller_account=str(item[ROLLUP_ACCOUNT_ATTRIBUTE]),
        day=date.fromisoformat(str(item[ROLLUP_DAY_ATTRIBUTE])),
        counts=counts,
        money=money,
        writes=int(item.get(ROLLUP_WRITES_ATTRIBUTE, 0)),
    )


def totals_of(seller_account: str, day: date, records: Iterable[OrderRecord]) -> DailyTotals:
    """What the rollup of (`seller_account`, `day`) should hold, from the orders themselves
    (those of another account or day are left out): the backfill's figures."""
    added: Counter[str] = Counter()
    for record in records:
        part = contribution(record)
        if (part.seller_account, part.day) == (seller_account, day):
            added.update(_attributes(part))
    money: dict[tuple[str, str], tuple[int, int]] = {}
    for name, value in added.items():
        kind, _, currency = name.partition("#")
        if kind in MONEY_KINDS and currency:
            money[(kind, currency)] = (value, added[f"{kind}Orders#{currency}"])
    return DailyTotals(
        seller_account=seller_account,
        day=day,
        counts={name: added[name] for name in COUNTS if added[name]},
        money=money,
    )


def item_of(totals: DailyTotals, writes: int) -> dict[str, Any]:
    """The whole rollup item for `totals`, as the backfill Puts it."""
    item: dict[str, Any] = {
        **rollup_key(totals.seller_account, totals.day),
        ROLLUP_ACCOUNT_ATTRIBUTE: totals.seller_account,
        ROLLUP_DAY_ATTRIBUTE: totals.day.isoformat(),
        ROLLUP_WRITES_ATTRIBUTE: writes,
        **{name: totals.count(name) for name in COUNTS},
    }
    for (kind, currency), (minor, orders) in totals.money.items():
        item[f"{kind}#{currency}"] = minor
        item[f"{kind}Orders#{currency}"] = orders
    return item


class DailyRollupStore:
    """Reads the rollups, and replaces one wholesale for the backfill (the live writes are
    OrderStore's, in the orders' own transactions)."""

    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource of the orders table."""
        self._table = table

    def days(self, seller_account: str, first: date, last: date) -> list[DailyTotals]:
        """The rollup of every day from `first` to `last` (both included), oldest first; a
        day no order was received on is all zeros. BatchGetItem, read consistently, 100 keys a
        request; keys DynamoDB leaves unprocessed are asked again, a bounded number of times,
        then read one by one."""
        wanted = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        client = self._table.meta.client
        name = self._table.name
        found: dict[date, DailyTotals] = {}
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            chunk = wanted[start : start + BATCH_GET_KEYS]
            pending = [rollup_key(seller_account, day) for day in chunk]
            for _ in range(MAX_BATCH_ATTEMPTS):
                if not pending:
                    break
                reply = client.batch_get_item(
                    RequestItems={name: {"Keys": pending, "ConsistentRead": True}}
                )
                for item in reply.get("Responses", {}).get(name, []):
                    totals = totals_from_item(item)
                    found[totals.day] = totals
                pending = reply.get("UnprocessedKeys", {}).get(name, {}).get("Keys", [])
            for key in pending:  # DynamoDB kept refusing them: one at a time
                item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
                if item is not None:
                    totals = totals_from_item(item)
                    found[totals.day] = totals
        return [found.get(day, DailyTotals(seller_account, day)) for day in wanted]

    def day(self, seller_account: str, day: date) -> DailyTotals | None:
        """One day's rollup, read consistently; None if no order ever counted in it."""
        item = self._table.get_item(Key=rollup_key(seller_account, day), ConsistentRead=True)
        return totals_from_item(item["Item"]) if "Item" in item else None

    def replace(self, totals: DailyTotals, seen: DailyTotals | None) -> bool:
        """SET the rollup to `totals`, only if it is still as `seen` was read (None: there was
        none): a write of an order in between moved its `writes` counter, and this is refused
        (False) so that the caller counts again instead of undoing that write."""
        from botocore.exceptions import ClientError

        if seen is None and totals.is_empty():
            return True  # a day without orders needs no item
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if seen is None
            else {
                "ConditionExpression": "#writes = :seen",
                "ExpressionAttributeNames": {"#writes": ROLLUP_WRITES_ATTRIBUTE},
                "ExpressionAttributeValues": {":seen": seen.writes},
            }
        )
        writes = (seen.writes if seen is not None else 0) + 1
        try:
            self._table.put_item(Item=item_of(totals, writes), **condition)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
