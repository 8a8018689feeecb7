"""The reconciliation run: feed settlements and batches in, get journal entries and exceptions.

    reconciler = Reconciler(config, orders=book, on_exception=writer.write)
    reconciler.add_settlement(SettlementParser(lines, "settlement.txt"))
    reconciler.add_batch(BatchParser(stream, "batch.xml"))
    result = reconciler.finish()

Exceptions go to `on_exception` as they are found (and order-level ones at `finish`), so
nothing grows with the input but the per-order state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from opayo_fba.reconcile.amazon import SettlementParser
from opayo_fba.reconcile.config import WILDCARD, ReconcileConfig
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.fees import FeeCalculator
from opayo_fba.reconcile.journal import BatchSums, JournalEntry, batch_entry, settlement_entry
from opayo_fba.reconcile.matching import (
    BATCH_TOTAL_MISMATCH,
    FEE_MISMATCH,
    SETTLEMENT_TOTAL_MISMATCH,
    UNKNOWN_AMOUNT_TYPE,
    UNKNOWN_ORDER,
    UNKNOWN_TRANSACTION_TYPE,
    OrderLedger,
    ReconcileException,
)
from opayo_fba.reconcile.opayo import OTHER, REFUND, BatchHeader, BatchParser
from opayo_fba.reconcile.orders import OrderBook

# Opayo's Reporting API writes UK local times.
_OPAYO_ZONE = ZoneInfo("Europe/London")
_RETURN_TRANSACTION_TYPES = frozenset({"refund", "return", "customerreturn", "chargeback refund"})


@dataclass(slots=True)
class ReconcileResult:
    entries: list[JournalEntry]
    settlement_rows: int
    batch_transactions: int
    orders_seen: int
    matched_orders: int
    exceptions_by_reason: Counter[str]
    category_totals: dict[tuple[str, str], int]
    """(currency, category) -> signed sum; Amazon amount types and Opayo lines."""
    settlement_ids: list[str]
    batch_ids: list[str]
    generated_at: datetime

    @property
    def input_rows(self) -> int:
        return self.settlement_rows + self.batch_transactions

    @property
    def exception_count(self) -> int:
        return sum(self.exceptions_by_reason.values())


@dataclass(slots=True)
class _Unknown:
    source: str
    line: int
    currency: str
    rows: int = 0
    amount_minor: int = 0
    details: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _OpenBatch:
    """A batch being read, possibly one page at a time; closed into entries at finish."""

    header: BatchHeader
    sources: list[str]
    pages: list[tuple[int, int]]
    per_currency: dict[str, BatchSums]
    transactions: int = 0


class Reconciler:
    """One reconciliation run: settlements and batches in any order, then `finish()` once.

    Holds only per-order matching state (see OrderLedger) and per-source sums; rows are
    streamed from the parsers and exceptions handed to `on_exception` as they are found.
    """

    def __init__(
        self,
        config: ReconcileConfig,
        *,
        orders: OrderBook | None = None,
        on_exception: Callable[[ReconcileException], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.book = orders
        self.ledger = OrderLedger(orders)
        self.fees = FeeCalculator(config.opayo_fee_schedule)
        self._accounts = config.amazon_accounts()
        self._classes: dict[tuple[str, str, str], tuple[tuple[str, str], bool, bool]] = {}
        self._sink = on_exception or (lambda _exception: None)
        self._counts: Counter[str] = Counter()
        self._entries: list[JournalEntry] = []
        self._unknown_orders: dict[str, _Unknown] = {}
        self._category_totals: dict[tuple[str, str], int] = {}
        self._settlements: dict[str, str] = {}
        self._batches: dict[str, _OpenBatch] = {}
        self._settlement_rows = 0
        self._batch_transactions = 0
        self._now = now

    def _emit(self, exception: ReconcileException) -> None:
        self._counts[exception.reason] += 1
        self._sink(exception)

    def _classify(self, key: tuple[str, str, str]) -> tuple[tuple[str, str], bool, bool]:
        """(account, category), is a return, is unmapped — cached per distinct key."""
        amount_type, description, transaction_type = key
        account = self._accounts.get((amount_type, description))
        if account is None:
            account = self._accounts.get((amount_type, WILDCARD))
        unknown = account is None
        category = f"{amount_type}/{description}"
        is_return = (
            transaction_type.strip().lower() in _RETURN_TRANSACTION_TYPES
            or "return" in description.lower()
        )
        result = ((account or self.config.suspense, category), is_return, unknown)
        self._classes[key] = result
        return result

    def add_settlement(self, parser: SettlementParser) -> JournalEntry:
        summary = parser.summary
        previous = self._settlements.get(summary.settlement_id)
        if previous is not None:
            raise MalformedInputError(
                parser.source, 2, "settlement-id",
                f"settlement {summary.settlement_id} was already read from {previous}; "
                "pass each settlement once",
            )  # fmt: skip
        self._settlements[summary.settlement_id] = parser.source
        ledger = self.ledger
        book = self.book
        classes = self._classes
        classify = self._classify
        sums: dict[tuple[str, str], int] = {}
        unknown_types: dict[str, _Unknown] = {}
        currency = summary.currency
        fulfilment_rows = ledger.fulfilment_rows
        return_rows = ledger.return_rows
        amazon_minor = ledger.amazon_minor
        amazon_currency = ledger.amazon_currency
        currency_code = ledger.currency_code(currency)
        index_of = ledger.index_of
        known = ledger.known_keys
        rows = 0
        # Sums per (account, category) are kept per distinct classification (a handful),
        # so the loop adds into a list cell instead of hashing a tuple key per row.
        totals: dict[tuple[str, str, str], list[int]] = {}
        for row in parser.rows():
            rows += 1
            line, transaction_type, order_id, merchant_order_id = row[:4]
            amount_type, description, amount = row[7:10]
            key = (amount_type, description, transaction_type)
            cls = classes.get(key)
            if cls is None:
                cls = classify(key)
            cell = totals.get(key)
            if cell is None:
                cell = totals[key] = [0]
            cell[0] += amount
            account_key, is_return, unknown = cls
            if unknown:
                self._track_unknown(unknown_types, account_key[1], parser.source, line,
                                    currency, amount, transaction_type)  # fmt: skip
            if book is None:
                if not merchant_order_id:
                    continue
                index = known.get(merchant_order_id, -1)
                if index < 0:
                    index = index_of(merchant_order_id)
            else:
                index = book.resolve_amazon(merchant_order_id, order_id)
                if index < 0:
                    if merchant_order_id:
                        self._track_unknown(self._unknown_orders, merchant_order_id,
                                            parser.source, line, currency, amount,
                                            "Amazon settlement")  # fmt: skip
                    continue
            if is_return:
                return_rows[index] += 1
            else:
                fulfilment_rows[index] += 1
            amazon_minor[index] += amount
            amazon_currency[index] = currency_code
        self._settlement_rows += rows
        for key, (amount_sum,) in totals.items():
            account_key = classes[key][0]
            sums[account_key] = sums.get(account_key, 0) + amount_sum
        for category, unknown_type in unknown_types.items():
            self._emit(ReconcileException(
                UNKNOWN_AMOUNT_TYPE, "", unknown_type.source, unknown_type.line, currency,
                unknown_type.amount_minor, None,
                f"{category} ({unknown_type.rows} rows, transaction types "
                f"{', '.join(sorted(unknown_type.details))}) posted to {self.config.suspense}",
            ))  # fmt: skip
        for (_account, category), amount in sums.items():
            total_key = (currency, category)
            self._category_totals[total_key] = self._category_totals.get(total_key, 0) + amount
        entry = settlement_entry(
            settlement_id=summary.settlement_id,
            source_file=parser.source,
            deposit_date=summary.deposit_date,
            currency=currency,
            total_minor=summary.total_minor,
            amounts=sums,
            clearing_account=self.config.clearing.amazon,
        )
        if not entry.ties_out():
            self._emit(ReconcileException(
                SETTLEMENT_TOTAL_MISMATCH, "", parser.source, 2, currency,
                entry.clearing_minor, summary.total_minor,
                f"settlement {summary.settlement_id}: rows add up to {entry.clearing_minor}, "
                f"total-amount is {summary.total_minor} (minor units)",
            ))  # fmt: skip
        self._entries.append(entry)
        return entry

    @staticmethod
    def _track_unknown(
        table: dict[str, _Unknown], key: str, source: str, line: int, currency: str,
        amount: int, detail: str,
    ) -> None:  # fmt: skip
        seen = table.get(key)
        if seen is None:
            seen = table[key] = _Unknown(source, line, currency)
        seen.rows += 1
        seen.amount_minor += amount
        if len(seen.details) < 5:
            seen.details.add(detail or "(none)")

    def add_batch(self, parser: BatchParser) -> None:
        """Read one getBatchDetail answer: a whole batch, or one page of it (pages of the
        same batch may come in any order; their entries are made at `finish`)."""
        ledger = self.ledger
        book = self.book
        fee = self.fees.fee
        fees_on_refunds = self.fees.apply_to_refunds
        per_currency: dict[str, BatchSums] = {}
        currency_codes: dict[str, int] = {}
        index_of = ledger.index_of
        add_payment = ledger.add_payment
        transactions = 0
        for tx in parser.transactions():
            transactions += 1
            kind = tx.kind
            if kind == OTHER:
                self._emit(ReconcileException(
                    UNKNOWN_TRANSACTION_TYPE, tx.vendor_tx_code, parser.source, tx.line,
                    tx.currency, tx.amount_minor, None,
                    f"transaction type {tx.transaction_type} (VPSTxId {tx.vps_tx_id}) left "
                    "out of the journal",
                ))  # fmt: skip
                continue
            currency = tx.currency
            sums = per_currency.get(currency)
            if sums is None:
                sums = per_currency[currency] = BatchSums()
                currency_codes[currency] = ledger.currency_code(currency)
            amount = tx.amount_minor
            refund = kind == REFUND
            if refund:
                sums.refunded_minor += amount
                sums.refunds += 1
                charged = fee(tx.card_type, currency, amount) if fees_on_refunds else 0
                key = tx.related_vendor_tx_code or tx.vendor_tx_code
            else:
                sums.captured_minor += amount
                sums.captures += 1
                charged = fee(tx.card_type, currency, amount)
                key = tx.vendor_tx_code
            sums.fees_minor += charged
            reported_fee = tx.reported_fee_minor
            if reported_fee is not None:
                sums.reported_fees_minor += reported_fee
                sums.fee_differences += reported_fee != charged
            if book is not None:
                index = book.resolve_opayo(key)
            elif refund and not tx.related_vendor_tx_code:
                index = -1  # its own vendorTxCode names no order without an orders file
            else:
                index = index_of(key)
            if index < 0:
                detail = f"Opayo {kind}"
                if refund and not tx.related_vendor_tx_code:
                    detail += " naming no payment (no relatedvendortxcode, not in the orders)"
                self._track_unknown(self._unknown_orders, key, parser.source, tx.line,
                                    currency, amount, detail)  # fmt: skip
                continue
            add_payment(index, amount, currency_codes[currency], refund=refund)
        self._merge_page(parser, per_currency, transactions)

    def _merge_page(
        self, parser: BatchParser, per_currency: dict[str, BatchSums], transactions: int
    ) -> None:
        header = parser.header
        self._batch_transactions += transactions
        page = (header.start_row or 1, header.end_row or header.start_row or 1)
        key = f"{header.auth_processor}/{header.batch_id}"
        batch = self._batches.get(key)
        if batch is None:
            pages = [page] if header.start_row is not None else []
            self._batches[key] = _OpenBatch(
                header, [parser.source], pages, per_currency, transactions
            )
            return
        paged = header.start_row is not None and batch.pages
        if not paged or any(page[0] <= end and start <= page[1] for start, end in batch.pages):
            raise MalformedInputError(
                parser.source, None, "batchid",
                f"batch {header.batch_id} (rows {page[0]}-{page[1]}) was already read from "
                f"{', '.join(batch.sources)}; pass each batch, or each page of it, once",
            )  # fmt: skip
        batch.sources.append(parser.source)
        batch.pages.append(page)
        batch.transactions += transactions
        for currency, sums in per_currency.items():
            into = batch.per_currency.setdefault(currency, BatchSums())
            for name in BatchSums.__slots__:
                setattr(into, name, getattr(into, name) + getattr(sums, name))
        for currency, totals in header.totals.items():
            batch.header.totals.setdefault(currency, totals)

    def _close_batch(self, batch: _OpenBatch) -> list[JournalEntry]:
        header = batch.header
        source = ", ".join(batch.sources)
        transactions = batch.transactions
        per_currency = batch.per_currency
        if header.total_rows is not None and header.total_rows != transactions:
            self._emit(ReconcileException(
                BATCH_TOTAL_MISMATCH, "", source, None, "", transactions, header.total_rows,
                f"batch {header.batch_id}: {transactions} transactions read, totalrows says "
                f"{header.total_rows}"
                + (f" (pages read: {_ranges(batch.pages)})" if batch.pages else ""),
            ))  # fmt: skip
        date = self._batch_date(header.batch_date, batch.sources[0])
        accounts = self.config.opayo
        entries = []
        for currency in sorted(set(per_currency) | set(header.totals)):
            sums = per_currency.get(currency, BatchSums())
            totals = header.totals.get(currency)
            control = None
            deducted = self.config.opayo_fee_schedule.deducted_from_payout
            if totals is not None:
                control = totals.net_minor if deducted else totals.gross_minor
                if deducted and control is None and totals.gross_minor is not None:
                    control = totals.gross_minor - sums.fees_minor
                for what, ours, theirs in (
                    ("gross (captured - refunded)", sums.captured_minor - sums.refunded_minor,
                     totals.gross_minor),
                    ("transactions", sums.captures + sums.refunds, totals.count),
                ):  # fmt: skip
                    if theirs is not None and ours != theirs:
                        self._emit(ReconcileException(
                            BATCH_TOTAL_MISMATCH, "", source, None, currency, ours,
                            theirs,
                            f"batch {header.batch_id} {currency}: {what} adds up to {ours}, "
                            f"the batch totals say {theirs}",
                        ))  # fmt: skip
                if totals.fees_minor is not None and totals.fees_minor != sums.fees_minor:
                    self._emit(ReconcileException(
                        FEE_MISMATCH, "", source, None, currency, sums.fees_minor,
                        totals.fees_minor,
                        f"batch {header.batch_id} {currency}: the fee schedule gives "
                        f"{sums.fees_minor}, Opayo charged {totals.fees_minor} "
                        f"({sums.fee_differences} transaction(s) differ); check the schedule",
                    ))  # fmt: skip
            for category, amount in (
                ("Opayo/captured", sums.captured_minor),
                ("Opayo/refunded", -sums.refunded_minor),
                ("Opayo/fees", -sums.fees_minor),
            ):
                key = (currency, category)
                self._category_totals[key] = self._category_totals.get(key, 0) + amount
            entry = batch_entry(
                batch_id=header.batch_id or batch.sources[0],
                source_file=source,
                date=date,
                currency=currency,
                sums=sums,
                control_total_minor=control,
                captures_account=accounts.captures,
                refunds_account=accounts.refunds,
                fees_account=accounts.fees,
                clearing_account=self.config.clearing.opayo,
                fees_payable_account=None if deducted else accounts.fees_payable,
            )
            entries.append(entry)
        return entries

    def _batch_date(self, text: str, source: str) -> datetime:
        """A business date is a calendar date (midnight UTC); a timestamp is UK local time."""
        if not text:
            return self._now()
        for layout, zone in (
            ("%d/%m/%Y %H:%M:%S.%f", _OPAYO_ZONE),
            ("%d/%m/%Y %H:%M:%S", _OPAYO_ZONE),
            ("%d/%m/%Y", UTC),
            ("%Y-%m-%d", UTC),
        ):
            try:
                local = datetime.strptime(text, layout)  # noqa: DTZ007 - zone set next line
            except ValueError:
                continue
            return local.replace(tzinfo=zone).astimezone(UTC)
        raise MalformedInputError(
            source, None, "batchdate", f"{text!r} is not a date (expected dd/mm/yyyy)"
        )

    def finish(self) -> ReconcileResult:
        """Close the batches, emit order-level exceptions and return the journal; call once,
        after all inputs."""
        for batch in self._batches.values():
            self._entries.extend(self._close_batch(batch))
        for exception in self.ledger.exceptions():
            self._emit(exception)
        for key, unknown in self._unknown_orders.items():
            self._emit(ReconcileException(
                UNKNOWN_ORDER, key, unknown.source, unknown.line, unknown.currency,
                unknown.amount_minor, None,
                f"{unknown.rows} row(s) from {', '.join(sorted(unknown.details))}",
            ))  # fmt: skip
        return ReconcileResult(
            entries=list(self._entries),
            settlement_rows=self._settlement_rows,
            batch_transactions=self._batch_transactions,
            orders_seen=sum(
                1
                for i in range(len(self.ledger.keys))
                if self.ledger.captures[i]
                or self.ledger.refunds[i]
                or self.ledger.fulfilment_rows[i]
                or self.ledger.return_rows[i]
            ),
            matched_orders=self.ledger.matched_orders(),
            exceptions_by_reason=Counter(self._counts),
            category_totals=dict(self._category_totals),
            settlement_ids=list(self._settlements),
            batch_ids=[batch.header.batch_id for batch in self._batches.values()],
            generated_at=self._now(),
        )


def _ranges(pages: list[tuple[int, int]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in sorted(pages))
