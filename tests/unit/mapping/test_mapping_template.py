"""A template's own validation (pydantic) and its checks against the targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opayo_fba.mapping import TemplateError, check_template, parse_template
from opayo_fba.mapping.targets import resolve_target
from tests.unit.mapping.helpers import rule, template


def _parse(*rules: dict[str, Any], **extra: Any) -> Any:
    return parse_template(
        {"name": "shop", "version": 2, "rules": list(rules), **extra}, origin="t.yaml"
    )


def _error(*rules: dict[str, Any], **extra: Any) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        check_template(_parse(*rules, **extra))
    return caught.value


# -- shape (pydantic) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_rule", "field", "reason"),
    [
        (rule(source="items[?"), "source", "not a valid JMESPath expression"),
        (rule(source="a", value="b"), None, "exactly one of source"),
        (rule(), None, "exactly one of source"),
        (
            rule(source="a", transforms=[{"op": "regex_replace", "pattern": "("}]),
            "transforms.0.regex_replace.pattern",
            "not a valid regular expression",
        ),
        (
            rule(source="a", transforms=[{"op": "date_format", "assume_timezone": "Mars/Base"}]),
            "transforms.0.date_format.assume_timezone",
            "unknown time zone 'Mars/Base'",
        ),
        (
            rule(source="a", transforms=[{"op": "format", "template": "{value} {who}"}]),
            "transforms.0.format",
            "placeholder {who} is neither {value} nor one of fields",
        ),
        (
            rule(source="a", transforms=[{"op": "format", "template": "{value.__class__}"}]),
            "transforms.0.format",
            "must be a plain name",
        ),
        (
            rule(source="a", transforms=[{"op": "regex_extract", "pattern": "(a)", "group": "x"}]),
            "transforms.0.regex_extract",
            "no group named 'x'",
        ),
        (
            rule(source="a", transforms=[{"op": "money"}]),
            "transforms.0.money",
            "exactly one of currency and currency_path",
        ),
        (rule(source="a", transforms=[{"op": "shout"}]), "transforms.0", "does not match any"),
        (rule(source="a", when={"path": "x"}), "when", "a condition needs a test"),
        (rule(source="a", colour="red"), "colour", "Extra inputs are not permitted"),
    ],
)
def test_malformed_rules_name_the_rule_and_the_field(
    bad_rule: dict[str, Any], field: str | None, reason: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        _parse(bad_rule)
    error = caught.value
    assert error.template == "shop"
    assert error.rule == "the-rule"
    assert error.field == field
    assert reason in str(error)
    assert "t.yaml" in str(error)


def test_an_unnamed_rule_is_named_by_its_position() -> None:
    with pytest.raises(TemplateError) as caught:
        _parse(rule(source="a"), {"target": "line.x", "source": "a"})
    assert caught.value.rule == "#2"
    assert caught.value.field == "name"


def test_rule_names_are_unique() -> None:
    with pytest.raises(TemplateError, match="two rules are named 'the-rule'"):
        _parse(rule(source="a"), rule(source="b"))


def test_line_rules_need_to_know_where_the_lines_are() -> None:
    with pytest.raises(TemplateError, match="per-line field: add `lines:"):
        _parse(rule("line.hsCode", source="product.hs"))


def test_a_template_needs_rules_and_a_valid_name() -> None:
    with pytest.raises(TemplateError, match="rules"):
        parse_template({"name": "x", "rules": []}, origin="t.yaml")
    with pytest.raises(TemplateError) as caught:
        parse_template({"name": "Not A Slug", "rules": [rule(source="a")]}, origin="t.yaml")
    assert caught.value.field == "name"


def test_a_template_must_be_an_object() -> None:
    with pytest.raises(TemplateError, match="must hold a mapping template"):
        parse_template(["rules"], origin="t.yaml")


# -- meaning (check_template) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("amazon.displayableOrderKomment", "has no field 'displayableOrderKomment'"),
        (
            "amazon.sellerFulfillmentOrderId",
            "may not be set by a template: it is the idempotency key",
        ),
        ("amazon.fulfillmentAction", "creates every order on Hold"),
        ("amazon.items[].quantity", "comes from the order line"),
        ("opayo.amount", "only opayo.description and opayo.vendorData"),
        ("payment.metadata.has space", "one name of letters, digits and _"),
        ("ebay.title", "a target starts with amazon."),
    ],
)
def test_unknown_or_owned_targets_are_refused(target: str, reason: str) -> None:
    lines = {"lines": {"path": "items"}} if "[]" in target else {}
    error = _error(rule(target, source="a"), **lines)
    assert error.rule == "the-rule"
    assert error.field == target
    assert reason in str(error)


def test_truncate_needs_a_limit_from_somewhere() -> None:
    error = _error(rule("payment.metadata.x", source="a", transforms=[{"op": "truncate"}]))
    assert "has no length limit; give max_length" in str(error)


def test_truncate_may_not_exceed_the_field_limit() -> None:
    transforms = [{"op": "truncate", "max_length": 41}]
    error = _error(rule("amazon.displayableOrderId", source="a", transforms=transforms))
    assert "exceeds the field's limit of 40" in str(error)


def test_truncate_only_on_text_fields() -> None:
    error = _error(rule("amazon.notificationEmails", source="a", transforms=[{"op": "truncate"}]))
    assert "is not a text field" in str(error)


def test_a_lookup_into_an_enumerated_field_may_only_yield_allowed_values() -> None:
    transforms = [{"op": "lookup", "table": {"x": "Standard", "y": "Overnight"}}]
    error = _error(rule("amazon.shippingSpeedCategory", source="a", transforms=transforms))
    assert "lookup entry 'y'" in str(error)
    assert "'Overnight' is not one of the allowed values: Standard, Expedited" in str(error)


def test_a_lookup_default_is_checked_too() -> None:
    transforms = [{"op": "lookup", "table": {"x": "Standard"}, "default": "Slow"}]
    error = _error(rule("amazon.shippingSpeedCategory", source="a", transforms=transforms))
    assert "lookup default" in str(error)


def test_a_constant_must_fit_its_field() -> None:
    error = _error(rule("opayo.vendorData", value="BF-2026!"))
    assert "letters, digits and spaces" in str(error)
    error = _error(rule("opayo.description", value="d" * 101))
    assert "101 characters; the limit is 100" in str(error)
    error = _error(
        rule(
            "amazon.displayableOrderComment",
            source="a",
            transforms=[{"op": "default", "value": "c" * 751}],
        )
    )
    assert "the limit is 750" in str(error)


def test_money_only_into_fields_that_take_an_object() -> None:
    transforms = [{"op": "money", "currency": "GBP"}]
    error = _error(rule("amazon.displayableOrderComment", source="a", transforms=transforms))
    assert "money yields {amount, currency}" in str(error)


def test_money_currency_must_be_iso_4217() -> None:
    transforms = [{"op": "money", "currency": "GPB"}]
    error = _error(
        rule("line.cost", source="product.cost", transforms=transforms), lines={"path": "items"}
    )
    assert "unknown currency 'GPB'" in str(error)


def test_split_only_into_list_fields() -> None:
    error = _error(rule("amazon.displayableOrderId", source="a", transforms=[{"op": "split"}]))
    assert "takes a single value, not a list" in str(error)


def test_a_valid_template_checks_clean_and_resolves_each_target() -> None:
    checked = check_template(
        template(
            rule("amazon.deliveryPreferences.dropOffLocation.type", value="GARAGE"),
            {"name": "b", "target": "line.hsCode", "source": "product.hs"},
            lines={"path": "items"},
        )
    )
    assert [t.path for t in checked] == [
        "amazon.deliveryPreferences.dropOffLocation.type",
        "line.hsCode",
    ]


# -- limits come from the official schema, not from our code --------------------------------


def test_amazon_limits_are_read_from_the_official_request_schema(sp_api_models: Path) -> None:
    model = json.loads((sp_api_models / "fulfillmentOutbound_2020-07-01.json").read_text())
    definitions = model["definitions"]
    request = definitions["CreateFulfillmentOrderRequest"]["properties"]
    item = definitions["CreateFulfillmentOrderItem"]["properties"]
    preferences = definitions["DeliveryPreferences"]["properties"]
    assert (
        resolve_target("amazon.displayableOrderId").max_length
        == request["displayableOrderId"]["maxLength"]
    )
    assert (
        resolve_target("amazon.displayableOrderComment").max_length
        == request["displayableOrderComment"]["maxLength"]
    )
    assert (
        resolve_target("amazon.items[].giftMessage").max_length == item["giftMessage"]["maxLength"]
    )
    assert (
        resolve_target("amazon.deliveryPreferences.deliveryInstructions").max_length
        == preferences["deliveryInstructions"]["maxLength"]
    )
    assert resolve_target("amazon.shippingSpeedCategory").enum == tuple(
        definitions["ShippingSpeedCategory"]["enum"]
    )
