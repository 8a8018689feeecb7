from __future__ import annotations

import io
import tracemalloc

import pytest

from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.opayo import CAPTURE, OTHER, REFUND, BatchParser
from tests.unit.reconcile.builders import batch_xml, transaction

TOTALS = (
    "<total><currency>GBP</currency><count>3</count><gross>15.00</gross>"
    "<fees>0.60</fees><net>14.40</net></total>"
)


def parse(document: str | bytes, source: str = "batch.xml") -> BatchParser:
    data = document.encode() if isinstance(document, str) else document
    return BatchParser(io.BytesIO(data), source)


def test_the_sandbox_shape_is_read_with_header_totals_and_lines() -> None:
    parser = parse(
        batch_xml(
            [
                transaction("ORD-1", "12.50", fee="0.17"),
                transaction("ORD-2", "5.00", kind="Deferred", card="mc"),
                transaction("RFND-9", "-2.50", kind="Refund", related="ORD-1"),
            ],
            totals=TOTALS,
        )
    )
    first, second, refund = list(parser.transactions())
    assert (first.vendor_tx_code, first.kind, first.amount_minor, first.line) == (
        "ORD-1", CAPTURE, 1250, 12,
    )  # fmt: skip
    assert first.reported_fee_minor == 17
    assert (second.kind, second.card_type, second.transaction_type) == (CAPTURE, "MC", "DEFERRED")
    assert (refund.kind, refund.amount_minor, refund.related_vendor_tx_code) == (
        REFUND, 250, "ORD-1",
    )  # fmt: skip
    header = parser.header
    assert (header.batch_id, header.auth_processor, header.batch_date) == (
        "501", "Elavon", "2026-11-15",
    )  # fmt: skip
    assert header.total_rows == 3
    totals = header.totals["GBP"]
    assert (totals.gross_minor, totals.fees_minor, totals.net_minor, totals.count) == (
        1500, 60, 1440, 3,
    )  # fmt: skip


def test_flat_shape_with_attributes_upper_case_tags_and_captured_refunded_totals() -> None:
    document = (
        "<VSPACCESS><ERRORCODE>0000</ERRORCODE><BATCHID>7</BATCHID>"
        "<TOTALS><TOTAL><CURRENCY>EUR</CURRENCY><CAPTURED>10,00</CAPTURED>"
        "<REFUNDED>1,00</REFUNDED></TOTAL></TOTALS>"
        '<TRANSACTIONS totalrows="2"><TRANSACTION><VENDORTXCODE>A</VENDORTXCODE>'
        "<TXTYPE>PAYMENT</TXTYPE><AMOUNT>10,00</AMOUNT><CURRENCY>EUR</CURRENCY></TRANSACTION>"
        "<TRANSACTION><VENDORTXCODE>B</VENDORTXCODE><TXTYPE>VOID</TXTYPE>"
        "<AMOUNT>1.00</AMOUNT><CURRENCY>EUR</CURRENCY></TRANSACTION></TRANSACTIONS></VSPACCESS>"
    )
    parser = parse(document)
    kinds = [(t.vendor_tx_code, t.kind, t.amount_minor) for t in parser.transactions()]
    assert kinds == [("A", CAPTURE, 1000), ("B", OTHER, 100)]
    assert parser.header.total_rows == 2
    assert parser.header.batch_id == "7"
    assert parser.header.totals["EUR"].gross_minor == 900


def test_an_iterable_of_byte_chunks_is_accepted() -> None:
    data = batch_xml([transaction(f"ORD-{i}", "1.00") for i in range(50)]).encode()
    chunks = (data[i : i + 7] for i in range(0, len(data), 7))
    assert len(list(BatchParser(chunks, "s3://bucket/batch.xml").transactions())) == 50


@pytest.mark.parametrize(
    ("document", "line", "field", "message"),
    [
        (batch_xml([transaction("A", "1.00"), transaction("B", "1.0.0")]), 13, "amount", "amount"),
        (batch_xml([transaction("A", "1.00"), transaction("", "1.00")]), 13, "vendortxcode",
         "missing"),
        (batch_xml([transaction("A", "-1.00")]), 12, "amount", "cannot be negative"),
        (batch_xml([transaction("A", "1.00", currency="ZZZ")]), 12, "currency", "ZZZ"),
        (batch_xml([transaction("A", "1.00")]).replace("</batch>", ""), 15, None, "well-formed"),
        ("<html><body>Service unavailable</body></html>", 1, None, "expected <vspaccess>"),
        ("", 1, None, "empty or not XML"),
    ],
)  # fmt: skip
def test_malformed_batches_name_the_line_and_field(
    document: str, line: int, field: str | None, message: str
) -> None:
    with pytest.raises(MalformedInputError, match=message) as raised:
        list(parse(document).transactions())
    assert (raised.value.source, raised.value.line, raised.value.field) == (
        "batch.xml", line, field,
    )  # fmt: skip


def test_an_error_response_says_what_opayo_answered() -> None:
    document = (
        "<vspaccess><errorcode>0050</errorcode><error>No batch 9 for that authprocessor</error>"
        "<timestamp>16/11/2026 01:00:00</timestamp></vspaccess>"
    )
    with pytest.raises(MalformedInputError, match=r"0050.*No batch 9") as raised:
        list(parse(document).transactions())
    assert raised.value.field == "errorcode"


def test_entities_and_dtds_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><vspaccess><batchid>&lol2;</batchid></vspaccess>'
    )
    with pytest.raises(MalformedInputError, match="unsafe XML"):
        list(parse(bomb).transactions())


def test_memory_does_not_grow_with_the_batch() -> None:
    def peak(count: int) -> int:
        data = batch_xml([transaction(f"ORDER-{i:08d}", "19.99") for i in range(count)]).encode()
        tracemalloc.start()
        try:
            for _ in parse(data).transactions():
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(500), peak(10_000)
    # Twenty times the transactions may not cost anywhere near twenty times the memory: the
    # parsed tree is pruned as it goes (the document bytes themselves are not traced here).
    assert large < small * 3
