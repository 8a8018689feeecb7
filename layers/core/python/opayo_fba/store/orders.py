"""The orders table: one item per order, the saga's source of truth.

An item holds the canonical order and everything the integration learnt about it (payment,
fulfillment order, refunds, outcome) as one JSON document, plus the few attributes DynamoDB
must see: `pk`, `vendorTxCode` (for the by-vendor-tx-code index the webhook uses), `status` and
`version`. Every write is conditional on the version read, so two Lambdas that race on one
order never overwrite each other: the loser re-reads and re-applies its change.

A payment that arrives before its order (an Opayo notification can beat the shop's POST) is
parked under `payment#<vendorTxCode>` and joined when the order comes.

Each order also counts in the daily rollup of its seller account and received day
(store/daily_rollup.py, what the console's Today page reads): every write of an order item
goes through `_write`, which ADDs the change of the order's figures to that rollup in the
same transaction as the order's conditional Put, or makes the plain Put when they did not move.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import CardPaymentAbandoned, ConflictError, NotFoundError
from opayo_fba.model import (
    FbaFulfillmentOrderStatus,
    FulfillmentOrder,
    FulfillmentState,
    Money,
    Order,
    OrderStatus,
    PackageTracking,
    PackageTrackingStatus,
    PaymentState,
    PaymentTransaction,
    Refund,
    RefundLine,
    RefundState,
    TransactionType,
    sum_money,
)
from opayo_fba.model.fulfillment import ReturnAuthorization
from opayo_fba.model.three_d_secure import ThreeDSecureChallenge
from opayo_fba.store.daily_rollup import Contribution, contribution, rollup_updates

ORDER_KEY_PREFIX = "order#"
PARKED_PAYMENT_KEY_PREFIX = "payment#"
FULFILLMENT_LINK_KEY_PREFIX = "sfo#"
# A card payment we asked Opayo for, kept until its order is stored (store.begin_card_intake).
CARD_INTAKE_KEY_PREFIX = "intake#"
# Orders with a refund written down and not yet answered by Opayo, in the same sparse index
# under `refund#<vendor>` (a refund needs a capture, so such an order holds no authorisation).
PENDING_REFUND_PREFIX = "refund#"
VENDOR_TX_CODE_INDEX = "by-vendor-tx-code"
# A sparse index of Deferred authorisations still held (authorised, not captured): its keys
# are written only while that is so, so a query reads just those orders, oldest first.
HELD_AUTHORISATIONS_INDEX = "by-held-authorisation"
HELD_VENDOR_ATTRIBUTE = "heldVendor"
HELD_SINCE_ATTRIBUTE = "heldSince"
# A sparse index of orders with something to follow after the sale, by seller account and
# the time of their next check (OrderRecord.follow_up_at).
FOLLOW_UP_INDEX = "by-follow-up"
FOLLOW_ACCOUNT_ATTRIBUTE = "followAccount"
FOLLOW_AT_ATTRIBUTE = "followAt"
# Every order by seller account and the time we received it, with its status and marketplace
# projected, so that `opayo-fba status` counts a period's orders with a Query, never a Scan.
# Only order items carry these keys (not parked payments, links or card-intake notes).
ACCOUNT_INDEX = "by-account"
ACCOUNT_ATTRIBUTE = "account"
RECEIVED_AT_ATTRIBUTE = "receivedAt"
MARKETPLACE_ATTRIBUTE = "marketplaceId"
# Sparse: the orders whose customer gave an e-mail, by a hash of it (never the address).
EMAIL_INDEX = "by-customer-email"
EMAIL_HASH_ATTRIBUTE = "customerEmailHash"
MAX_UPDATE_ATTEMPTS = 5
# A transaction cancelled for another on the same items waits up to this, doubled each time.
CONFLICT_BACK_OFF_SECONDS = 0.02
BATCH_GET_KEYS = 100  # DynamoDB's BatchGetItem limit

PaymentSource = Literal["pi", "server"]


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    at: datetime
    event: str
    detail: str | None = None


class OrderReturn(BaseModel):
    """A return the shop asked for (after_sale/returns.py): its units, Amazon's RMA, receipt."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    return_id: str
    lines: tuple[RefundLine, ...]
    reason_code: str
    item_ids: tuple[str, ...]
    """The sellerReturnItemIds sent to Amazon, one per unit."""
    authorizations: tuple[ReturnAuthorization, ...] = ()
    requested_at: datetime
    received_at: datetime | None = None
    conditions: tuple[str, ...] = ()
    """Each unit's returnReceivedCondition, once received."""


RepeatChargeStatus = Literal["pending", "taken", "declined", "cancelled"]


class RepeatCharge(BaseModel):
    """A Pi Repeat a resubmitted order is to be charged with, written down before Opayo is
    asked (saga/resubmit.py), so that every step and compensation can look it up under its
    vendorTxCode. It is taken by CapturePayment, after Amazon has said it can fulfil."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    vendor_tx_code: str
    reference_transaction_id: str
    amount: Money
    status: RepeatChargeStatus = "pending"
    detail: str | None = None


class OrderAttempt(BaseModel):
    """An earlier try at fulfilling the order, kept when the order is resubmitted
    (saga/resubmit.py): its fulfillment order, its payment and what became of the money."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    attempt: int
    seller_fulfillment_order_id: str | None = None
    fulfillment_status: str | None = None
    outcome: str | None = None
    payment: PaymentTransaction | None = None
    captured: Money | None = None
    refunds: tuple[Refund, ...] = ()
    saga_execution: str | None = None
    resubmit_id: str | None = None
    ended_at: datetime


PRIVATE_FIELDS = frozenset({"server_security_key_sealed", "fulfillment_request", "saga_task_token"})
"""What an order record keeps from the API (`public_view`, api.views.OrderView)."""


class OrderRecord(BaseModel):
    """Everything the integration knows about one order."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    order: Order
    # The order as the shop or ERP sent it, for the merchant's mapping templates.
    source: dict[str, Any] | None = None
    vendor: str | None = None
    seller_account: str
    payment: PaymentTransaction | None = None
    # For the Server integration: the SecurityKey Opayo returned at registration, needed to
    # verify its notifications, sealed with KMS (store/sealed.py): never kept in clear,
    # never logged, never returned.
    server_security_key_sealed: str | None = Field(default=None, repr=False)
    # A 3-D Secure challenge Opayo asked for on a `pi_card` payment (intake/three_d_secure.py).
    three_d_secure: ThreeDSecureChallenge | None = None
    fulfillment_request: dict[str, Any] | None = None
    fulfillment: FulfillmentOrder | None = None
    fulfillment_status: str | None = None
    captured: Money | None = None
    refunds: list[Refund] = Field(default_factory=list)
    cancel_requested: bool = False
    # The merchant's cancellation was accepted, then Amazon refused the saga's cancel (the
    # fulfillment order had moved on to Processing): the order ships, and the shop sees this.
    cancel_refused: bool = False
    outcome: str | None = None
    status: OrderStatus = OrderStatus.RECEIVED
    saga_execution: str | None = None
    # The task token of the saga's wait for Amazon: whoever learns the fulfillment status
    # first (an SP-API notification, the merchant's cancellation) resumes the saga with it.
    saga_task_token: str | None = Field(default=None, repr=False)
    # When the after-sale tracker should next look at this order (a parcel not delivered
    # yet, a return not received yet); None when there is nothing left to follow.
    follow_up_at: datetime | None = None
    # What the carrier last said of each package (after_sale/tracking.py).
    packages: list[PackageTracking] = Field(default_factory=list)
    returns: list[OrderReturn] = Field(default_factory=list)
    # The saga's try at this order: 1, then one more for each resubmission of an order Amazon
    # could not fulfil; the earlier ones are kept, newest last, with their money.
    attempt: int = 1
    resubmit_id: str | None = None
    repeat_charge: RepeatCharge | None = None
    previous_attempts: list[OrderAttempt] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    version: int = 0

    @property
    def order_id(self) -> str:
        return str(self.order.order_id)

    @property
    def refunded(self) -> Money | None:
        done = [r.amount for r in self.refunds if r.status == "succeeded"]
        return sum_money(done, done[0].currency) if done else None

    def refresh_status(self) -> None:
        """Derive the canonical status from what we know: the one rule everyone uses."""
        from opayo_fba.convert.harmonise import order_status, refund_state

        payment = self.payment.state if self.payment is not None else None
        if payment is PaymentState.AUTHORISED and self.captured is not None:
            payment = PaymentState.CAPTURED
        fulfillment: FbaFulfillmentOrderStatus | FulfillmentState | None = (
            FbaFulfillmentOrderStatus(self.fulfillment_status) if self.fulfillment_status else None
        )
        if any(r.received_at for r in self.returns) or any(
            p.current_status is PackageTrackingStatus.RETURNED for p in self.packages
        ):
            fulfillment = FulfillmentState.RETURNED  # a return received, a parcel sent back
        elif self.all_delivered():
            fulfillment = FulfillmentState.DELIVERED
        refunds = refund_state(self.refunds, self.captured) if self.captured else RefundState.NONE
        self.status = order_status(payment, fulfillment, refunds)

    def held_since(self) -> datetime | None:
        """When Opayo began holding this order's Deferred authorisation, while it still does.

        Opayo's own creation time when we have it, else when we first recorded the order,
        else when the order was placed.
        """
        payment = self.payment
        if (
            payment is None
            or payment.transaction_type is not TransactionType.DEFERRED
            or payment.state is not PaymentState.AUTHORISED
            or self.captured is not None
        ):
            return None
        if payment.created_at is not None:
            return payment.created_at
        return self.history[0].at if self.history else self.order.placed_at

    def received_at(self) -> datetime:
        """When we received the order: the first entry of its history (intake writes
        "received" before the first store), else, for a record without one, when it was placed.
        """
        return self.history[0].at if self.history else self.order.placed_at

    def all_delivered(self) -> bool:
        """Every package of every shipment delivered, as its tracking says."""
        numbers = package_numbers(self)
        delivered = {
            p.package_number
            for p in self.packages
            if p.current_status is PackageTrackingStatus.DELIVERED
        }
        return bool(numbers) and set(numbers) <= delivered

    def refund_pending_since(self) -> datetime | None:
        """When the oldest refund still waiting for Opayo's answer was written down."""
        pending = [
            r.requested_at or self.order.placed_at for r in self.refunds if r.status == "pending"
        ]
        return min(pending) if pending else None

    def note(self, event: str, detail: str | None = None) -> None:
        self.history.append(HistoryEntry(at=datetime.now(UTC), event=event, detail=detail))

    def public_view(self) -> dict[str, Any]:
        """What `GET /orders/{id}` shows: no security key, no internal request bodies."""
        return self.model_dump(mode="json", exclude=set(PRIVATE_FIELDS))


_HEX_AS_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def email_hash(email: str) -> str:
    """The e-mail index's key of an address: SHA-256 of it trimmed and lower-cased (the
    domain is case-insensitive, and no shop we know of tells two customers apart by the
    case of the local part)."""
    import hashlib

    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    # Spelt in the letters a-p, not hex: a run of hex digits can pass the Luhn check and be
    # taken for a card number by every scan for one (the soak's, the logs').
    return digest.translate(_HEX_AS_LETTERS)


FIRST_FILTERED_READ_FACTOR = 2
"""A filtered list's first read: this many index items per order its page needs."""
FILTERED_READ_FACTOR = 8
"""At most this many index items per order its page still needs, in a later read."""
MAX_FILTERED_READ = 400


def filtered_read_size(wanted: int, read: int, kept: int) -> int:
    """How many index items a filtered list reads next for the `wanted` orders its page
    still needs, having read `read` items and kept `kept` so far. The first read assumes
    half pass the filter; a later one reads as many as the share kept so far says the page
    needs (at least 1 in FILTERED_READ_FACTOR assumed), up to MAX_FILTERED_READ. A common
    status is then one small read, a rare one a few large ones."""
    if read == 0:
        return min(wanted * FIRST_FILTERED_READ_FACTOR, MAX_FILTERED_READ)
    share = max(kept / read, 1 / FILTERED_READ_FACTOR)
    return max(wanted, min(math.ceil(wanted / share), MAX_FILTERED_READ))


def account_index_key(record: OrderRecord) -> dict[str, str]:
    """The by-account index's key of `record`'s item: a Query's ExclusiveStartKey that
    resumes just after it (the console's list of every account resumes each account there)."""
    return {
        "pk": ORDER_KEY_PREFIX + record.order_id,
        ACCOUNT_ATTRIBUTE: record.seller_account,
        RECEIVED_AT_ATTRIBUTE: _sortable(record.received_at()),
    }


def package_numbers(record: OrderRecord) -> list[int]:
    """Every package of the order's shipments, in shipment order."""
    if record.fulfillment is None:
        return []
    return [
        package.package_number
        for shipment in record.fulfillment.shipments
        for package in shipment.packages
    ]


class OrderStore:
    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource."""
        self._table = table

    @property
    def table(self) -> Any:
        """The boto3 Table, for the other stores that share the orders table."""
        return self._table

    @classmethod
    def from_table_name(cls, name: str) -> OrderStore:
        import boto3

        return cls(boto3.resource("dynamodb").Table(name))

    @staticmethod
    def _key(order_id: str) -> dict[str, str]:
        return {"pk": ORDER_KEY_PREFIX + order_id}

    def _item(self, record: OrderRecord) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._key(record.order_id),
            "status": record.status.value,
            "version": record.version,
            "record": record.model_dump_json(),
            ACCOUNT_ATTRIBUTE: record.seller_account,
            RECEIVED_AT_ATTRIBUTE: _sortable(record.received_at()),
        }
        if record.order.marketplace_id is not None:
            item[MARKETPLACE_ATTRIBUTE] = str(record.order.marketplace_id)
        if record.payment is not None:
            item["vendorTxCode"] = record.payment.vendor_tx_code
        customer = record.order.customer
        if customer is not None and customer.email:
            item[EMAIL_HASH_ATTRIBUTE] = email_hash(str(customer.email))
        held = record.held_since()
        refund_pending = record.refund_pending_since()
        if held is not None and record.vendor:
            item[HELD_VENDOR_ATTRIBUTE] = record.vendor
            item[HELD_SINCE_ATTRIBUTE] = _sortable(held)
        elif refund_pending is not None and record.vendor:
            item[HELD_VENDOR_ATTRIBUTE] = PENDING_REFUND_PREFIX + record.vendor
            item[HELD_SINCE_ATTRIBUTE] = _sortable(refund_pending)
        if record.follow_up_at is not None:
            item[FOLLOW_ACCOUNT_ATTRIBUTE] = record.seller_account
            item[FOLLOW_AT_ATTRIBUTE] = _sortable(record.follow_up_at)
        return item

    def due_for_follow_up(self, seller_account: str, now: datetime) -> Iterator[OrderRecord]:
        """Orders of `seller_account` whose next after-sale check is due: a Query of the
        sparse follow-up index, longest-waiting first."""
        from boto3.dynamodb.conditions import Key

        due = Key(FOLLOW_AT_ATTRIBUTE).lte(_sortable(now))
        for key in self._index_keys(FOLLOW_UP_INDEX, FOLLOW_ACCOUNT_ATTRIBUTE, seller_account, due):
            # The index is eventually consistent: read the item itself, then re-check.
            record = self.find(key.removeprefix(ORDER_KEY_PREFIX))
            if (
                record is not None
                and record.follow_up_at is not None
                and record.follow_up_at <= now
            ):
                yield record

    def orders_by_status(
        self, seller_account: str, since: datetime
    ) -> dict[str | None, Counter[str]]:
        """How many orders of `seller_account` received since `since` are in each status, by
        marketplace (None: an order that names none). A Query of the by-account index, every
        page; the index is eventually consistent, so a write of the last second may be missing.
        """
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": ACCOUNT_INDEX,
            "KeyConditionExpression": Key(ACCOUNT_ATTRIBUTE).eq(seller_account)
            & Key(RECEIVED_AT_ATTRIBUTE).gte(_sortable(since)),
            "ProjectionExpression": "#status, #marketplace",
            "ExpressionAttributeNames": {
                "#status": "status",
                "#marketplace": MARKETPLACE_ATTRIBUTE,
            },
        }
        counts: dict[str | None, Counter[str]] = {}
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                marketplace = item.get(MARKETPLACE_ATTRIBUTE)
                key = str(marketplace) if marketplace is not None else None
                counts.setdefault(key, Counter())[str(item["status"])] += 1
            if "LastEvaluatedKey" not in page:
                return counts
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def orders_by_account(
        self,
        seller_account: str,
        *,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        status: str | None = None,
        marketplace_id: str | None = None,
        limit: int = 25,
        start_key: dict[str, str] | None = None,
        max_reads: int = 10,
    ) -> OrderPage:
        """One page of `seller_account`'s orders, newest received first, by Query of the
        by-account index (its sort key bounds the dates; status and marketplace, projected
        there, filter), then each order read from the table.

        `start_key` is the `next_key` of the page before. A filter may leave a read with few
        items, so up to `max_reads` reads are made to fill the page; `next_key` is None on the
        last page. The index is eventually consistent: an order stored in the last second
        may be missing (and each order is read consistently, as it is now).
        """
        from boto3.dynamodb.conditions import Attr, Key

        condition = Key(ACCOUNT_ATTRIBUTE).eq(seller_account)
        if received_from is not None and received_to is not None:
            condition &= Key(RECEIVED_AT_ATTRIBUTE).between(
                _sortable(received_from), _sortable(received_to)
            )
        elif received_from is not None:
            condition &= Key(RECEIVED_AT_ATTRIBUTE).gte(_sortable(received_from))
        elif received_to is not None:
            condition &= Key(RECEIVED_AT_ATTRIBUTE).lte(_sortable(received_to))
        kwargs: dict[str, Any] = {
            "IndexName": ACCOUNT_INDEX,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
        }
        filters = []
        if status is not None:
            filters.append(Attr("status").eq(status))
        if marketplace_id is not None:
            filters.append(Attr(MARKETPLACE_ATTRIBUTE).eq(marketplace_id))
        if filters:
            expression = filters[0]
            for more in filters[1:]:
                expression &= more
            kwargs["FilterExpression"] = expression
        if start_key is not None:
            kwargs["ExclusiveStartKey"] = start_key
        keys: list[dict[str, str]] = []
        next_key: dict[str, str] | None = None
        read_so_far = kept_so_far = 0
        for _ in range(max_reads):
            wanted = limit - len(keys)
            # A filter keeps some of what a Query reads (its Limit counts items before the
            # filter): read more than the page needs, sized by the share kept so far, keep
            # what the page needs, and resume just after the last one kept. Index items are
            # small (keys, status, marketplace); a round trip costs more than a few of them.
            read = filtered_read_size(wanted, read_so_far, kept_so_far) if filters else wanted
            page = self._table.query(**kwargs, Limit=max(read, wanted))
            read_so_far += int(page.get("ScannedCount", len(page.get("Items", []))))
            matched = [
                {name: str(item[name]) for name in ("pk", ACCOUNT_ATTRIBUTE, RECEIVED_AT_ATTRIBUTE)}
                for item in page.get("Items", [])
            ]
            kept_so_far += len(matched)
            keys.extend(matched[:wanted])
            last = page.get("LastEvaluatedKey")
            if len(matched) > wanted:
                next_key = dict(keys[-1])
                break
            if last is None:
                next_key = None
                break
            next_key = {name: str(value) for name, value in last.items()}
            if len(keys) >= limit:
                break
            kwargs["ExclusiveStartKey"] = last
        found = self.find_many([key["pk"].removeprefix(ORDER_KEY_PREFIX) for key in keys])
        records = [found[k["pk"]] for k in keys if k["pk"] in found]
        return OrderPage(records=records, next_key=next_key)

    def find_by_customer_email(self, email: str, limit: int = 25) -> list[OrderRecord]:
        """The newest `limit` orders whose customer gave `email` (any case), by a Query of
        the e-mail index (which holds its hash), then each read from the table."""
        from boto3.dynamodb.conditions import Key

        reply = self._table.query(
            IndexName=EMAIL_INDEX,
            KeyConditionExpression=Key(EMAIL_HASH_ATTRIBUTE).eq(email_hash(email)),
            ScanIndexForward=False,
            Limit=limit,
        )
        ids = [str(item["pk"]).removeprefix(ORDER_KEY_PREFIX) for item in reply.get("Items", [])]
        found = self.find_many(ids)
        return [found[ORDER_KEY_PREFIX + i] for i in ids if ORDER_KEY_PREFIX + i in found]

    def find_many(self, order_ids: list[str]) -> dict[str, OrderRecord]:
        """The orders of `order_ids` that exist, by key (`order#<id>`), read consistently with
        BatchGetItem (100 keys a request; what DynamoDB leaves unprocessed is asked again,
        a bounded number of times, then read one by one)."""
        found: dict[str, OrderRecord] = {}
        client = self._table.meta.client
        name = self._table.name
        unique = list(dict.fromkeys(order_ids))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            pending = [self._key(i) for i in unique[start : start + BATCH_GET_KEYS]]
            for _ in range(MAX_UPDATE_ATTEMPTS):
                if not pending:
                    break
                reply = client.batch_get_item(
                    RequestItems={name: {"Keys": pending, "ConsistentRead": True}}
                )
                for item in reply.get("Responses", {}).get(name, []):
                    record = OrderRecord.model_validate_json(item["record"])
                    record.version = int(item["version"])
                    found[str(item["pk"])] = record
                pending = reply.get("UnprocessedKeys", {}).get(name, {}).get("Keys", [])
            for key in pending:  # DynamoDB kept refusing them: one at a time
                alone = self.find(str(key["pk"]).removeprefix(ORDER_KEY_PREFIX))
                if alone is not None:
                    found[str(key["pk"])] = alone
        return found

    def held_vendors(self) -> set[str]:
        """The partitions of the sparse held-authorisation index (`held_index`'s)."""
        return set(self.held_index())

    def held_index(self) -> dict[str, list[datetime]]:
        """Every partition of the sparse held-authorisation index (a vendor, `refund#<vendor>`,
        `intake#<vendor>`) with since when each of its items is held, oldest first: one Scan
        of the index alone, every page. Its items are the orders still holding money and the
        refunds and card notes pending, not the table's orders, so one Scan of it costs what
        a Query per partition would, and a page that needs several partitions reads once."""
        kwargs: dict[str, Any] = {
            "IndexName": HELD_AUTHORISATIONS_INDEX,
            "ProjectionExpression": "#vendor, #since",
            "ExpressionAttributeNames": {
                "#vendor": HELD_VENDOR_ATTRIBUTE,
                "#since": HELD_SINCE_ATTRIBUTE,
            },
        }
        found: dict[str, list[datetime]] = {}
        while True:
            page = self._table.scan(**kwargs)
            for item in page.get("Items", []):
                found.setdefault(str(item[HELD_VENDOR_ATTRIBUTE]), []).append(
                    _from_sortable(str(item[HELD_SINCE_ATTRIBUTE]))
                )
            if "LastEvaluatedKey" not in page:
                return {partition: sorted(times) for partition, times in found.items()}
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def held_authorisations(self, vendor: str, older_than: datetime) -> Iterator[OrderRecord]:
        """Orders of `vendor` whose Deferred authorisation is held since before `older_than`.

        A Query of the sparse held-authorisation index, oldest first: it reads only the
        orders still holding money, however large the table grows.
        """
        for key in self._held_index(vendor, older_than):
            # The index is eventually consistent: read the item itself, then re-check.
            record = self.find(key.removeprefix(ORDER_KEY_PREFIX))
            held = record.held_since() if record is not None else None
            if record is not None and held is not None and held < older_than:
                yield record

    def pending_refunds(self, vendor: str, older_than: datetime) -> Iterator[OrderRecord]:
        """Orders of `vendor` with a refund written down before `older_than` that Opayo has
        not answered yet: a Query of the same sparse index, oldest first."""
        for key in self._held_index(PENDING_REFUND_PREFIX + vendor, older_than):
            record = self.find(key.removeprefix(ORDER_KEY_PREFIX))
            since = record.refund_pending_since() if record is not None else None
            if record is not None and since is not None and since < older_than:
                yield record

    def _held_index(self, held_vendor: str, older_than: datetime) -> Iterator[str]:
        """The keys under `held_vendor` in the sparse held-authorisation index, held since
        before `older_than`, oldest first, every page."""
        from boto3.dynamodb.conditions import Key

        before = Key(HELD_SINCE_ATTRIBUTE).lt(_sortable(older_than))
        return self._index_keys(
            HELD_AUTHORISATIONS_INDEX, HELD_VENDOR_ATTRIBUTE, held_vendor, before
        )

    def _index_keys(self, index: str, partition: str, value: str, sort: Any) -> Iterator[str]:
        """The item keys under `partition = value` in a sparse index whose sort key meets
        `sort`, in sort order, every page."""
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": Key(partition).eq(value) & sort,
        }
        while True:
            page = self._table.query(**kwargs)
            yield from (str(item["pk"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def create(self, record: OrderRecord) -> OrderRecord:
        """Store a new order; a second create of the same order id is a ConflictError."""
        record.version = 1
        put = {"Item": self._item(record), "ConditionExpression": "attribute_not_exists(pk)"}
        if not self._write(put, None, record):
            raise ConflictError(f"order {record.order_id} already exists")
        return record

    def _write(
        self,
        put: dict[str, Any],
        before: Contribution | None,
        record: OrderRecord,
        together: Sequence[dict[str, Any]] = (),
    ) -> bool:
        """Put the order item (`put`: its Item and condition), and, when the order's
        contribution to its day's rollup changed from `before` (None: a new order), the
        difference, in one transaction with `together` (more actions of the caller's): so a
        refused condition writes none of them. False if the order's condition was refused.

        A transaction DynamoDB cancels for another one on the same items (two orders of one
        day touch one rollup) is tried again, a bounded number of times. Any other
        cancellation is raised (TransactionCanceledException) for the caller to read."""
        from botocore.exceptions import ClientError

        updates = rollup_updates(self._table.name, before, contribution(record))
        if not updates and not together:
            try:
                self._table.put_item(**put)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return False
                raise
            return True
        actions = [{"Put": {"TableName": self._table.name, **put}}, *together, *updates]
        for attempt in range(MAX_UPDATE_ATTEMPTS):
            try:
                self._table.meta.client.transact_write_items(TransactItems=actions)
                return True
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return False
                if "TransactionConflict" not in reasons or attempt == MAX_UPDATE_ATTEMPTS - 1:
                    raise
                _back_off(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def find(self, order_id: str) -> OrderRecord | None:
        item = self._table.get_item(Key=self._key(order_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        record = OrderRecord.model_validate_json(item["record"])
        record.version = int(item["version"])
        return record

    def get(self, order_id: str) -> OrderRecord:
        record = self.find(order_id)
        if record is None:
            raise NotFoundError(f"no order {quote_input(order_id)}")
        return record

    def find_by_vendor_tx_code(self, vendor_tx_code: str) -> OrderRecord | None:
        from boto3.dynamodb.conditions import Key

        items = self._table.query(
            IndexName=VENDOR_TX_CODE_INDEX,
            KeyConditionExpression=Key("vendorTxCode").eq(vendor_tx_code),
        ).get("Items", [])
        orders = [i for i in items if str(i["pk"]).startswith(ORDER_KEY_PREFIX)]
        if not orders:
            return None
        # The index is eventually consistent: read the item itself for the current version.
        return self.find(str(orders[0]["pk"]).removeprefix(ORDER_KEY_PREFIX))

    def update(self, order_id: str, change: Callable[[OrderRecord], None]) -> OrderRecord:
        """Apply `change` to the current record and write it if nobody wrote in between
        (with the change of its day's rollup, when its figures moved)."""
        for _ in range(MAX_UPDATE_ATTEMPTS):
            record = self.get(order_id)
            expected = record.version
            before = contribution(record)
            change(record)
            record.version = expected + 1
            put = {
                "Item": self._item(record),
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": expected},
            }
            if self._write(put, before, record):
                return record
        raise ConflictError(f"order {order_id} kept changing; gave up after {MAX_UPDATE_ATTEMPTS}")

    # -- card payments asked for before their order is stored ----------------------------

    def begin_card_intake(self, order_id: str, vendor: str, vendor_tx_code: str) -> None:
        """Note, before Opayo is asked, that a card payment for `order_id` is being created.

        If the order never gets stored (the answer is lost and so is the look-up, our function
        crashes, the shop gives up), `abandoned_card_intakes` finds the note and the sweep
        (intake/abandoned.py) resolves it from Opayo's records. The note sits in the sparse
        held-authorisation index under `intake#<vendor>`, so finding them is a Query.
        Raises ConflictError if the sweep already ended this order's payment.
        """
        from botocore.exceptions import ClientError

        try:
            self._table.put_item(
                Item={
                    "pk": CARD_INTAKE_KEY_PREFIX + order_id,
                    "intakeState": "open",
                    "intakeVendorTxCode": vendor_tx_code,
                    HELD_VENDOR_ATTRIBUTE: CARD_INTAKE_KEY_PREFIX + vendor,
                    HELD_SINCE_ATTRIBUTE: _sortable(datetime.now(UTC)),
                },
                ConditionExpression="attribute_not_exists(pk) OR intakeState = :open",
                ExpressionAttributeValues={":open": "open"},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise CardPaymentAbandoned(_abandoned(order_id)) from None
            raise

    def create_closing_card_intake(self, record: OrderRecord) -> OrderRecord:
        """`create`, and in the same transaction remove the order's card-intake note; refused
        (ConflictError) if the sweep has begun to end that payment meanwhile."""
        from botocore.exceptions import ClientError

        record.version = 1
        # The resource's client takes (and returns) plain Python values, as the Table does.
        close_intake = {
            "Delete": {
                "TableName": self._table.name,
                "Key": {"pk": CARD_INTAKE_KEY_PREFIX + record.order_id},
                "ConditionExpression": "attribute_not_exists(pk) OR intakeState = :open",
                "ExpressionAttributeValues": {":open": "open"},
            }
        }
        put = {"Item": self._item(record), "ConditionExpression": "attribute_not_exists(pk)"}
        try:
            stored = self._write(put, None, record, together=[close_intake])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if "TransactionConflict" in reasons:
                raise  # contended past the retries: not a refusal of this order
            if self.find(record.order_id):
                raise ConflictError(f"order {record.order_id} already exists") from None
            raise CardPaymentAbandoned(_abandoned(record.order_id)) from None
        if not stored:
            raise ConflictError(f"order {record.order_id} already exists")
        return record

    def abandoned_card_intakes(self, vendor: str, older_than: datetime) -> Iterator[CardIntake]:
        """Card-intake notes of `vendor` written before `older_than` (their orders may or may
        not have been stored since: the caller checks)."""
        for key in self._held_index(CARD_INTAKE_KEY_PREFIX + vendor, older_than):
            # The index is eventually consistent: read the note itself (ended ones leave it).
            found = self._table.get_item(Key={"pk": key}, ConsistentRead=True).get("Item")
            if found is not None and HELD_VENDOR_ATTRIBUTE in found:
                yield CardIntake(
                    order_id=key.removeprefix(CARD_INTAKE_KEY_PREFIX),
                    vendor=vendor,
                    vendor_tx_code=str(found["intakeVendorTxCode"]),
                )

    def claim_card_intake(self, order_id: str) -> bool:
        """Mark an open note `ending`, only while its order is not stored: from then on the
        intake refuses to store the order (so the sweep and a late retry never both win).
        False if the order was stored meanwhile (the note is then removed) or another sweep
        ended the note first (it is left as it is)."""
        from botocore.exceptions import ClientError

        key = {"pk": CARD_INTAKE_KEY_PREFIX + order_id}
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": key,
                            "UpdateExpression": "SET intakeState = :ending",
                            "ConditionExpression": "intakeState IN (:open, :ending)",
                            "ExpressionAttributeValues": {":open": "open", ":ending": "ending"},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self._table.name,
                            "Key": {"pk": ORDER_KEY_PREFIX + order_id},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            if self.find(order_id) is not None:
                self.forget_card_intake(order_id)
            return False
        return True

    def end_card_intake(self, order_id: str, detail: str) -> None:
        """The sweep is done: keep the note as a tombstone (out of the index), so a late
        retry of the order is told what happened instead of paying again."""
        self._table.update_item(
            Key={"pk": CARD_INTAKE_KEY_PREFIX + order_id},
            UpdateExpression=f"SET intakeState = :ended, intakeDetail = :detail "
            f"REMOVE {HELD_VENDOR_ATTRIBUTE}, {HELD_SINCE_ATTRIBUTE}",
            ExpressionAttributeValues={":ended": "ended", ":detail": detail[:500]},
        )

    def forget_card_intake(self, order_id: str) -> None:
        """Remove a note whose order was stored, or whose payment never reached Opayo."""
        self._table.delete_item(Key={"pk": CARD_INTAKE_KEY_PREFIX + order_id})

    # -- payments that arrive before their order ------------------------------------------

    def park_payment(self, payment: PaymentTransaction) -> None:
        self._table.put_item(
            Item={
                "pk": PARKED_PAYMENT_KEY_PREFIX + payment.vendor_tx_code,
                "payment": payment.model_dump_json(),
            }
        )

    def take_parked_payment(self, vendor_tx_code: str) -> PaymentTransaction | None:
        item = self._table.delete_item(
            Key={"pk": PARKED_PAYMENT_KEY_PREFIX + vendor_tx_code}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        if item is None:
            return None
        return PaymentTransaction.model_validate(json.loads(item["payment"]))

    # -- fulfillment orders back to their orders -------------------------------------------

    def link_fulfillment_order(self, seller_fulfillment_order_id: str, order_id: str) -> None:
        """Remember which order a fulfillment order belongs to (notifications name only it)."""
        self._table.put_item(
            Item={
                "pk": FULFILLMENT_LINK_KEY_PREFIX + seller_fulfillment_order_id,
                "orderId": order_id,
            }
        )

    def find_by_fulfillment_order(self, seller_fulfillment_order_id: str) -> OrderRecord | None:
        item = self._table.get_item(
            Key={"pk": FULFILLMENT_LINK_KEY_PREFIX + seller_fulfillment_order_id},
            ConsistentRead=True,
        ).get("Item")
        return self.find(str(item["orderId"])) if item else None


class OrderPage(BaseModel):
    """A page of orders and where the next one starts (None: this was the last)."""

    model_config = ConfigDict(defer_build=True)

    records: list[OrderRecord]
    next_key: dict[str, str] | None = None


class CardIntake(BaseModel):
    """A card payment we asked Opayo for whose order was not stored when the note was read."""

    model_config = ConfigDict(defer_build=True)

    order_id: str
    vendor: str
    vendor_tx_code: str


def _abandoned(order_id: str) -> str:
    return (
        f"order {quote_input(order_id)} was not completed with us in time: its card payment "
        "was ended at Opayo (any authorisation cancelled). Submit the order again under a new "
        "order id, with a new card session"
    )


def _back_off(attempt: int) -> None:
    """Wait a random while before trying a contended transaction again (full jitter), so two
    writers of one day's rollup do not collide again in step."""
    time.sleep(random.uniform(0, CONFLICT_BACK_OFF_SECONDS * 2**attempt))  # noqa: S311


def _sortable(moment: datetime) -> str:
    """A UTC timestamp whose string order is its time order (the index's sort key)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _from_sortable(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
