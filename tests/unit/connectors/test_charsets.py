"""Report documents' charsets: Java and IANA names, and the Cp1252 fallback."""

from __future__ import annotations

import io

import pytest

from opayo_fba.amazon.charsets import declared_charset, python_encoding, readable_encoding


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/plain;charset=Cp1252", "Cp1252"),
        ('text/plain; charset="UTF-8"', "UTF-8"),
        ("text/plain", None),
        (None, None),
        ("text/plain; charset=", None),
    ],
)
def test_the_charset_is_read_from_the_content_type(
    content_type: str | None, charset: str | None
) -> None:
    assert declared_charset(content_type) == charset


@pytest.mark.parametrize(
    ("charset", "encoding"),
    [
        ("Cp1252", "cp1252"),
        ("windows-1252", "cp1252"),
        ("UTF-8", "utf-8-sig"),
        ("UTF8", "utf-8-sig"),
        ("ISO8859_1", "iso8859-1"),
        ("windows-31j", "cp932"),
        ("MS932", "cp932"),
        ("x-windows-950", "cp950"),
        ("no-such-charset", "cp1252"),
        (None, "cp1252"),
    ],
)
def test_java_and_iana_names_become_python_codecs(charset: str | None, encoding: str) -> None:
    assert python_encoding(charset) == encoding


def test_bytes_not_in_the_declared_charset_are_read_as_cp1252() -> None:
    stream = io.BytesIO("Größe M – Mug™\n".encode("cp1252"))
    assert readable_encoding(stream, "UTF-8") == "cp1252"
    assert stream.tell() == 0


def test_bytes_in_neither_charset_are_an_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        readable_encoding(io.BytesIO(b"\xe9\x81\n"), "UTF-8")
