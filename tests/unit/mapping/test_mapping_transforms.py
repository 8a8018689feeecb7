"""Each transform and each condition, one behaviour per test."""

from __future__ import annotations

import pytest

from opayo_fba.mapping import MappingError
from tests.unit.mapping.helpers import apply, mapped, mapped_line, rule

# -- lookup -----------------------------------------------------------------------------


def test_lookup_replaces_a_known_value() -> None:
    table = {"express": "Expedited", "std": "Standard"}
    assert mapped({"v": "express"}, [{"op": "lookup", "table": table}]) == "Expedited"


def test_lookup_matches_numbers_by_their_text() -> None:
    assert mapped({"v": 2}, [{"op": "lookup", "table": {"2": "two"}}]) == "two"


def test_lookup_is_case_sensitive_unless_told_otherwise() -> None:
    table = {"Express": "Expedited"}
    with pytest.raises(MappingError, match="no entry for 'EXPRESS'"):
        mapped({"v": "EXPRESS"}, [{"op": "lookup", "table": table}])
    transform = {"op": "lookup", "table": table, "case_sensitive": False}
    assert mapped({"v": "EXPRESS"}, [transform]) == "Expedited"


def test_lookup_falls_back_to_its_default() -> None:
    transform = {"op": "lookup", "table": {"a": "A"}, "default": "Z"}
    assert mapped({"v": "b"}, [transform]) == "Z"


def test_lookup_without_default_names_the_unknown_value_and_the_fix() -> None:
    with pytest.raises(MappingError) as caught:
        mapped({"v": "drone"}, [{"op": "lookup", "table": {"a": "A"}}])
    message = str(caught.value)
    assert "'drone'" in message
    assert "give the lookup a default" in message
    assert caught.value.rule == "the-rule"
    assert caught.value.field == "payment.metadata.out"


def test_lookup_refuses_a_list() -> None:
    with pytest.raises(MappingError, match="single text or number"):
        mapped({"v": ["a"]}, [{"op": "lookup", "table": {"a": "A"}}])


# -- default ------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_default_fills_missing_and_empty_values(empty: object) -> None:
    assert mapped({"v": empty}, [{"op": "default", "value": "fallback"}]) == "fallback"


def test_default_keeps_a_present_value() -> None:
    assert mapped({"v": "kept"}, [{"op": "default", "value": "fallback"}]) == "kept"


def test_default_fills_a_missing_path() -> None:
    assert mapped({}, [{"op": "default", "value": 7}], source="no.such.path") == 7


# -- format -------------------------------------------------------------------------------


def test_format_uses_the_value_and_named_fields() -> None:
    transform = {
        "op": "format",
        "template": "Order {value} ({campaign})",
        "fields": {"campaign": "meta.campaign"},
    }
    source = {"v": "1042", "meta": {"campaign": "BF26"}}
    assert mapped(source, [transform]) == "Order 1042 (BF26)"


def test_format_writes_missing_fields_as_empty_text() -> None:
    transform = {"op": "format", "template": "[{value}|{x}]", "fields": {"x": "nothing"}}
    assert mapped({"v": "a"}, [transform]) == "[a|]"


def test_format_supports_format_specs() -> None:
    assert mapped({"v": 42}, [{"op": "format", "template": "{value:05d}"}]) == "00042"


def test_format_with_a_spec_that_does_not_fit_the_value_fails_clearly() -> None:
    with pytest.raises(MappingError, match="format string"):
        mapped({"v": "text"}, [{"op": "format", "template": "{value:05d}"}])


# -- concat -------------------------------------------------------------------------------


def test_concat_joins_the_value_and_parts_skipping_empty_ones() -> None:
    transform = {"op": "concat", "parts": ["last", "middle"], "separator": " "}
    source = {"v": "Hannah", "last": "Price", "middle": None}
    assert mapped(source, [transform]) == "Hannah Price"


def test_concat_joins_a_list_source() -> None:
    transform = {"op": "concat", "separator": ", "}
    assert mapped({"a": "x", "b": 2}, [transform], source="[a, b]") == "x, 2"


def test_concat_can_keep_empty_parts() -> None:
    transform = {"op": "concat", "parts": ["b"], "separator": "|", "skip_empty": False}
    assert mapped({"v": "a", "b": ""}, [transform]) == "a|"


def test_concat_refuses_an_object() -> None:
    with pytest.raises(MappingError, match="concat works on text"):
        mapped({"v": "a", "b": {"x": 1}}, [{"op": "concat", "parts": ["b"]}])


# -- regex --------------------------------------------------------------------------------


def test_regex_extract_takes_the_first_group_by_default() -> None:
    transform = {"op": "regex_extract", "pattern": r"CAMP-(\d+)"}
    assert mapped({"v": "ref CAMP-2026 x"}, [transform]) == "2026"


def test_regex_extract_takes_a_named_group() -> None:
    transform = {"op": "regex_extract", "pattern": r"(?P<year>\d{4})-(?P<n>\d+)", "group": "n"}
    assert mapped({"v": "2026-17"}, [transform]) == "17"


def test_regex_extract_without_groups_takes_the_whole_match() -> None:
    assert mapped({"v": "abc123def"}, [{"op": "regex_extract", "pattern": r"\d+"}]) == "123"


def test_regex_extract_without_a_match_writes_nothing() -> None:
    result = apply(
        {"v": "none"}, rule(source="v", transforms=[{"op": "regex_extract", "pattern": r"\d+"}])
    )
    assert "out" not in result.payment_metadata
    assert result.outcomes[0].note == "no value"


def test_regex_replace_replaces_every_match_or_count() -> None:
    transform = {"op": "regex_replace", "pattern": "[^A-Za-z0-9 ]+", "replacement": " "}
    assert mapped({"v": "BF-26/knit"}, [transform]) == "BF 26 knit"
    first_only = {"op": "regex_replace", "pattern": "-", "replacement": "+", "count": 1}
    assert mapped({"v": "a-b-c"}, [first_only]) == "a+b-c"


# -- date_format --------------------------------------------------------------------------


def test_date_format_converts_iso_8601_to_utc() -> None:
    transform = {"op": "date_format"}
    assert mapped({"v": "2026-11-27T15:03:12+01:00"}, [transform]) == "2026-11-27T14:03:12Z"
    assert mapped({"v": "2026-11-27T14:03:12Z"}, [transform]) == "2026-11-27T14:03:12Z"


def test_date_format_parses_a_custom_format_in_an_assumed_zone() -> None:
    transform = {
        "op": "date_format",
        "input_format": "%d/%m/%Y %H:%M",
        "assume_timezone": "Europe/London",
    }
    # 1 July is British Summer Time (UTC+1).
    assert mapped({"v": "01/07/2026 09:30"}, [transform]) == "2026-07-01T08:30:00Z"


def test_date_format_writes_a_strftime_format_in_the_output_zone() -> None:
    transform = {
        "op": "date_format",
        "output_format": "%d.%m.%Y %H:%M",
        "output_timezone": "Europe/Berlin",
    }
    assert mapped({"v": "2026-11-27T23:30:00Z"}, [transform]) == "28.11.2026 00:30"


def test_date_format_refuses_a_time_without_zone_unless_one_is_assumed() -> None:
    with pytest.raises(MappingError, match="has no time zone; set assume_timezone"):
        mapped({"v": "2026-11-27T14:03:12"}, [{"op": "date_format"}])


def test_date_format_names_the_expected_format_on_bad_input() -> None:
    with pytest.raises(MappingError, match="not a date in the format %d/%m/%Y"):
        mapped(
            {"v": "2026-11-27"},
            [{"op": "date_format", "input_format": "%d/%m/%Y", "assume_timezone": "UTC"}],
        )


# -- case, trim, split ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("upper", "MIXED CASE"),
        ("lower", "mixed case"),
        ("title", "Mixed Case"),
        ("capitalize", "Mixed case"),
    ],
)
def test_case(to: str, expected: str) -> None:
    assert mapped({"v": "mIXED cASE"}, [{"op": "case", "to": to}]) == expected


def test_trim_strips_and_collapses_spaces_but_keeps_line_breaks() -> None:
    assert mapped({"v": "  a   b \n c  "}, [{"op": "trim"}]) == "a b \n c"


def test_split_makes_a_list_without_empty_items() -> None:
    transform = {"op": "split", "separator": ";"}
    assert mapped_line({"v": "a@x.io; b@x.io;;"}, [transform]) == ["a@x.io", "b@x.io"]
    assert mapped_line({"v": ["kept"]}, [transform]) == ["kept"]


# -- truncate -----------------------------------------------------------------------------


def test_truncate_uses_the_target_limit_read_from_the_amazon_schema() -> None:
    result = apply(
        {"v": "x" * 60},
        rule("amazon.displayableOrderId", source="v", transforms=[{"op": "truncate"}]),
    )
    assert result.fulfillment_order["displayableOrderId"] == "x" * 40


def test_truncate_uses_opayo_limits() -> None:
    result = apply(
        {"v": "y" * 150},
        rule("opayo.description", source="v", transforms=[{"op": "truncate", "ellipsis": "…"}]),
    )
    assert result.opayo["description"] == "y" * 99 + "…"


def test_truncate_with_an_explicit_length_and_short_text_is_a_no_op() -> None:
    assert mapped({"v": "abcdef"}, [{"op": "truncate", "max_length": 3}]) == "abc"
    assert mapped({"v": "ab"}, [{"op": "truncate", "max_length": 3}]) == "ab"


def test_truncate_without_any_limit_fails_at_apply_time_too() -> None:
    with pytest.raises(MappingError, match="no length limit; give max_length"):
        mapped({"v": "abc"}, [{"op": "truncate"}])


# -- money --------------------------------------------------------------------------------


def test_money_parses_decimal_text_into_minor_units() -> None:
    assert mapped_line({"v": "14.20"}, [{"op": "money", "currency": "GBP"}]) == {
        "amount": 1420,
        "currency": "GBP",
    }
    assert mapped_line({"v": "1.234,5"}, [{"op": "money", "currency": "EUR"}]) == {
        "amount": 123450,
        "currency": "EUR",
    }


def test_money_reads_the_currency_from_the_scope_and_accepts_json_numbers() -> None:
    transform = {"op": "money", "currency_path": "line.cur"}
    assert mapped_line({"v": 17.5, "cur": "EUR"}, [transform]) == {
        "amount": 1750,
        "currency": "EUR",
    }
    assert mapped_line({"v": 1750, "cur": "JPY"}, [transform]) == {
        "amount": 1750,
        "currency": "JPY",
    }


def test_money_refuses_more_decimals_than_the_currency_has() -> None:
    with pytest.raises(MappingError, match=r"money: amount 17\.5 has more than 0 decimal places"):
        mapped_line({"v": 17.5, "cur": "JPY"}, [{"op": "money", "currency_path": "line.cur"}])


def test_money_needs_a_currency_at_the_currency_path() -> None:
    with pytest.raises(MappingError, match=r"currency_path 'line\.cur' gave nothing"):
        mapped_line({"v": "1.00"}, [{"op": "money", "currency_path": "line.cur"}])


# -- conditions ---------------------------------------------------------------------------


def test_rule_condition_on_another_field() -> None:
    when = {"path": "country", "equals": "JP"}
    assert mapped({"v": "a", "country": "JP"}, [], when=when) == "a"
    assert mapped({"v": "a", "country": "GB"}, [], when=when) is None


def test_condition_on_the_current_value_compares_numbers_and_text_loosely() -> None:
    assert mapped({"v": 100}, [], when={"equals": "100"}) == 100
    assert mapped({"v": True}, [], when={"equals": "true"}) is None


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"not_equals": "a"}, False),
        ({"one_of": ["x", "a"]}, True),
        ({"not_one_of": ["x", "a"]}, False),
        ({"matches": "^a$"}, True),
        ({"matches": "^b"}, False),
        ({"exists": True}, True),
        ({"exists": False}, False),
        ({"path": "missing", "exists": False}, True),
        ({"all_of": [{"equals": "a"}, {"path": "n", "equals": 1}]}, True),
        ({"all_of": [{"equals": "a"}, {"path": "n", "equals": 2}]}, False),
        ({"any_of": [{"equals": "b"}, {"path": "n", "equals": 1}]}, True),
        ({"any_of": [{"equals": "b"}, {"path": "n", "equals": 2}]}, False),
        ({"not": {"equals": "a"}}, False),
        ({"not": {"equals": "b"}}, True),
        ({"path": "missing", "equals": None}, True),
    ],
)
def test_condition_tests(condition: dict[str, object], holds: bool) -> None:
    result = mapped({"v": "a", "n": 1}, [], when=condition)
    assert (result == "a") is holds


def test_transform_condition_skips_only_that_transform() -> None:
    transforms = [
        {"op": "case", "to": "upper", "when": {"path": "shout", "equals": True}},
        {"op": "format", "template": "<{value}>"},
    ]
    assert mapped({"v": "hi", "shout": True}, transforms) == "<HI>"
    assert mapped({"v": "hi", "shout": False}, transforms) == "<hi>"


def test_null_passes_through_transforms_that_need_a_value() -> None:
    transforms = [{"op": "case", "to": "upper"}, {"op": "default", "value": "none"}]
    assert mapped({}, transforms) == "none"
