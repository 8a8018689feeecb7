"""What looks like a card number, however it is written, and how it is masked."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opayo_fba.card_numbers import (
    MASK,
    contains_card_number,
    find_card_number,
    looks_like_card_number,
    mask_card_numbers,
    mask_value,
    quote_input,
)
from opayo_fba.errors import InvalidInputError
from opayo_fba.intake.orders import refuse_card_numbers

VISA = "4929000000006"
MASTERCARD = "5404000000000001"


@pytest.mark.parametrize(
    "text",
    [
        VISA,
        "4929 0000 0000 6",
        "4929-0000-0000-6",
        "5404 - 0000  0000-0001",
        "4929\u00a00000\u00a00000\u00a06",  # no-break spaces
        "4\u200b9\u200b2\u200b9000000006",  # zero-width spaces
        "\uff14\uff19\uff12\uff19000000006",  # full-width digits
        "4929\u20130000\u20130000\u20136",  # en dashes
        "ref 12 4929 0000 0000 6",  # a card number after an unrelated number
        "card:4929000000006.",
    ],
)
def test_card_numbers_are_found_however_they_are_written(text: str) -> None:
    assert contains_card_number(text)
    masked = mask_card_numbers(text)
    assert MASK in masked
    assert not contains_card_number(masked)


@pytest.mark.parametrize(
    "text",
    [
        "403-3812345-1234567",  # an Amazon order id is one word, not a card number
        "07700 900123",
        "2026-11-28T10:00:00Z",
        "49290000000061",  # a Visa prefix but no Visa length
        "1234567890123",  # no brand
        "4929000000007",  # fails Luhn
    ],
)
def test_ids_phones_and_near_misses_are_not_card_numbers(text: str) -> None:
    assert not contains_card_number(text)
    assert mask_card_numbers(text) == text


def test_decoded_json_values_keys_and_numbers_are_screened() -> None:
    assert find_card_number({"a": [{"b": f"x {VISA} y"}]})
    assert find_card_number({"source": {VISA: 1}})
    assert find_card_number({"number": int(VISA)})
    assert find_card_number([[[["5404 0000 0000 0001"]]]])
    assert not find_card_number({"phone": "020 7946 0000", "qty": 3, "ok": True, "x": None})


@pytest.mark.parametrize(
    "body",
    [
        # Every digit escaped: the raw text holds no digit at all.
        '{"note": "' + "".join(f"\\u{ord(c):04x}" for c in VISA) + '"}',
        '{"source": {"' + VISA + '": "x"}}',
        '{"source": {"n": ' + VISA + "}}",
        '{"a": "4929 \\u0030000 0000 6"}',
    ],
)
def test_refuse_card_numbers_screens_the_decoded_body(body: str) -> None:
    with pytest.raises(InvalidInputError, match="looks like a card number") as refused:
        refuse_card_numbers(body)
    assert "4929" not in str(refused.value)


def test_mask_value_masks_every_string_key_and_number() -> None:
    masked = mask_value({VISA: [f"card {VISA}", int(VISA), 3, None], "ok": "fine"})
    assert json.dumps(masked).count(MASK) == 3
    assert masked["ok"] == "fine"
    assert not contains_card_number(json.dumps(masked))


def test_quote_input_masks_and_cuts_what_it_quotes() -> None:
    assert quote_input(f"{MASTERCARD} and more") == repr(f"{MASK} and more")
    assert quote_input("x" * 100, 10) == repr("x" * 10 + "...")
    assert quote_input("line\r\nbreak") == repr("line\r\nbreak")  # repr escapes control chars


@settings(max_examples=200, derandomize=True)
@given(
    prefix=st.text(max_size=20),
    suffix=st.text(max_size=20),
    separator=st.sampled_from([" ", "-", "", "\u00a0", " - "]),
)
def test_a_card_number_between_any_text_is_masked(prefix: str, suffix: str, separator: str) -> None:
    written = separator.join(MASTERCARD[i : i + 4] for i in range(0, 16, 4))
    text = f"{prefix} {written} {suffix}"
    assert contains_card_number(text)
    assert MASTERCARD not in mask_card_numbers(text).replace(" ", "").replace("-", "")


def test_brand_table_accepts_every_brand() -> None:
    for pan in ("4111111111111111", "2221000000000009", "378282246310005", "6011111111111117",
                "3530111333300000", "36227206271667", "6759649826438453"):  # fmt: skip
        assert looks_like_card_number(pan), pan
