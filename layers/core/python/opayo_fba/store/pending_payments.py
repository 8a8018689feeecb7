"""Orders whose Opayo Pi payment is still undecided (3-D Secure in progress, or no answer).

Cost: this is a Scan of the orders table with a filter. DynamoDB charges a Scan for every item
it reads, not for the ones the filter keeps, so each poll reads the whole table (about 1 RCU
per 8 KB, eventually consistent). Fine for thousands of orders polled every few minutes; for
more, a sparse GSI keyed on a `pendingPayment` attribute (set only while a Pi payment is
pending) would make this a Query over just the pending orders. That index is an infra change
and is not made here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opayo_fba.model import PaymentState
from opayo_fba.store.orders import ORDER_KEY_PREFIX, OrderRecord, OrderStore

PENDING_STATES = frozenset({PaymentState.PENDING})


class PendingPaymentsStore(OrderStore):
    """The orders table, plus the scan for undecided Pi payments."""

    @classmethod
    def from_table_name(cls, name: str) -> PendingPaymentsStore:
        import boto3

        return cls(boto3.resource("dynamodb").Table(name))

    def pending_pi_payments(self, vendor: str | None = None) -> Iterator[OrderRecord]:
        """Every order with a pending Pi payment (of `vendor`, when given)."""
        from boto3.dynamodb.conditions import Attr

        kwargs: dict[str, Any] = {
            # Only orders carry a vendorTxCode; parked payments and links do not.
            "FilterExpression": Attr("pk").begins_with(ORDER_KEY_PREFIX)
            & Attr("vendorTxCode").exists(),
        }
        while True:
            page = self._table.scan(**kwargs)
            for item in page.get("Items", []):
                record = OrderRecord.model_validate_json(str(item["record"]))
                record.version = int(item["version"])
                payment = record.payment
                if (
                    payment is not None
                    and payment.provider == "pi"
                    and payment.state in PENDING_STATES
                    and payment.transaction_id
                    and (vendor is None or record.vendor == vendor)
                ):
                    yield record
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
