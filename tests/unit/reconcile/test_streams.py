from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opayo_fba.reconcile.amazon import SettlementParser
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.streams import text_lines
from tests.unit.reconcile.builders import order_fee, settlement_lines


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@given(
    lines=st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
            max_size=20,
        )
    ),
    size=st.integers(min_value=1, max_value=17),
    compress=st.booleans(),
    crlf=st.booleans(),
)
def test_lines_survive_any_chunking(
    lines: list[str], size: int, compress: bool, crlf: bool
) -> None:
    end = "\r\n" if crlf else "\n"
    data = "".join(line + end for line in lines).encode("utf-8")
    if compress:
        data = gzip.compress(data)
    assert [line.rstrip("\r\n") for line in text_lines(chunked(data, size))] == lines


def test_bom_multi_member_gzip_and_no_final_newline() -> None:
    data = gzip.compress("\ufeffa\tb\n".encode()) + gzip.compress("c\u2028d".encode())
    assert list(text_lines(chunked(data, 3))) == ["a\tb\n", "c\u2028d"]


def test_a_settlement_from_s3_like_chunks_parses_like_a_file() -> None:
    lines = settlement_lines([order_fee("MCF-1", "-1,50"), order_fee("MCF-2", "-2.00")],
                             total="-3.50")  # fmt: skip
    data = gzip.compress("".join(lines).encode("utf-8"))
    parser = SettlementParser(text_lines(chunked(data, 64), "s3://b/k"), "s3://b/k")
    assert [row.amount_minor for row in parser.rows()] == [-150, -200]


def test_broken_gzip_and_bad_utf8_are_named() -> None:
    data = gzip.compress(b"header\n" * 100)
    with pytest.raises(MalformedInputError, match="broken gzip") as raised:
        list(text_lines([data[:20], b"garbage" * 10], "s3://b/k"))
    assert raised.value.source == "s3://b/k"
    lines = settlement_lines([order_fee("MCF-1", "-1.00")], total="-1.00")
    data = "".join(lines).encode() + b"\xff\xfe\n"
    with pytest.raises(MalformedInputError, match="not UTF-8") as error:
        list(SettlementParser(text_lines([data]), "x").rows())
    assert error.value.line == 4


def test_a_runaway_line_is_refused_instead_of_buffered() -> None:
    chunks = [b"header\n", b"x" * 600_000, b"y" * 600_000]
    with pytest.raises(MalformedInputError, match="longer than") as raised:
        list(text_lines(chunks, "blob"))
    assert raised.value.line == 2
