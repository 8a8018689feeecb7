"""Byte chunks (an S3 or HTTP body) -> text lines, for the settlement parser.

    body = s3.get_object(Bucket=b, Key=k)["Body"]
    parser = SettlementParser(text_lines(body.iter_chunks(), uri), source=uri)

Gzip is recognised by its magic number, UTF-8 is decoded incrementally (a BOM is dropped),
and only one chunk and one line are held at a time.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterable, Iterator

from opayo_fba.reconcile.errors import MalformedInputError

_GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE_BYTES = 1 << 20


def _gunzip(chunks: Iterator[bytes], first: bytes, source: str) -> Iterator[bytes]:
    try:
        yield from _inflate(_chain(first, chunks))
    except zlib.error as error:
        raise MalformedInputError(source, None, None, f"broken gzip data: {error}") from None


def _inflate(chunks: Iterator[bytes]) -> Iterator[bytes]:
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
    for chunk in chunks:
        data = inflate.decompress(chunk)
        while inflate.eof and inflate.unused_data:  # a multi-member gzip file
            rest = inflate.unused_data
            if data:
                yield data
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflate.decompress(rest)
        if data:
            yield data
    tail = inflate.flush()
    if tail:
        yield tail


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def text_lines(chunks: Iterable[bytes], source: str = "input") -> Iterator[str]:
    """The lines of the (possibly gzipped) UTF-8 text in `chunks`, each with its newline.

    Undecodable bytes raise UnicodeDecodeError while iterating (the settlement parser turns
    it into an error naming the line); broken gzip data raises MalformedInputError.
    """
    iterator = iter(chunks)
    first = b""
    for chunk in iterator:  # enough bytes to see the gzip magic number
        first += chunk
        if len(first) >= len(_GZIP_MAGIC):
            break
    data: Iterator[bytes] = (
        _gunzip(iterator, first, source)
        if first.startswith(_GZIP_MAGIC)
        else _chain(first, iterator)
    )
    # Split the bytes on b"\n" (which never occurs inside a UTF-8 sequence) and decode line
    # by line, so an undecodable byte fails on its own line, not on its chunk. Amazon writes
    # "\n" or "\r\n" (the parser strips the "\r"); other Unicode line breaks inside a field
    # stay in the field.
    pending = b""
    first_line = True
    lines = 0
    for chunk in data:
        pieces = (pending + chunk).split(b"\n")
        pending = pieces.pop()
        if len(pending) > MAX_LINE_BYTES:  # bounded memory, whatever the input
            raise MalformedInputError(
                source, lines + len(pieces) + 1, None,
                f"a line longer than {MAX_LINE_BYTES} bytes: not a settlement flat file",
            )  # fmt: skip
        lines += len(pieces)
        for piece in pieces:
            if first_line:
                piece = piece.removeprefix(codecs.BOM_UTF8)
                first_line = False
            yield piece.decode("utf-8") + "\n"
    if pending:
        yield (pending.removeprefix(codecs.BOM_UTF8) if first_line else pending).decode("utf-8")
