"""Per-order matching state and the exceptions it yields.

State is a handful of parallel `array`s indexed by order, plus one dict from order key to
index: about 200 bytes an order, whatever the number of rows that mention it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from functools import partial
from typing import NamedTuple

from opayo_fba.reconcile.orders import OrderBook

CAPTURED_NOT_FULFILLED = "captured_not_fulfilled"
FULFILLED_NOT_CAPTURED = "fulfilled_not_captured"
AMOUNT_MISMATCH = "amount_mismatch"
UNKNOWN_ORDER = "unknown_order"
DUPLICATE_CAPTURE = "duplicate_capture"
REFUND_WITHOUT_RETURN = "refund_without_return"
UNKNOWN_AMOUNT_TYPE = "unknown_amount_type"
UNKNOWN_TRANSACTION_TYPE = "unknown_transaction_type"
SETTLEMENT_TOTAL_MISMATCH = "settlement_total_mismatch"
BATCH_TOTAL_MISMATCH = "batch_total_mismatch"
FEE_MISMATCH = "fee_mismatch"

REASONS: dict[str, str] = {
    CAPTURED_NOT_FULFILLED: "Opayo captured the payment but no Amazon fulfilment was settled",
    FULFILLED_NOT_CAPTURED: "Amazon settled a fulfilment but Opayo captured no payment",
    AMOUNT_MISMATCH: "the captured amount differs from the order total",
    UNKNOWN_ORDER: "the id matches no order in the orders file",
    DUPLICATE_CAPTURE: "the order was captured more than once",
    REFUND_WITHOUT_RETURN: "Opayo refunded the order but Amazon settled no return",
    UNKNOWN_AMOUNT_TYPE: "the amount type is not in the chart of accounts (posted to suspense)",
    UNKNOWN_TRANSACTION_TYPE: "an Opayo transaction type that moves no money was in the batch",
    SETTLEMENT_TOTAL_MISMATCH: "the settlement rows do not add up to its total-amount",
    BATCH_TOTAL_MISMATCH: "the batch transactions do not add up to the batch totals",
    FEE_MISMATCH: "Opayo's fees differ from the configured fee schedule",
}

NO_CURRENCY = -1
MIXED_CURRENCY = -2


class ReconcileException(NamedTuple):
    reason: str
    order: str
    source: str
    line: int | None
    currency: str
    amount_minor: int | None
    expected_minor: int | None
    detail: str


class OrderLedger:
    """What each order has seen so far: captures, refunds, Amazon fulfilment and returns."""

    def __init__(self, book: OrderBook | None) -> None:
        self.book = book
        self.keys: list[str] = book.order_ids if book is not None else []
        self._index: dict[str, int] = {}
        self.known_keys = self._index  # read-only view for hot loops: key -> index
        size = len(self.keys)
        self.captured = array("q", bytes(8 * size))
        self.refunded = array("q", bytes(8 * size))
        self.captures = array("i", bytes(4 * size))
        self.refunds = array("i", bytes(4 * size))
        self.fulfilment_rows = array("i", bytes(4 * size))
        self.return_rows = array("i", bytes(4 * size))
        self.amazon_minor = array("q", bytes(8 * size))
        self.paid_currency = array("h", [NO_CURRENCY]) * size
        self.amazon_currency = array("h", [NO_CURRENCY]) * size
        self.currencies: list[str] = list(book.currencies) if book is not None else []
        self._currency_codes = {code: i for i, code in enumerate(self.currencies)}

    def currency_code(self, currency: str) -> int:
        code = self._currency_codes.get(currency)
        if code is None:
            code = self._currency_codes[currency] = len(self.currencies)
            self.currencies.append(currency)
        return code

    def index_of(self, key: str) -> int:
        """Index of `key` without an orders file: every id names its own order."""
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.keys)
            self.keys.append(key)
            for column in (self.captured, self.refunded, self.amazon_minor):
                column.append(0)
            for counter in (self.captures, self.refunds, self.fulfilment_rows, self.return_rows):
                counter.append(0)
            self.paid_currency.append(NO_CURRENCY)
            self.amazon_currency.append(NO_CURRENCY)
        return index

    def add_payment(self, index: int, amount: int, currency_code: int, *, refund: bool) -> None:
        if refund:
            self.refunded[index] += amount
            self.refunds[index] += 1
            return
        self.captured[index] += amount
        self.captures[index] += 1
        seen = self.paid_currency[index]
        if seen == NO_CURRENCY:
            self.paid_currency[index] = currency_code
        elif seen != currency_code:
            self.paid_currency[index] = MIXED_CURRENCY

    def exceptions(self) -> Iterator[ReconcileException]:
        """Order-level exceptions, in order of first appearance (or of the orders file)."""
        book = self.book
        currencies = self.currencies
        for index, key in enumerate(self.keys):
            captures = self.captures[index]
            refunds = self.refunds[index]
            fulfilled = self.fulfilment_rows[index] + self.return_rows[index] > 0
            if not (captures or refunds or fulfilled):
                continue
            code = self.paid_currency[index]
            currency = currencies[code] if code >= 0 else ""
            captured = self.captured[index]

            record = partial(_record, key, currency)

            if captures and not fulfilled:
                yield record(CAPTURED_NOT_FULFILLED, captured, None, f"{captures} capture(s)")
            if fulfilled and not captures:
                amazon_code = self.amazon_currency[index]
                yield _record(
                    key, currencies[amazon_code] if amazon_code >= 0 else "",
                    FULFILLED_NOT_CAPTURED, self.amazon_minor[index], None,
                    f"{self.fulfilment_rows[index] + self.return_rows[index]} Amazon "
                    "settlement row(s); the amount is their net",
                )  # fmt: skip
            if captures > 1:
                yield record(DUPLICATE_CAPTURE, captured, None, f"{captures} captures")
            if refunds and not self.return_rows[index]:
                yield record(
                    REFUND_WITHOUT_RETURN, self.refunded[index], None, f"{refunds} refund(s)"
                )
            if book is not None and captures:
                expected = book.expected_minor[index]
                expected_currency = currencies[book.currency_index[index]]
                if code == MIXED_CURRENCY:
                    yield record(
                        AMOUNT_MISMATCH, captured, expected, "captured in mixed currencies"
                    )
                elif expected_currency != currency:
                    yield record(
                        AMOUNT_MISMATCH, captured, expected,
                        f"captured in {currency}, the order is in {expected_currency}",
                    )  # fmt: skip
                elif captured != expected:
                    yield record(
                        AMOUNT_MISMATCH, captured, expected,
                        f"captured {captured - expected:+d} minor units against the order total",
                    )  # fmt: skip

    def matched_orders(self) -> int:
        """Orders both captured once and fulfilled, for the right amount: the happy path."""
        book = self.book
        matched = 0
        for index in range(len(self.keys)):
            if self.captures[index] != 1 or not self.fulfilment_rows[index]:
                continue
            if self.refunds[index] and not self.return_rows[index]:
                continue
            if book is not None:
                code = self.paid_currency[index]
                if code != book.currency_index[index]:
                    continue
                if self.captured[index] != book.expected_minor[index]:
                    continue
            matched += 1
        return matched


def _record(
    order: str, currency: str, reason: str, amount: int | None, expected: int | None, detail: str
) -> ReconcileException:
    return ReconcileException(reason, order, "", None, currency, amount, expected, detail)
