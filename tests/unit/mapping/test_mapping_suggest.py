"""Rule suggestions from a sample order: names, value shapes, name/value lists."""

from __future__ import annotations

import pytest

from opayo_fba.mapping import TemplateError, check_template, parse_template
from opayo_fba.mapping.suggest import find_lines_path, suggest_rules, suggested_template
from tests.unit.mapping.helpers import rule


def _by_target(sample: dict[str, object], **options: object) -> dict[str, str]:
    return {s.target: s.source for s in suggest_rules(sample, **options)}  # type: ignore[arg-type]


def test_field_names_are_matched_across_naming_styles() -> None:
    found = _by_target(
        {"OrderNumber": "A-1", "customerEmail": "a@b.io", "Created-At": "2026-11-27T10:00:00Z"}
    )
    assert found["amazon.displayableOrderId"] == "OrderNumber"
    assert found["amazon.notificationEmails"] == "customerEmail"
    assert found["amazon.displayableOrderDate"] == '"Created-At"'


def test_a_value_of_the_wrong_shape_is_not_proposed() -> None:
    assert "amazon.notificationEmails" not in _by_target({"email": "not an address"})
    assert "amazon.displayableOrderDate" not in _by_target({"created_at": "yesterday"})


def test_name_value_lists_are_looked_into() -> None:
    sample = {"attributes": [{"key": "_utm_campaign", "value": "spring"}, {"key": "x", "value": 1}]}
    found = _by_target(sample)
    assert found["payment.metadata.campaignId"] == "attributes[?key=='_utm_campaign'].value | [0]"


def test_order_lines_are_found_and_product_columns_proposed() -> None:
    sample = {"items": [{"sku": "A", "quantity": 1, "gift_message": "Happy birthday to you"}]}
    assert find_lines_path(sample) == "items"
    found = _by_target(sample, product_sample={"sku": "A", "tariff_code": "6110111000"})
    assert found["amazon.items[].giftMessage"] == "line.gift_message"
    assert found["line.hsCode"] == "product.tariff_code"


def test_min_score_leaves_out_weak_matches() -> None:
    sample = {"notes_internal": "Packed by Sam on Tuesday"}
    assert _by_target(sample, min_score=0.99) == {}


def test_the_drafted_template_passes_check_and_has_unique_rule_names() -> None:
    sample = {
        "number": "1001",
        "note": "Leave at the door please",
        "meta": [{"name": "utm_campaign", "value": "BF-26"}],
        "lines": [{"sku": "A", "qty": 1}],
    }
    suggestions = suggest_rules(sample, product_sample={"sku": "A", "hs_code": "6110111000"})
    drafted = suggested_template(suggestions, name="draft", lines_path=find_lines_path(sample))
    names = [r["name"] for r in drafted["rules"]]
    assert len(names) == len(set(names))
    check_template(parse_template(drafted, origin="draft"))


def test_format_specs_cannot_ask_for_huge_text() -> None:
    with pytest.raises(TemplateError, match="wider than 1000"):
        parse_template(
            {
                "name": "x",
                "rules": [
                    rule(source="a", transforms=[{"op": "format", "template": "{value:>99999999}"}])
                ],
            },
            origin="t.yaml",
        )
