"""Streaming parser of Opayo's Reporting & Admin API getBatchDetail response.

The response is parsed with defusedxml (no DTDs, entities or external references) through
`iterparse`, and each <transaction> is dropped from the tree as soon as it has been read, so
memory does not grow with the batch. Element names are matched case-insensitively; the
shape accepted is documented in docs/reconciliation.md and is what the Opayo sandbox and
connector use: header fields directly under <vspaccess> or under a <batch> element,
control totals per currency as getBatchList's <transactiongroups><transactiongroup> (which
the pipeline copies into the batch) or an older <totals><total>, and <transactions> (with a
totalrows attribute or element) holding one <transaction> per settled item. A row's card
scheme is read from <paymentsystem> or <cardtype> (which one Opayo writes is not confirmed).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, cast
from xml.etree.ElementTree import ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, iterparse

from opayo_fba.reconcile.amounts import currency_exponent, to_minor
from opayo_fba.reconcile.errors import MalformedInputError

# Settled transaction types that move the shopper's money to the merchant, and back. In a
# batch a Deferred appears only once released, for the released amount.
CAPTURE_TYPES = frozenset(
    {"PAYMENT", "DEFERRED", "RELEASE", "REPEAT", "AUTHORISE", "MANUAL", "SALE"}
)
REFUND_TYPES = frozenset({"REFUND"})
CAPTURE, REFUND, OTHER = "capture", "refund", "other"
_HEADER_PARENTS = frozenset({"vspaccess", "batch"})
# Paging of <transactions>: element (or attribute) name -> BatchHeader field.
_PAGE_FIELDS = {"totalrows": "total_rows", "startrow": "start_row", "endrow": "end_row"}
# The leaves of a <transaction> that are read; others (rownumber, net, dates) are skipped.
TRANSACTION_FIELDS = frozenset(
    {"vpstxid", "vendortxcode", "relatedvendortxcode", "transactiontype", "txtype",
     "amount", "currency", "cardtype", "paymentsystem", "fee"}
)  # fmt: skip


class BatchTransaction(NamedTuple):
    """One settled transaction of a batch. `kind` is capture, refund or other.

    `amount_minor` is never negative: a refund's direction is its kind (Opayo may write a
    refund's amount with a minus sign). `reported_fee_minor` is Opayo's <fee>, if given.
    """

    line: int
    vps_tx_id: str
    vendor_tx_code: str
    related_vendor_tx_code: str
    transaction_type: str
    kind: str
    amount_minor: int
    currency: str
    card_type: str
    reported_fee_minor: int | None


@dataclass(slots=True)
class BatchTotals:
    """What Opayo says the batch holds for one currency (from <totals>, when present).

    Either captured + refunded, or gross (captured - refunded) with fees and net.
    """

    currency: str
    gross_minor: int | None
    fees_minor: int | None
    net_minor: int | None
    count: int | None


@dataclass(slots=True)
class BatchHeader:
    """Everything in the response outside the transactions; complete once they are read."""

    source: str
    batch_id: str = ""
    auth_processor: str = ""
    batch_date: str = ""
    total_rows: int | None = None
    start_row: int | None = None
    """First and last row of this page when the answer is one page of a larger batch."""
    end_row: int | None = None
    error_code: str = ""
    error: str = ""
    totals: dict[str, BatchTotals] = field(default_factory=dict)


class _BatchEvents:
    """expat handlers that turn a getBatchDetail document into a few coarse events.

    iterparse would otherwise build an Element and report an event for every one of the
    ten-odd elements of each transaction; at hundreds of thousands of transactions that
    per-element Python work dominates. These handlers keep the text of the leaves they care
    about and report one event per transaction, header field and total, with the line the
    element starts on. Nothing else is kept, so memory does not depend on the batch size.

    The leaves of a <transaction> are most of the document, so they take a fast path
    (closures over a depth counter); everything else goes through `_start` and `_end`.
    """

    def __init__(self, expat: Any, queue: Any) -> None:
        self._expat = expat
        self._append = queue.append
        self._lowered: dict[str, str] = {}
        self.open: list[str] = []
        self.root_tag: str | None = None
        self._parts: list[str] | None = None
        self._values: dict[str, str] = {}
        self._total: dict[str, str] = {}
        self._line = 0
        self._total_line = 0
        # depth of the leaves of the open <transaction>, or -1 outside one
        self.leaf_depth = -1
        self._keys: dict[str, str] = {}
        self.start, self.end, self.data = self._handlers()

    def _handlers(self) -> tuple[Any, Any, Any]:
        open_tags = self.open
        slow_start = self._start
        slow_end = self._end
        parts: list[str] | None = None
        values = self._values
        this = self

        keys = self._keys
        keys_get = keys.get

        def start(tag: str, attrs: list[str]) -> None:
            nonlocal parts, values
            if len(open_tags) == this.leaf_depth:
                open_tags.append(tag)
                key = keys_get(tag)
                if key is None:
                    key = this.key_of(tag)
                parts = [] if key else None
                return
            parts = None
            slow_start(tag, attrs)
            if this.leaf_depth >= 0 and len(open_tags) == this.leaf_depth:
                values = this._values  # a <transaction> just opened
            else:
                parts = this._parts

        def data(text: str) -> None:
            if parts is not None:
                parts.append(text)

        def end(tag: str) -> None:
            nonlocal parts
            if len(open_tags) == this.leaf_depth + 1:
                open_tags.pop()
                if parts is not None:
                    values[keys[tag]] = "".join(parts).strip()
                    parts = None
                return
            this._parts = parts
            parts = None
            slow_end(tag)

        return start, end, data

    def lower(self, tag: str) -> str:
        lowered = self._lowered[tag] = tag.lower()
        return lowered

    def key_of(self, tag: str) -> str:
        """The key a transaction leaf is kept under, or '' for leaves nobody reads."""
        lowered = tag.lower()
        key = self._keys[tag] = lowered if lowered in TRANSACTION_FIELDS else ""
        return key

    def _start(self, tag: str, attrs: list[str]) -> None:
        lowered = self._lowered.get(tag) or self.lower(tag)
        open_tags = self.open
        parent = open_tags[-1] if open_tags else None
        open_tags.append(lowered)
        self._parts = None
        if parent == "transaction" or parent == "total" or parent == "transactiongroup":
            self._parts = []
        elif parent == "transactions":
            if lowered == "transaction":
                self._values = {}
                self._line = self._expat.CurrentLineNumber
                self.leaf_depth = len(open_tags)
            else:
                self._parts = []  # <totalrows>, <startrow>, <endrow>
        elif parent == "totals" or parent == "transactiongroups":
            self._total = {}
            self._total_line = self._expat.CurrentLineNumber
        elif parent is None:
            self.root_tag = tag
        elif parent in _HEADER_PARENTS and len(open_tags) <= 3:
            if lowered == "transactions":
                named = {
                    name.lower(): value for name, value in zip(attrs[::2], attrs[1::2], strict=True)
                }
                for name in _PAGE_FIELDS:
                    if name in named:
                        line = self._expat.CurrentLineNumber
                        self._append(("page", (line, name, named[name])))
            elif lowered not in ("totals", "transactiongroups", "batch"):
                self._parts = []
                self._line = self._expat.CurrentLineNumber

    def _end(self, _tag: str) -> None:
        lowered = self.open.pop()
        parent = self.open[-1] if self.open else None
        parts = self._parts
        self._parts = None
        if parent == "transaction":
            self._values[lowered] = "".join(parts).strip() if parts else ""
        elif parent == "transactions":
            if lowered == "transaction":
                self.leaf_depth = -1
                self._append(("transaction", (self._line, self._values)))
            elif lowered in _PAGE_FIELDS:
                text = "".join(parts).strip() if parts else ""
                self._append(("page", (self._expat.CurrentLineNumber, lowered, text)))
        elif parent == "total" or parent == "transactiongroup":
            self._total[lowered] = "".join(parts).strip() if parts else ""
        elif parent == "totals":
            self._append(("total", (self._total_line, self._total)))
        elif parent == "transactiongroups":
            self._append(("group", (self._total_line, self._total)))
        elif parts is not None and parent in _HEADER_PARENTS:
            self._append(("header", (self._line, lowered, "".join(parts).strip())))


class _BatchDetailParser(DefusedXMLParser):
    """defusedxml's parser (no DTD entities, no external references), reporting the coarse
    events of `_BatchEvents` to iterparse instead of one per element."""

    events: _BatchEvents | None = None

    def _setevents(self, events_queue: Any, events_to_report: Any) -> None:
        expat = self.parser
        self.events = events = _BatchEvents(expat, events_queue)
        expat.StartElementHandler = events.start
        expat.EndElementHandler = events.end
        expat.CharacterDataHandler = events.data


class _ChunkReader(io.RawIOBase):
    """A file object over an iterable of byte chunks (e.g. an S3 or HTTP body stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class BatchParser:
    """`transactions()` streams the batch; `header` is complete once it has been exhausted."""

    def __init__(self, stream: IO[bytes] | Iterable[bytes], source: str) -> None:
        self.source = source
        if hasattr(stream, "read"):
            self._stream = cast("IO[bytes]", stream)
        else:
            self._stream = cast("IO[bytes]", _ChunkReader(stream))
        self.header = BatchHeader(source=source)
        self.transaction_count = 0

    def _error(self, line: int | None, field_name: str | None, problem: str) -> MalformedInputError:
        return MalformedInputError(self.source, line, field_name, problem)

    def transactions(self) -> Iterator[BatchTransaction]:
        parser = _BatchDetailParser(target=TreeBuilder())
        header = self.header
        checked_root = False
        make = self._transaction
        try:
            # The events are _BatchEvents' own, not Elements (see _BatchDetailParser).
            events = cast("Iterator[tuple[str, Any]]", iterparse(self._stream, ("end",), parser))
            for event, payload in events:
                if event == "transaction":
                    line, values = payload
                    yield make(values, line)
                    self.transaction_count += 1
                    continue
                if not checked_root:
                    checked_root = True
                    self._check_root(parser)
                if event == "header":
                    self._header_field(*payload)
                elif event == "total":
                    self._total(*payload)
                elif event == "group":
                    self._group(*payload)
                elif event == "page":
                    line, name, value = payload
                    if not (value.isascii() and value.isdigit()):
                        raise self._error(line, name, f"{value!r} is not a row number")
                    setattr(header, _PAGE_FIELDS[name], int(value))
        except ParseError as error:
            line, column = error.position
            if parser.events is None or parser.events.root_tag is None:
                raise self._error(
                    line, None, "not a getBatchDetail XML response (empty or not XML)"
                ) from None
            raise self._error(line, None, f"not well-formed XML (column {column})") from None
        except DefusedXmlException as error:
            raise self._error(None, None, f"refused unsafe XML: {error}") from None
        if not checked_root:
            self._check_root(parser)
        if header.error_code not in ("", "0000"):
            self._raise_api_error(None)

    def _check_root(self, parser: _BatchDetailParser) -> None:
        root = parser.events.root_tag if parser.events is not None else None
        if (root or "").lower() != "vspaccess":
            raise self._error(1, None, f"root element is <{root}>, expected <vspaccess>")

    def _header_field(self, line: int, tag: str, text: str) -> None:
        header = self.header
        if tag == "errorcode":
            header.error_code = text
        elif tag == "error":
            header.error = text
            if header.error_code not in ("", "0000"):
                self._raise_api_error(line)
        elif tag == "batchid":
            header.batch_id = text
        elif tag == "authprocessor":
            header.auth_processor = text
        elif tag in ("batchdate", "businessdate", "completed"):
            header.batch_date = header.batch_date or text

    def _raise_api_error(self, line: int | None) -> None:
        header = self.header
        raise self._error(
            line, "errorcode",
            f"Opayo answered error {header.error_code} ({header.error or 'no description'}); "
            "fetch the batch again and check the batch id and the Reporting API user",
        )  # fmt: skip

    def _total(self, line: int, values: dict[str, str]) -> None:
        currency = values.get("currency", "").upper()
        exponent = self._exponent(currency, line)

        def amount(name: str) -> int | None:
            text = values.get(name)
            return None if not text else self._signed(text, exponent, currency, line, name)

        count = values.get("count", "")
        if count and not (count.isascii() and count.isdigit()):
            raise self._error(line, "count", f"{count!r} is not a count")
        gross = amount("gross")
        captured, refunded = amount("captured"), amount("refunded")
        if gross is None and (captured is not None or refunded is not None):
            gross = (captured or 0) - abs(refunded or 0)
        self.header.totals[currency] = BatchTotals(
            currency=currency,
            gross_minor=gross,
            fees_minor=amount("fees"),
            net_minor=amount("net"),
            count=int(count) if count else None,
        )

    def _group(self, line: int, values: dict[str, str]) -> None:
        """getBatchList's <transactiongroup> (the pipeline copies it into the batch):
        payments and refunds of one currency, counted and summed."""
        currency = values.get("currency", "").upper()
        exponent = self._exponent(currency, line)
        counts: list[int] = []
        for name in ("paymentnumber", "refundnumber"):
            text = values.get(name, "")
            if text and not (text.isascii() and text.isdigit()):
                raise self._error(line, name, f"{text!r} is not a count")
            counts += [int(text)] if text else []
        sums = [
            abs(self._signed(values[name], exponent, currency, line, name))
            for name in ("paymentvalue", "refundvalue")
            if values.get(name)
        ]
        gross = None
        if values.get("paymentvalue"):
            gross = sums[0] - (sums[1] if len(sums) > 1 else 0)
        self.header.totals[currency] = BatchTotals(
            currency=currency,
            gross_minor=gross,
            fees_minor=None,
            net_minor=None,
            count=sum(counts) if counts else None,
        )

    def _exponent(self, currency: str, line: int) -> int:
        try:
            return currency_exponent(currency)
        except ValueError as error:
            raise self._error(line, "currency", str(error)) from None

    def _signed(self, text: str, exponent: int, currency: str, line: int, field_name: str) -> int:
        try:
            return to_minor(text, exponent, currency)
        except ValueError as error:
            raise self._error(line, field_name, str(error)) from None

    def _transaction(self, values: dict[str, str], line: int) -> BatchTransaction:
        vendor_tx_code = values.get("vendortxcode", "")
        if not vendor_tx_code:
            raise self._error(line, "vendortxcode", "is missing or empty")
        transaction_type = (values.get("transactiontype") or values.get("txtype") or "").upper()
        if not transaction_type:
            raise self._error(line, "transactiontype", "is missing or empty")
        currency = values.get("currency", "").upper()
        exponent = self._exponent(currency, line)
        amount = self._signed(values.get("amount", ""), exponent, currency, line, "amount")
        if transaction_type in CAPTURE_TYPES:
            kind = CAPTURE
            if amount < 0:
                raise self._error(line, "amount", f"a {transaction_type} cannot be negative")
        elif transaction_type in REFUND_TYPES:
            kind = REFUND
            amount = abs(amount)
        else:
            kind = OTHER
        fee_text = values.get("fee")
        fee = abs(self._signed(fee_text, exponent, currency, line, "fee")) if fee_text else None
        return BatchTransaction(
            line,
            values.get("vpstxid", ""),
            vendor_tx_code,
            values.get("relatedvendortxcode", ""),
            transaction_type,
            kind,
            amount,
            currency,
            (values.get("paymentsystem") or values.get("cardtype", "")).upper(),
            fee,
        )
