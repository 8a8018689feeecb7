"""Streaming parser of Amazon's V2 settlement flat file.

Report type GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2.

Tab-separated with a header row; the first data row is the settlement summary
(total-amount, deposit-date, currency) with the transaction columns empty; every further row
is one amount component. The parser takes any iterable of text lines (an open file, a gzip
stream, an S3 body decoded line by line) and keeps nothing but the current row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from opayo_fba.reconcile.amounts import currency_exponent, to_minor
from opayo_fba.reconcile.dates import parse_amazon_datetime
from opayo_fba.reconcile.errors import MalformedInputError

COLUMNS: tuple[str, ...] = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "adjustment-id", "shipment-id", "marketplace-name", "amount-type", "amount-description",
    "amount", "fulfillment-id", "posted-date", "posted-date-time", "order-item-code",
    "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
)  # fmt: skip
# Columns without which a row cannot be reconciled; the others may be absent from a header.
REQUIRED: tuple[str, ...] = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "amount-type", "amount-description", "amount",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SettlementSummary:
    """The first data row: what Amazon says it paid out, when, in which currency."""

    source: str
    settlement_id: str
    start: datetime
    end: datetime
    deposit_date: datetime
    total_minor: int
    currency: str


class SettlementRow(NamedTuple):
    """One amount component. Text columns are kept as Amazon wrote them ('' when empty)."""

    line: int
    transaction_type: str
    order_id: str
    merchant_order_id: str
    adjustment_id: str
    shipment_id: str
    marketplace_name: str
    amount_type: str
    amount_description: str
    amount_minor: int
    fulfillment_id: str
    posted_date: datetime | None
    posted_date_time: datetime | None
    order_item_code: str
    merchant_order_item_id: str
    merchant_adjustment_item_id: str
    sku: str
    quantity_purchased: int | None
    promotion_id: str


class SettlementParser:
    """Reads the header and summary row on construction; `rows()` streams the rest.

    >>> parser = SettlementParser(open_lines, source="settlement.txt")
    >>> parser.summary.total_minor
    >>> for row in parser.rows(): ...
    """

    def __init__(self, lines: Iterable[str], source: str) -> None:
        self.source = source
        self._lines = iter(lines)
        self._line_no = 0
        header = self._next_line()
        if header is None:
            raise MalformedInputError(source, 1, None, "the file is empty; expected a header row")
        names = [name.strip().lower() for name in header.split("\t")]
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise MalformedInputError(
                source, 1, None,
                f"not a V2 settlement flat file: header lacks {', '.join(missing)}",
            )  # fmt: skip
        self._width = len(names)
        self._index = {name: names.index(name) for name in COLUMNS if name in names}
        self.extra_columns = tuple(name for name in names if name not in COLUMNS)
        self.summary = self._read_summary()
        self.exponent = currency_exponent(self.summary.currency)

    def _next_line(self) -> str | None:
        try:
            line = next(self._lines)
        except StopIteration:
            return None
        except UnicodeDecodeError as error:
            raise MalformedInputError(
                self.source, self._line_no + 1, None, f"not UTF-8 text ({error.reason})"
            ) from None
        self._line_no += 1
        return line.rstrip("\r\n")

    def _cells(self, line: str) -> list[str]:
        cells = line.split("\t")
        if len(cells) > self._width:
            raise MalformedInputError(
                self.source, self._line_no, None,
                f"{len(cells)} tab-separated fields, the header has {self._width}",
            )  # fmt: skip
        if len(cells) < self._width:  # Amazon trims trailing empty fields on some rows
            cells.extend([""] * (self._width - len(cells)))
        return cells

    def _read_summary(self) -> SettlementSummary:
        line = self._next_line()
        while line is not None and not line.strip():
            line = self._next_line()
        if line is None:
            raise MalformedInputError(
                self.source, self._line_no + 1, None, "expected the settlement summary row"
            )
        cells = self._cells(line)

        def cell(name: str) -> str:
            return cells[self._index[name]].strip()

        if cell("transaction-type") or not cell("total-amount"):
            raise MalformedInputError(
                self.source, self._line_no, "total-amount",
                "the first data row must be the settlement summary "
                "(total-amount, deposit-date, currency; no transaction-type)",
            )  # fmt: skip
        currency = cell("currency").upper()
        try:
            exponent = currency_exponent(currency)
        except ValueError as error:
            raise MalformedInputError(self.source, self._line_no, "currency", str(error)) from None
        settlement_id = cell("settlement-id")
        if not settlement_id:
            raise MalformedInputError(self.source, self._line_no, "settlement-id", "is empty")
        return SettlementSummary(
            source=self.source,
            settlement_id=settlement_id,
            start=self._date(cell("settlement-start-date"), "settlement-start-date"),
            end=self._date(cell("settlement-end-date"), "settlement-end-date"),
            deposit_date=self._date(cell("deposit-date"), "deposit-date"),
            total_minor=self._amount(cell("total-amount"), exponent, currency, "total-amount"),
            currency=currency,
        )

    def _date(self, text: str, field: str) -> datetime:
        try:
            return parse_amazon_datetime(text)
        except ValueError as error:
            raise MalformedInputError(self.source, self._line_no, field, str(error)) from None

    def _amount(self, text: str, exponent: int, currency: str, field: str) -> int:
        try:
            return to_minor(text, exponent, currency)
        except ValueError as error:
            raise MalformedInputError(self.source, self._line_no, field, str(error)) from None

    def rows(self) -> Iterator[SettlementRow]:
        """Every amount row after the summary, in file order. Blank lines are skipped."""
        index = self._index
        width = self._width
        exponent = self.exponent
        settlement_id = self.summary.settlement_id
        currency = self.summary.currency
        blank = width  # index of a padding cell that is always ''
        pick = [index.get(name, blank) for name in COLUMNS]
        (
            i_sid, _, _, _, _, i_cur, i_ttype, i_oid, i_moid, i_adj, i_ship, i_mkt, i_atype,
            i_adesc, i_amount, i_fid, i_pdate, i_pdt, i_oic, i_moiid, i_maiid, i_sku, i_qty,
            i_promo,
        ) = pick  # fmt: skip
        parse_date = parse_amazon_datetime
        new_row = tuple.__new__  # NamedTuple's own __new__ is a Python frame per row
        line_no = self._line_no
        try:
            for raw in self._lines:
                line_no += 1
                self._line_no = line_no
                line = raw.rstrip("\r\n")
                cells = line.split("\t")
                if len(cells) != width:
                    if not line.strip():
                        continue
                    cells = self._cells(line)
                cells.append("")
                row_sid = cells[i_sid]
                if row_sid and row_sid != settlement_id:
                    raise MalformedInputError(
                        self.source, line_no, "settlement-id",
                        f"{row_sid!r} differs from the summary's {settlement_id!r}",
                    )  # fmt: skip
                row_currency = cells[i_cur]
                if row_currency and row_currency.upper() != currency:
                    raise MalformedInputError(
                        self.source, line_no, "currency",
                        f"{row_currency!r} differs from the summary's {currency!r}",
                    )  # fmt: skip
                text = cells[i_amount]
                whole, point, fraction = text.partition(".")
                if (  # the common "-12.34" inline; to_minor for everything else
                    point
                    and len(fraction) == exponent
                    and text.isascii()
                    and fraction.isdigit()
                    and (whole.isdigit() or (whole[:1] == "-" and whole[1:].isdigit()))
                ):
                    amount = int(whole + fraction)
                else:
                    try:
                        amount = to_minor(text, exponent, currency)
                    except ValueError as error:
                        raise MalformedInputError(
                            self.source, line_no, "amount", str(error)
                        ) from None
                posted = cells[i_pdate]
                posted_time = cells[i_pdt]
                quantity = cells[i_qty]
                try:
                    posted_date = parse_date(posted) if posted else None
                    posted_date_time = parse_date(posted_time) if posted_time else None
                except ValueError as error:
                    field = "posted-date" if posted and _bad_date(posted) else "posted-date-time"
                    raise MalformedInputError(self.source, line_no, field, str(error)) from None
                if quantity:
                    if not (quantity.isascii() and quantity.isdigit()):
                        raise MalformedInputError(
                            self.source, line_no, "quantity-purchased",
                            f"{quantity!r} is not a whole number",
                        )  # fmt: skip
                    quantity_purchased: int | None = int(quantity)
                else:
                    quantity_purchased = None
                yield new_row(SettlementRow, (
                    line_no, cells[i_ttype], cells[i_oid], cells[i_moid], cells[i_adj],
                    cells[i_ship], cells[i_mkt], cells[i_atype], cells[i_adesc], amount,
                    cells[i_fid], posted_date, posted_date_time, cells[i_oic], cells[i_moiid],
                    cells[i_maiid], cells[i_sku], quantity_purchased, cells[i_promo],
                ))  # fmt: skip
        except UnicodeDecodeError as error:
            raise MalformedInputError(
                self.source, line_no + 1, None, f"not UTF-8 text ({error.reason})"
            ) from None


def _bad_date(text: str) -> bool:
    try:
        parse_amazon_datetime(text)
    except ValueError:
        return True
    return False
