"""The reconciliation's order book from our orders: the ids each provider knows them by.

For every saga order: its id, what the customer owes (`Order.amount_due`), the Opayo
vendorTxCode of its payment and of its refunds, and the sellerFulfillmentOrderId Amazon's
settlement rows name (`merchant-order-id`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from opayo_fba.convert.fba_outbound import seller_fulfillment_order_id
from opayo_fba.reconcile.orders import OrderBook
from opayo_fba.store.orders import OrderRecord


def order_book_line(record: OrderRecord) -> str | None:
    """One JSON line for `OrderBook.from_json_lines`; None for an order without a total."""
    try:
        due = record.order.amount_due()
    except ValueError:
        return None  # unpriced lines: nothing to match amounts against
    line: dict[str, object] = {
        "orderId": record.order_id,
        "totalAmount": {"amount": due.amount, "currency": due.currency},
        "sellerFulfillmentOrderId": (
            record.fulfillment.seller_fulfillment_order_id
            if record.fulfillment is not None
            else seller_fulfillment_order_id(record.order_id)
        ),
        "refundVendorTxCodes": [refund.vendor_tx_code for refund in record.refunds],
    }
    if record.payment is not None:
        line["vendorTxCode"] = record.payment.vendor_tx_code
    # A resubmitted order (saga/resubmit.py): what its earlier attempts settled is its too.
    current = {refund.vendor_tx_code for refund in record.refunds}
    if record.payment is not None:
        current.add(record.payment.vendor_tx_code)
    earlier_codes: set[str] = set()
    earlier_orders: set[str] = set()
    for attempt in record.previous_attempts:
        if attempt.payment is not None:
            earlier_codes.add(attempt.payment.vendor_tx_code)
        earlier_codes.update(refund.vendor_tx_code for refund in attempt.refunds)
        if attempt.seller_fulfillment_order_id:
            earlier_orders.add(attempt.seller_fulfillment_order_id)
    earlier_codes -= current
    earlier_orders.discard(str(line["sellerFulfillmentOrderId"]))
    if earlier_codes:
        line["earlierVendorTxCodes"] = sorted(earlier_codes)
    if earlier_orders:
        line["earlierSellerFulfillmentOrderIds"] = sorted(earlier_orders)
    return json.dumps(line)


def order_book_lines(records: Iterable[OrderRecord]) -> Iterator[str]:
    for record in records:
        line = order_book_line(record)
        if line is not None:
            yield line


def order_book(records: Iterable[OrderRecord], source: str = "orders table") -> OrderBook:
    return OrderBook.from_json_lines(order_book_lines(records), source)
