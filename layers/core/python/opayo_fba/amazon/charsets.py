"""Which text encoding an SP-API report document is in.

Amazon names a flat-file document's charset in its `Content-Type`, often with Java's names
(`text/plain; charset=Cp1252` for listings and inventory reports with EU product names, ™ and
accents; amzn/selling-partner-api-models issues #2748 and #4031), not always UTF-8. We decode
by the declared charset and fall back to Cp1252 when none is declared, the name is unknown, or
the bytes are not in the declared charset (python-amazon-sp-api falls back to ISO-8859-1,
which turns ™ and € into control characters).
"""

from __future__ import annotations

import codecs
from email.message import Message
from typing import IO

FALLBACK_ENCODING = "cp1252"
_CHUNK = 64 * 1024
# Java charset names Python's codec registry does not know under the same name.
_JAVA_NAMES = {
    "windows-31j": "cp932",
    "x-windows-950": "cp950",
    "x-windows-949": "cp949",
    "x-sjis": "shift_jis",
    "x-euc-jp-linux": "euc_jp",
    "unicodebigunmarked": "utf-16-be",
    "unicodelittleunmarked": "utf-16-le",
    "x-utf-16le-bom": "utf-16",
    "unicode": "utf-16",
}


def declared_charset(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type header, or None."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return charset.strip() if isinstance(charset, str) and charset.strip() else None


def python_encoding(charset: str | None) -> str:
    """The Python codec for a declared charset (Java or IANA name); Cp1252 when unknown.

    UTF-8 becomes `utf-8-sig`, so a byte-order mark is not read as part of the header row.
    """
    if not charset:
        return FALLBACK_ENCODING
    name = charset.strip().strip('"').lower()
    try:
        codec = codecs.lookup(_JAVA_NAMES.get(name, name)).name
    except LookupError:
        return FALLBACK_ENCODING
    return "utf-8-sig" if codec == "utf-8" else codec


def readable_encoding(stream: IO[bytes], declared: str | None) -> str:
    """The encoding to read `stream` (seekable) with: the declared one if every byte decodes
    in it, else Cp1252. UnicodeDecodeError if neither reads it. The stream is left at 0."""
    first = python_encoding(declared)
    candidates = [first] if first == FALLBACK_ENCODING else [first, FALLBACK_ENCODING]
    failure: UnicodeDecodeError | None = None
    for encoding in candidates:
        stream.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            failure = error
            continue
        stream.seek(0)
        return encoding
    stream.seek(0)
    assert failure is not None
    raise failure
