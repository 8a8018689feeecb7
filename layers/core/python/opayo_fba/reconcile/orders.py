"""Canonical orders as JSON lines, indexed by every id the providers use for them.

Each line is a JSON object with (camelCase or the canonical model's snake_case):
- `orderId` / `order_id`;
- the total: `totalAmount`, `total` or `grandTotal` as {"amount": <minor units>, "currency"},
  or `totals.grand_total` (the canonical Order), or top-level `totalMinor` + `currency`;
- `vendorTxCode` (also `vendor_tx_code`, `payment_reference`): the Opayo payment;
- `sellerFulfillmentOrderId` (optional, defaults to the orderId): the Amazon MCF order;
- `refundVendorTxCodes` (optional list): the vendorTxCodes of the order's refunds, for
  batches that do not say which payment a refund belongs to;
- `earlierVendorTxCodes`, `earlierSellerFulfillmentOrderIds` (optional lists): the payments,
  refunds and fulfillment orders of a resubmitted order's earlier attempts.
Only compact ints and the id strings are kept, not the order documents.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from typing import Any

from opayo_fba.model.money import currency_exponent
from opayo_fba.reconcile.errors import MalformedInputError


class OrderBook:
    def __init__(self) -> None:
        self.order_ids: list[str] = []
        self.expected_minor = array("q")
        self.currency_index = array("h")
        self.currencies: list[str] = []
        self._currency_codes: dict[str, int] = {}
        self.by_order_id: dict[str, int] = {}
        self.by_fulfillment_id: dict[str, int] = {}
        self.by_vendor_tx_code: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.order_ids)

    def currency_code(self, currency: str) -> int:
        code = self._currency_codes.get(currency)
        if code is None:
            code = self._currency_codes[currency] = len(self.currencies)
            self.currencies.append(currency)
        return code

    @classmethod
    def from_json_lines(cls, lines: Iterable[str], source: str) -> OrderBook:
        book = cls()
        for line_no, line in enumerate(lines, start=1):
            if line.strip():
                book._add(_parse(line, source, line_no), source, line_no)
        return book

    def _add(self, order: dict[str, Any], source: str, line_no: int) -> None:
        order_id = _text(order, ("orderId", "order_id"), source, line_no, required=True)
        fulfillment_id = (
            _text(
                order, ("sellerFulfillmentOrderId", "seller_fulfillment_order_id"), source, line_no
            )
            or order_id
        )
        vendor_tx_code = _text(
            order, ("vendorTxCode", "vendor_tx_code", "payment_reference", "paymentReference"),
            source, line_no,
        )  # fmt: skip
        refunds = _strings(order, "refundVendorTxCodes", "refund_vendor_tx_codes", source, line_no)
        earlier_codes = _strings(
            order, "earlierVendorTxCodes", "earlier_vendor_tx_codes", source, line_no
        )
        earlier_orders = _strings(
            order,
            "earlierSellerFulfillmentOrderIds",
            "earlier_seller_fulfillment_order_ids",
            source,
            line_no,
        )
        amount, currency = _total(order, source, line_no)
        index = len(self.order_ids)
        keys = [
            (self.by_order_id, order_id, "orderId"),
            (self.by_fulfillment_id, fulfillment_id, "sellerFulfillmentOrderId"),
            (self.by_vendor_tx_code, vendor_tx_code, "vendorTxCode"),
        ]
        keys += [(self.by_vendor_tx_code, code, "refundVendorTxCodes") for code in refunds]
        keys += [(self.by_vendor_tx_code, code, "earlierVendorTxCodes") for code in earlier_codes]
        keys += [
            (self.by_fulfillment_id, sfo, "earlierSellerFulfillmentOrderIds")
            for sfo in earlier_orders
        ]
        for table, key, field in keys:
            if not key:
                continue
            if key in table and table[key] != index:
                raise MalformedInputError(
                    source, line_no, field, f"{key!r} already belongs to another order"
                )
            table[key] = index
        self.order_ids.append(order_id)
        self.expected_minor.append(amount)
        self.currency_index.append(self.currency_code(currency))

    def resolve_amazon(self, merchant_order_id: str, order_id: str) -> int:
        """Index of the order a settlement row belongs to, or -1."""
        for key in (merchant_order_id, order_id):
            if key:
                index = self.by_fulfillment_id.get(key)
                if index is None:
                    index = self.by_order_id.get(key)
                if index is not None:
                    return index
        return -1

    def resolve_opayo(self, vendor_tx_code: str) -> int:
        index = self.by_vendor_tx_code.get(vendor_tx_code)
        if index is None:
            index = self.by_order_id.get(vendor_tx_code, -1)
        return index


def _strings(order: dict[str, Any], name: str, snake: str, source: str, line_no: int) -> list[str]:
    values = order.get(name, order.get(snake, []))
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise MalformedInputError(source, line_no, name, "must be a list of strings")
    return values


def _parse(line: str, source: str, line_no: int) -> dict[str, Any]:
    try:
        document = json.loads(line)
    except json.JSONDecodeError as error:
        raise MalformedInputError(source, line_no, None, f"not JSON ({error.msg})") from None
    if not isinstance(document, dict):
        raise MalformedInputError(source, line_no, None, "each line must be a JSON object")
    return document


def _text(
    order: dict[str, Any],
    names: tuple[str, ...],
    source: str,
    line_no: int,
    *,
    required: bool = False,
) -> str:
    """The first of `names` that is present and non-empty; it must be a string."""
    for field in names:
        value = order.get(field)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise MalformedInputError(source, line_no, field, "must be a string")
        return value
    if required:
        raise MalformedInputError(source, line_no, names[0], "is missing")
    return ""


def _total(order: dict[str, Any], source: str, line_no: int) -> tuple[int, str]:
    field = next((name for name in ("totalAmount", "total", "grandTotal") if name in order), "")
    total = order.get(field)
    totals = order.get("totals")
    if total is None and isinstance(totals, dict):
        field = "totals.grand_total"
        total = totals.get("grand_total", totals.get("grandTotal"))
    if isinstance(total, dict):
        amount = total.get("amount", total.get("minor"))
        currency = total.get("currency")
    elif total is None and "totalMinor" in order:
        field = "totalMinor"
        amount, currency = order.get("totalMinor"), order.get("currency")
    else:
        raise MalformedInputError(
            source, line_no, "totalAmount",
            'is missing: give {"amount": <minor units>, "currency": "GBP"} '
            "or totalMinor + currency",
        )  # fmt: skip
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise MalformedInputError(
            source, line_no, field, "amount must be an integer in minor units (1234 = 12.34)"
        )
    if not isinstance(currency, str):
        raise MalformedInputError(source, line_no, "currency", "is missing")
    currency = currency.strip().upper()
    try:
        currency_exponent(currency)
    except ValueError as error:
        raise MalformedInputError(source, line_no, "currency", str(error)) from None
    return amount, currency
