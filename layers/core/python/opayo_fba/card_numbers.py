"""Card numbers (PANs): recognise them however they are written, refuse them, mask them.

A card number never enters the system, never appears in a response and never reaches a log.
Everything that screens input, quotes a caller's input back in an error or masks a log line
uses this module, so "what looks like a card number" has one definition:

- a run of 12 to 19 digits, where spaces, dashes and invisible format characters between the
  digits are ignored ("4929 0000-0000 6", "4929\u200b0000..."), and full-width or other
  compatibility digits count as digits (NFKC);
- with a card brand's prefix and one of its lengths, and a valid Luhn check digit. Requiring
  the brand keeps order ids and timestamps, one in ten of which pass Luhn by chance, from
  being mistaken for card numbers.

JSON documents are screened on their decoded values (after `\\u0034` unescaping), keys
included, numbers included, at any depth (`find_card_number`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

MASK = "[card number removed]"
MIN_DIGITS = 12
MAX_DIGITS = 19

# Card brands' number prefixes and lengths (ISO/IEC 7812 issuer ranges as the schemes publish
# them).
_BRANDS: tuple[tuple[tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    (((4, 4),), frozenset({13, 16, 19})),  # Visa
    (((51, 55), (2221, 2720)), frozenset({16})),  # Mastercard
    (((34, 34), (37, 37)), frozenset({15})),  # American Express
    (((300, 305), (36, 36), (38, 39)), frozenset(range(14, 20))),  # Diners Club
    (((6011, 6011), (644, 649), (65, 65), (622126, 622925)), frozenset(range(16, 20))),
    (((3528, 3589),), frozenset(range(16, 20))),  # JCB
    (((62, 62),), frozenset(range(16, 20))),  # UnionPay
    (((5018, 5018), (5020, 5020), (5038, 5038), (5893, 5893), (6304, 6304), (6759, 6759),
      (6761, 6763)), frozenset(range(12, 20))),  # Maestro
)  # fmt: skip

# What may stand between two digits of a written card number: whitespace, any dash or
# hyphen, and zero-width/format characters.
_JOINER = r"[\-\u00ad\u2010-\u2015\u2212\ufe58\ufe63\uff0d\u200b-\u200f\u2060-\u2064\ufeff]"
_SEPARATOR = rf"(?:\s|{_JOINER})"
# Digits joined by dashes or invisible characters only ("4929-0000-0000-6", "203-1234567-..."):
# one word, which is a card number as a whole or not at all.
_WORD = re.compile(rf"[0-9](?:{_JOINER}*[0-9])*")
_RUN = re.compile(rf"[0-9](?:{_SEPARATOR}*[0-9])*")
_NOT_DIGIT = re.compile(r"[^0-9]")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def looks_like_card_number(digits: str) -> bool:
    """A brand's prefix, one of its lengths, and a valid Luhn check digit."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    for ranges, lengths in _BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return luhn_valid(digits)
    return False


def _normalise(text: str) -> str:
    # NFKC turns full-width and other compatibility digits and spaces into ASCII ones.
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) in `text` of every written card number.

    Within a run of digits and separators, every sequence of whole words (digits joined by
    dashes, split by spaces) of 12-19 digits is a candidate: "ref 12 4929 0000 0000 6" finds
    the card; a 20-digit reference, or an Amazon order id 403-1234567-1234567, is one word
    and no card number.
    """
    for run in _RUN.finditer(text):
        groups = [
            (m.start() + run.start(), m.end() + run.start(), _NOT_DIGIT.sub("", m.group()))
            for m in _WORD.finditer(run.group())
        ]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last][2]
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) >= MIN_DIGITS and looks_like_card_number(digits):
                    yield groups[first][0], groups[last][1]


def contains_card_number(text: str) -> bool:
    """Whether `text` holds something written like a card number (see the module doc)."""
    return next(_card_spans(_normalise(text)), None) is not None


def mask_card_numbers(text: str) -> str:
    """`text` with every card number replaced by MASK (after NFKC, if it changed anything)."""
    normalised = _normalise(text)
    spans = list(_card_spans(normalised))
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, position = [], 0
    for start, end in merged:
        out += [normalised[position:start], MASK]
        position = end
    out.append(normalised[position:])
    return "".join(out)


def find_card_number(value: Any) -> bool:
    """Whether a decoded JSON value holds a card number in any string, key or number."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if contains_card_number(item):
                return True
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            if contains_card_number(str(item)) or contains_card_number(f"{item:f}"):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif contains_card_number(str(item)):
            return True
    return False


def mask_value(value: Any) -> Any:
    """A copy of a JSON-like value with every card number masked (log fields, error bodies)."""
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return MASK if contains_card_number(str(value)) else value
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(v) for v in value)
    return value


def quote_input(value: object, max_length: int = 40) -> str:
    """A caller's input, fit to be quoted in an error message or a log line: card numbers
    masked, control characters escaped, cut to `max_length` characters (marked with ...)."""
    text = mask_card_numbers(str(value))
    cut = text if len(text) <= max_length else text[:max_length] + "..."
    return repr(cut)
