"""The engine on whole orders: the three promised uses, layering, errors, Amazon validation."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from opayo_fba.amazon.spapi_models import ContractError, validate_definition
from opayo_fba.mapping import (
    CsvProductMaster,
    DynamoDbProductMaster,
    InMemoryProductMaster,
    MappingError,
    TemplateError,
    apply_templates,
    load_starter,
)
from opayo_fba.mapping.canonical import extend_order_lines
from opayo_fba.model import Money, Order, OrderLine
from tests.conftest import PROJECT_ROOT
from tests.unit.mapping.helpers import apply, rule, template

EVENTS = PROJECT_ROOT / "events" / "shop"


def _event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def _base_request(skus: list[str]) -> dict[str, Any]:
    """What the saga builds from the canonical order before the templates add to it."""
    return {
        "sellerFulfillmentOrderId": "ORDER-1042",
        "displayableOrderId": "ORDER-1042",
        "displayableOrderDate": "2026-11-27T14:03:12Z",
        "displayableOrderComment": "Thank you for your order.",
        "shippingSpeedCategory": "Standard",
        "fulfillmentAction": "Hold",
        "destinationAddress": {
            "name": "Tom Price",
            "addressLine1": "12 Alder Close",
            "city": "Leeds",
            "postalCode": "LS6 2QT",
            "countryCode": "GB",
        },
        "items": [
            {"sellerSku": sku, "sellerFulfillmentOrderItemId": f"line-{n}", "quantity": 1}
            for n, sku in enumerate(skus, start=1)
        ],
    }


# -- use 1: shop/ERP custom fields -> Amazon fulfillment order attributes -----------------------


def test_shopify_starter_maps_custom_fields_onto_a_valid_fulfillment_request() -> None:
    result = apply_templates([load_starter("shopify")], _event("shopify-order.json"))
    assert result.fulfillment_order == {
        "displayableOrderId": "1042",
        "displayableOrderDate": "2026-11-27T14:03:12Z",
        "displayableOrderComment": "Happy birthday Tom! Love, Hannah x",
        "shippingSpeedCategory": "Expedited",
        "notificationEmails": ["hannah.price@example.co.uk"],
    }
    assert result.fulfillment_items == [{"displayableComment": "Gift wrapped"}, {}]
    request = result.apply_to_fulfillment_request(
        _base_request(["KNIT-CABLE-GRN-M", "SOCK-WOOL-CHR-2P"])
    )
    validate_definition("fulfillmentOutbound_2020-07-01", "CreateFulfillmentOrderRequest", request)
    assert request["sellerFulfillmentOrderId"] == "ORDER-1042"  # owned by the saga, untouched
    assert request["fulfillmentAction"] == "Hold"
    assert request["items"][0]["displayableComment"] == "Gift wrapped"
    assert "displayableComment" not in request["items"][1]


def test_woocommerce_starter_maps_custom_fields_onto_a_valid_fulfillment_request() -> None:
    result = apply_templates([load_starter("woocommerce")], _event("woocommerce-order.json"))
    assert result.fulfillment_order["displayableOrderId"] == "WC-7315"
    assert result.fulfillment_order["displayableOrderDate"] == "2026-11-27T15:41:07Z"
    assert result.fulfillment_order["shippingSpeedCategory"] == "Standard"
    assert result.fulfillment_order["destinationAddress"] == {
        "addressLine3": "Atelier Hoffmann GmbH"
    }
    request = result.apply_to_fulfillment_request(
        _base_request(["CER-POUR-SET-WHT", "BEAN-ETH-YIR-250"])
    )
    assert request["destinationAddress"]["addressLine3"] == "Atelier Hoffmann GmbH"
    assert request["destinationAddress"]["addressLine1"] == "12 Alder Close"


def test_delivery_preferences_apply_only_where_the_condition_holds() -> None:
    order = _event("shopify-order.json")
    order["shipping_address"]["country_code"] = "JP"
    result = apply_templates([load_starter("shopify")], order)
    instructions = result.fulfillment_order["deliveryPreferences"]["deliveryInstructions"]
    assert instructions.startswith("Please leave with the neighbour")


def test_a_value_too_long_for_amazon_names_template_rule_and_field() -> None:
    with pytest.raises(MappingError) as caught:
        apply({"note": "n" * 751}, rule("amazon.displayableOrderComment", source="note"))
    error = caught.value
    assert (error.template, error.rule, error.field) == (
        "test-template v3",
        "the-rule",
        "amazon.displayableOrderComment",
    )
    assert "751 characters; the limit is 750 (add a truncate transform" in str(error)


def test_a_value_outside_an_amazon_enum_is_refused() -> None:
    with pytest.raises(MappingError, match="'Overnight' is not one of the allowed values"):
        apply({"speed": "Overnight"}, rule("amazon.shippingSpeedCategory", source="speed"))


def test_a_wrong_type_is_refused_and_numbers_become_text() -> None:
    with pytest.raises(MappingError, match="expected text, got an object"):
        apply({"id": {"a": 1}}, rule("amazon.displayableOrderId", source="id"))
    result = apply({"id": 1042}, rule("amazon.displayableOrderId", source="id"))
    assert result.fulfillment_order["displayableOrderId"] == "1042"


def test_each_notification_email_is_checked_against_the_item_limit() -> None:
    too_long = "a" * 60 + "@example.com"
    with pytest.raises(MappingError, match=r"\[0\]: value has 72 characters; the limit is 64"):
        apply({"e": too_long}, rule("amazon.notificationEmails", source="e"))


def test_a_rule_that_creates_an_incomplete_object_is_blamed_by_amazon_validation() -> None:
    result = apply({"c": "Atelier"}, rule("amazon.destinationAddress.addressLine3", source="c"))
    base = _base_request(["A"])
    del base["destinationAddress"]
    with pytest.raises(MappingError) as caught:
        result.apply_to_fulfillment_request(base)
    assert caught.value.rule == "the-rule"
    assert "Amazon's createFulfillmentOrder schema rejects it" in str(caught.value)


def test_problems_of_the_base_request_itself_are_not_blamed_on_a_template() -> None:
    result = apply({"c": "x"}, rule("amazon.displayableOrderComment", source="c"))
    base = _base_request(["A"])
    base["shippingSpeedCategory"] = "Teleport"
    with pytest.raises(ContractError, match="shippingSpeedCategory"):
        result.apply_to_fulfillment_request(base)


def test_item_attributes_need_one_item_per_order_line() -> None:
    result = apply(
        {"items": [{"sku": "A", "gift": "hi"}]},
        rule("amazon.items[].giftMessage", source="line.gift"),
        lines={"path": "items"},
    )
    with pytest.raises(
        MappingError, match="mapped 1 order lines but the fulfillment request has 2"
    ) as caught:
        result.apply_to_fulfillment_request(_base_request(["A", "B"]))
    assert caught.value.rule == "the-rule"


def test_merging_does_not_change_the_base_request() -> None:
    base = _base_request(["A"])
    snapshot = copy.deepcopy(base)
    apply(
        {"c": "x"}, rule("amazon.displayableOrderComment", source="c")
    ).apply_to_fulfillment_request(base)
    assert base == snapshot


# -- use 2: campaign metadata -> Opayo fields and the PaymentTransaction -----------------------


def test_campaign_metadata_goes_to_opayo_and_to_payment_metadata() -> None:
    result = apply_templates([load_starter("shopify")], _event("shopify-order.json"))
    assert result.opayo == {
        "description": "Web order #1042 (BF2026 Knitwear)",
        "vendorData": "BF2026 Knitwear",
    }
    assert result.payment_metadata == {
        "campaignId": "BF2026 Knitwear",
        "campaignSource": "newsletter",
        "erpCustomerNo": "C-004711",
    }


def test_without_a_campaign_the_description_stays_plain_and_vendor_data_is_absent() -> None:
    order = _event("shopify-order.json")
    order["note_attributes"] = []
    result = apply_templates([load_starter("shopify")], order)
    assert result.opayo == {"description": "Web order #1042"}
    assert result.payment_metadata == {}


def test_woocommerce_campaign_is_cleaned_for_vendor_data() -> None:
    result = apply_templates([load_starter("woocommerce")], _event("woocommerce-order.json"))
    assert result.opayo["vendorData"] == "winter sale 2026"
    assert result.payment_metadata["campaignId"] == "winter-sale-2026"
    assert result.payment_metadata["costCentre"] == "DE-ONLINE"


def test_vendor_data_with_characters_opayo_refuses_is_an_error() -> None:
    with pytest.raises(MappingError) as caught:
        apply({"c": "BF-2026!"}, rule("opayo.vendorData", source="c"))
    assert caught.value.field == "opayo.vendorData"
    assert "letters, digits and spaces" in str(caught.value)


def test_vendor_data_and_description_limits() -> None:
    with pytest.raises(MappingError, match="201 characters; the limit is 200"):
        apply({"c": "a" * 201}, rule("opayo.vendorData", source="c"))
    with pytest.raises(MappingError, match="101 characters; the limit is 100"):
        apply({"c": "a" * 101}, rule("opayo.description", source="c"))


def test_payment_metadata_takes_single_values_only() -> None:
    with pytest.raises(MappingError, match="expected a single value"):
        apply({"c": ["a", "b"]}, rule("payment.metadata.campaign", source="c"))


# -- use 3: product master -> OrderLine attributes ---------------------------------------------


def test_csv_product_master_extends_each_line() -> None:
    master = CsvProductMaster(EVENTS / "product-master.csv")
    result = apply_templates(
        [load_starter("shopify")], _event("shopify-order.json"), product_master=master
    )
    assert result.line_skus == ["KNIT-CABLE-GRN-M", "SOCK-WOOL-CHR-2P"]
    assert result.line_attributes == [
        {
            "hsCode": "6110111000",
            "cost": {"amount": 1420, "currency": "GBP"},
            "ledgerCategory": "4010-Knitwear",
            "countryOfOrigin": "GB",
        },
        {
            "hsCode": "6115950000",
            "cost": {"amount": 385, "currency": "GBP"},
            "ledgerCategory": "4020-Accessories",
            "countryOfOrigin": "PT",
        },
    ]


def test_a_sku_missing_from_the_product_master_gets_only_defaults() -> None:
    master = InMemoryProductMaster({"KNIT-CABLE-GRN-M": {"hs_code": "6110111000"}})
    result = apply_templates(
        [load_starter("shopify")], _event("shopify-order.json"), product_master=master
    )
    assert result.line_attributes[0] == {"hsCode": "6110111000", "ledgerCategory": "4000-Sales"}
    assert result.line_attributes[1] == {"ledgerCategory": "4000-Sales"}


def test_a_product_master_value_that_does_not_parse_names_the_line() -> None:
    master = InMemoryProductMaster({"A": {"cost": "12.3.4"}})
    with pytest.raises(MappingError) as caught:
        apply(
            {"items": [{"sku": "B"}, {"sku": "A"}]},
            rule(
                "line.cost", source="product.cost", transforms=[{"op": "money", "currency": "GBP"}]
            ),
            lines={"path": "items"},
            product_master=master,
        )
    assert caught.value.line == 1
    assert "(order line 2)" in str(caught.value)


def test_line_rules_see_the_line_the_order_and_the_product() -> None:
    master = InMemoryProductMaster({"A": {"family": "knit"}})
    result = apply(
        {"ref": "R1", "items": [{"code": "A", "qty": 2}]},
        rule(
            "line.label",
            source="line.code",
            transforms=[
                {
                    "op": "format",
                    "template": "{ref}/{value}/{family}/{qty}",
                    "fields": {"ref": "order.ref", "family": "product.family", "qty": "line.qty"},
                }
            ],
        ),
        lines={"path": "items", "sku": "code"},
        product_master=master,
    )
    assert result.line_attributes == [{"label": "R1/A/knit/2"}]


@mock_aws
def test_dynamodb_product_master_extends_each_line() -> None:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="products",
        KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(
        TableName="products",
        Item={
            "sku": {"S": "CER-POUR-SET-WHT"},
            "hs_code": {"S": "6912002300"},
            "cost": {"N": "18.40"},
            "cost_currency": {"S": "EUR"},
            "ledger_category": {"S": "4100-Homeware"},
        },
    )
    master = DynamoDbProductMaster("products", client=client)
    result = apply_templates(
        [load_starter("woocommerce")], _event("woocommerce-order.json"), product_master=master
    )
    assert result.line_attributes[0] == {
        "hsCode": "6912002300",
        "cost": {"amount": 1840, "currency": "EUR"},
        "ledgerCategory": "4100-Homeware",
    }
    assert result.line_attributes[1] == {"ledgerCategory": "4000-Sales"}
    # A second order for the same SKUs is served from the instance's cache.
    client.delete_item(TableName="products", Key={"sku": {"S": "CER-POUR-SET-WHT"}})
    again = master.attributes_for(["CER-POUR-SET-WHT"])
    assert again["CER-POUR-SET-WHT"]["hs_code"] == "6912002300"


@mock_aws
def test_dynamodb_product_master_reads_more_than_one_batch() -> None:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="products",
        KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(130):
        client.put_item(TableName="products", Item={"sku": {"S": f"S{n}"}, "n": {"N": str(n)}})
    master = DynamoDbProductMaster("products", client=client)
    found = master.attributes_for([f"S{n}" for n in range(135)])
    assert len(found) == 130
    assert found["S129"]["n"] == 129


def test_canonical_order_lines_receive_the_mapped_attributes() -> None:
    master = CsvProductMaster(EVENTS / "product-master.csv")
    result = apply_templates(
        [load_starter("shopify")], _event("shopify-order.json"), product_master=master
    )
    order = Order(
        order_id="SHOP-1042",
        channel="web",
        placed_at=datetime(2026, 11, 27, 14, 3, 12, tzinfo=UTC),
        currency="GBP",
        lines=(
            OrderLine(
                sku="KNIT-CABLE-GRN-M",
                quantity=1,
                unit_price=Money(amount=3999, currency="GBP"),
                attributes={"giftWrap": True},
            ),
            OrderLine(
                sku="SOCK-WOOL-CHR-2P", quantity=1, unit_price=Money(amount=1498, currency="GBP")
            ),
        ),
    )
    extended = extend_order_lines(order, result)
    assert extended.lines[0].attributes["giftWrap"] is True
    assert extended.lines[0].attributes["hsCode"] == "6110111000"
    assert extended.lines[1].attributes["cost"] == {"amount": 385, "currency": "GBP"}
    with pytest.raises(MappingError, match="found 2 order lines but order SHOP-1042 has 1"):
        extend_order_lines(order.model_copy(update={"lines": order.lines[:1]}), result)


# -- templates together, required values, input -----------------------------------------------


def test_later_templates_override_earlier_ones_and_the_outcomes_show_both() -> None:
    first = template(rule("amazon.displayableOrderComment", value="from the starter"))
    second = template(
        {"name": "merchant-comment", "target": "amazon.displayableOrderComment", "source": "note"}
    )
    result = apply_templates([first, second], {"note": "from the merchant"})
    assert result.fulfillment_order["displayableOrderComment"] == "from the merchant"
    assert [o.rule for o in result.outcomes if o.applied] == ["the-rule", "merchant-comment"]


def test_templates_applied_together_must_agree_on_the_lines() -> None:
    one = template(rule("line.a", source="line.sku"), lines={"path": "items"})
    other = template(rule("line.b", source="line.sku"), lines={"path": "extra"})
    with pytest.raises(TemplateError, match="finds 1 lines but an earlier template found 2"):
        apply_templates(
            [one, other], {"items": [{"sku": "A"}, {"sku": "B"}], "extra": [{"sku": "A"}]}
        )


def test_lines_path_must_give_a_list() -> None:
    with pytest.raises(TemplateError, match="gave dict, not a list"):
        apply({"items": {"sku": "A"}}, rule("line.a", source="line.sku"), lines={"path": "items"})


def test_a_required_rule_without_a_value_fails_the_order() -> None:
    with pytest.raises(MappingError) as caught:
        apply({}, rule("amazon.displayableOrderId", source="name", required=True))
    assert "source 'name' gave no value and the rule is required; add a default" in str(
        caught.value
    )


def test_an_optional_rule_without_a_value_writes_nothing() -> None:
    result = apply({}, rule("amazon.displayableOrderId", source="name"))
    assert result.fulfillment_order == {}
    assert result.outcomes[0].applied is False


def test_the_order_must_be_an_object() -> None:
    with pytest.raises(MappingError, match="must be a JSON object"):
        apply_templates([template(rule(source="a"))], ["not", "an", "order"])  # type: ignore[arg-type]


def test_the_sample_events_carry_no_card_data() -> None:
    for path in EVENTS.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        for test_card in ("4929000000006", "5404000000000001", "4462000000000003"):
            assert test_card not in text
        assert "card_number" not in text
        assert "cvv" not in text.lower()


def test_events_folder_holds_realistic_orders() -> None:
    assert {p.name for p in Path(EVENTS).glob("*.json")} == {
        "shopify-order.json",
        "woocommerce-order.json",
    }


def test_amazon_timestamps_must_be_iso_8601_with_a_zone() -> None:
    with pytest.raises(MappingError, match="not an ISO 8601 date-time with a time zone"):
        apply({"d": "27/11/2026"}, rule("amazon.displayableOrderDate", source="d"))
    with pytest.raises(MappingError, match="not an ISO 8601 date-time"):
        apply({"d": "2026-11-27T14:03:12"}, rule("amazon.displayableOrderDate", source="d"))
    result = apply(
        {"d": "27/11/2026 14:03"},
        rule(
            "amazon.displayableOrderDate",
            source="d",
            transforms=[
                {"op": "date_format", "input_format": "%d/%m/%Y %H:%M", "assume_timezone": "UTC"}
            ],
        ),
    )
    assert result.fulfillment_order["displayableOrderDate"] == "2026-11-27T14:03:00Z"


def test_a_result_round_trips_through_json_for_the_saga_state() -> None:
    master = CsvProductMaster(EVENTS / "product-master.csv")
    result = apply_templates(
        [load_starter("shopify")], _event("shopify-order.json"), product_master=master
    )
    state = json.loads(json.dumps(result.to_state()))
    restored = type(result).from_state(state)
    assert restored == result
