"""Streaming parser of Opayo's Reporting & Admin API getBatchDetail response.

The response is parsed with defusedxml (no DTDs, entities or external references) through
`iterparse`, and each <transaction> is dropped from the tree as soon as it has been read, so
memory does not grow with the batch. Element names are matched case-insensitively; the
shape accepted is documented in docs/reconciliation.md and is what the Opayo sandbox and
connector use: header fields directly under <vspaccess> or under a <batch> element,
<totals><total> per currency, and <transactions> (with a totalrows attribute or element)
holding one <transaction> per settled item.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, cast
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

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
    error_code: str = ""
    error: str = ""
    totals: dict[str, BatchTotals] = field(default_factory=dict)


_tree_start = TreeBuilder.start
_tree_end = TreeBuilder.end


class _TrackingBuilder(TreeBuilder):
    """Notes, as expat builds the tree, what iterparse's end events cannot tell: the line each
    child of <transactions> starts on (for error messages), the header elements and <total>s,
    and the open <transactions> element (to drop each transaction once read).
    """

    def __init__(self) -> None:
        super().__init__()
        self.expat: Any = None
        self.root_tag: str | None = None
        self.open: list[str] = []
        self.container: Element | None = None
        self.lines: dict[int, int] = {}
        self.header: set[int] = set()
        self.totals: set[int] = set()
        self.total_rows: str | None = None
        self.transactions_line = 0
        self._lowered: dict[str, str] = {}

    def lower(self, tag: str) -> str:
        lowered = self._lowered.get(tag)
        if lowered is None:
            lowered = self._lowered[tag] = tag.lower()
        return lowered

    def start(self, tag: str, attrs: dict[str, str], /) -> Element:
        element = _tree_start(self, tag, attrs)
        open_tags = self.open
        lowered = self._lowered.get(tag) or self.lower(tag)
        parent = open_tags[-1] if open_tags else None
        open_tags.append(lowered)
        if parent == "transactions":
            self.lines[id(element)] = self.expat.CurrentLineNumber
        elif parent is None:
            self.root_tag = tag
        elif parent == "totals":
            self.totals.add(id(element))
        elif parent in _HEADER_PARENTS and len(open_tags) <= 3:
            self.header.add(id(element))
            if lowered == "transactions":
                self.container = element
                self.total_rows = attrs.get("totalrows", attrs.get("totalRows"))
                self.transactions_line = self.expat.CurrentLineNumber
        return element

    def end(self, tag: str, /) -> Element:
        if self.open.pop() == "transactions":
            self.container = None
        return _tree_end(self, tag)


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
        builder = _TrackingBuilder()
        parser = DefusedXMLParser(target=builder)
        builder.expat = parser.parser
        lower = builder.lower
        lines, header_ids, totals = builder.lines, builder.header, builder.totals
        checked_root = False
        try:
            for _event, element in iterparse(self._stream, ("end",), parser=parser):
                if not checked_root:
                    checked_root = True
                    if (builder.root_tag or "").lower() != "vspaccess":
                        raise self._error(
                            1, None, f"root element is <{builder.root_tag}>, expected <vspaccess>"
                        )
                key = id(element)
                line = lines.pop(key, 0)
                if line:
                    tag = lower(element.tag)
                    if tag == "transaction":
                        yield self._transaction(element, line)
                        self.transaction_count += 1
                    elif tag == "totalrows":
                        builder.total_rows = (element.text or "").strip()
                    if builder.container is not None:
                        builder.container.remove(element)
                elif key in header_ids:
                    header_ids.discard(key)
                    tag = lower(element.tag)
                    if tag == "transactions":
                        self._transactions_end(builder)
                    else:
                        self._header_field(tag, element, builder)
                elif key in totals:
                    totals.discard(key)
                    self._total(element, builder)
        except ParseError as error:
            line, column = error.position
            if builder.root_tag is None:
                raise self._error(
                    line, None, "not a getBatchDetail XML response (empty or not XML)"
                ) from None
            raise self._error(line, None, f"not well-formed XML (column {column})") from None
        except DefusedXmlException as error:
            raise self._error(None, None, f"refused unsafe XML: {error}") from None
        if self.header.error_code not in ("", "0000"):
            self._raise_api_error(None)

    def _line(self, builder: _TrackingBuilder) -> int:
        return int(builder.expat.CurrentLineNumber) if builder.expat is not None else 0

    def _transactions_end(self, builder: _TrackingBuilder) -> None:
        value = builder.total_rows
        if not value:
            return
        if not (value.isascii() and value.isdigit()):
            raise self._error(builder.transactions_line, "totalrows", f"{value!r} is not a count")
        self.header.total_rows = int(value)

    def _header_field(self, tag: str, element: Element, builder: _TrackingBuilder) -> None:
        text = (element.text or "").strip()
        header = self.header
        if tag == "errorcode":
            header.error_code = text
        elif tag == "error":
            header.error = text
            if header.error_code not in ("", "0000"):
                self._raise_api_error(self._line(builder))
        elif tag == "batchid":
            header.batch_id = text
        elif tag == "authprocessor":
            header.auth_processor = text
        elif tag in ("batchdate", "businessdate"):
            header.batch_date = header.batch_date or text

    def _raise_api_error(self, line: int | None) -> None:
        header = self.header
        raise self._error(
            line, "errorcode",
            f"Opayo answered error {header.error_code} ({header.error or 'no description'}); "
            "fetch the batch again and check the batch id and the Reporting API user",
        )  # fmt: skip

    def _total(self, element: Element, builder: _TrackingBuilder) -> None:
        line = self._line(builder)
        if element.tag.lower() != "total":
            raise self._error(line, None, f"<{element.tag}> inside <totals>, expected <total>")
        values = {child.tag.lower(): (child.text or "").strip() for child in element}
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

    def _transaction(self, element: Element, line: int) -> BatchTransaction:
        values = {child.tag: (child.text or "").strip() for child in element}
        if "vendortxcode" not in values:  # Opayo writes lower case; accept any case
            values = {tag.lower(): value for tag, value in values.items()}
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
            values.get("cardtype", "").upper(),
            fee,
        )
