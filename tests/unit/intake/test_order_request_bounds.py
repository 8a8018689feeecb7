"""The order request at the edge: encoding, size, depth, card numbers, known accounts."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from demo.scenarios import BROWSER_DATA
from opayo_fba.api.errors import error_reply
from opayo_fba.api.resolver import OrderIdPath
from opayo_fba.errors import InvalidInputError, PayloadTooLargeError
from opayo_fba.http_input import body_text, json_depth, path_parameter, screen_parameters
from opayo_fba.intake.orders import (
    MAX_ORDER_REQUEST_BYTES,
    IntakeDependencies,
    KnownAccounts,
    OrderSubmission,
    parse_submission,
    submit_order,
)
from opayo_fba.opayo.pi import CardPayment
from tests.fixtures.saga_world import World, make_order

ACCOUNTS = KnownAccounts(
    vendors=frozenset({"sandbox"}), marketplaces={"uk-main": frozenset({"A1F83G8C2ARO7P"})}
)


def request(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "order": make_order("W-2001").model_dump(mode="json"),
        "vendor": "sandbox",
        "sellerAccount": "uk-main",
        "payment": {
            "type": "pi_card",
            "merchantSessionKey": "MSK",
            "cardIdentifier": "CID",
            "strongCustomerAuthentication": BROWSER_DATA,
        },
    }
    document.update(changes)
    return document


def event(body: bytes | str, *, base64_encoded: bool = False) -> dict[str, Any]:
    if base64_encoded:
        assert isinstance(body, bytes)
        return {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}
    return {"body": body, "isBase64Encoded": False}


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(request()).encode("utf-16"),
        json.dumps(request()).encode("utf-32"),
        b'{"order": "\xff\xfe"}',
        b'{"order": "\xed\xa0\x80"}',  # an encoded lone surrogate is not UTF-8
    ],
)
def test_a_body_that_is_not_utf8_is_a_400_with_a_reason(raw: bytes) -> None:
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        body_text(event(raw, base64_encoded=True), max_bytes=MAX_ORDER_REQUEST_BYTES)


def test_a_lone_surrogate_escape_is_refused_by_validation() -> None:
    document = request()
    document["order"]["comment"] = "SURROGATE"
    text = json.dumps(document).replace('"SURROGATE"', '"a\\ud800b"', 1)
    with pytest.raises(ValidationError, match="Invalid JSON"):
        parse_submission(text)


def test_an_order_request_over_the_limit_is_a_413_stating_it() -> None:
    big = json.dumps(request(source={"blob": "x" * MAX_ORDER_REQUEST_BYTES}))
    with pytest.raises(PayloadTooLargeError, match=f"at most {MAX_ORDER_REQUEST_BYTES}") as e:
        parse_submission(big)
    assert error_reply(e.value).status_code == 413
    with pytest.raises(PayloadTooLargeError):
        body_text(event(big), max_bytes=MAX_ORDER_REQUEST_BYTES)


@pytest.mark.parametrize("depth", [40, 1000, 5000])
def test_json_nested_deep_is_a_400_never_a_recursion_error(depth: int) -> None:
    body = json.dumps(request())[:-1] + ', "source": {"x": ' + "[" * depth + "]" * depth + "}}"
    assert json_depth(body) == depth + 2
    with pytest.raises(InvalidInputError, match="nested"):
        parse_submission(body)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert json_depth(json.dumps({"a": "[[[[{{{{", "b": ['\\"]]]']})) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"comment": "x" * 751}, "order.comment"),
        ({"customer": {"first_name": "x" * 101}}, "order.customer.first_name"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": None, "title": "t" * 501}]},
         "order.lines.0.title"),
        ({"custom_fields": {"k": "v" * 17_000}}, "order.custom_fields"),
        ({"marketplace_id": "not a marketplace"}, "order.marketplace_id"),
    ],
)  # fmt: skip
def test_free_text_over_its_limit_is_a_400_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    document = request()
    document["order"].update(changes)
    with pytest.raises(ValidationError) as refused:
        parse_submission(json.dumps(document))
    reply = error_reply(refused.value)
    assert reply.status_code == 400
    assert any(d["field"] == field for d in json.loads(reply.body)["details"]), reply.body


def test_source_is_bounded_in_size_and_depth() -> None:
    deep: Any = "leaf"
    for _ in range(20):
        deep = {"d": deep}
    for source in ({"deep": deep}, {"blob": "y" * 70_000}):
        with pytest.raises(ValidationError, match="source"):
            OrderSubmission.model_validate(request(source=source))


class NoStarts:
    def start(self, order_id: str) -> bool:
        raise AssertionError("no saga may start")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, vendor: str) -> Any:
        self.calls.append(vendor)
        raise AssertionError("Opayo must not be called")


def _deps(world: World, payments: Recorder) -> IntakeDependencies:
    return IntakeDependencies(
        store=world.store,
        payments=payments,
        starter=NoStarts(),
        card_payment=CardPayment,
        seal=lambda key, order_id: "sealed",
        accounts=ACCOUNTS,
    )


SERVER = {
    "type": "server",
    "vendorTxCode": "SRV-1",
    "vpsTxId": "{11111111-2222-3333-4444-555555555555}",
    "securityKey": "ABCDEFGHIJ",
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vendor": "othervendor"}, "vendor"),
        ({"vendor": "othervendor", "payment": SERVER}, "vendor"),
        ({"sellerAccount": "de-main"}, "sellerAccount"),
        ({"sellerAccount": "de-main", "payment": SERVER}, "sellerAccount"),
    ],
)
def test_unknown_vendor_or_seller_is_refused_before_anything_happens(
    world: World, changes: dict[str, Any], field: str
) -> None:
    payments = Recorder()
    submission = OrderSubmission.model_validate(request(**changes))
    with pytest.raises(InvalidInputError, match=f"^{field}: ") as refused:
        submit_order(submission, _deps(world, payments))
    assert error_reply(refused.value).status_code == 400
    assert payments.calls == []
    assert world.store.find("W-2001") is None


def test_a_marketplace_the_seller_does_not_sell_in_is_refused(world: World) -> None:
    document = request(payment=SERVER)
    document["order"]["marketplace_id"] = "ATVPDKIKX0DER"
    payments = Recorder()
    with pytest.raises(InvalidInputError, match=r"^order\.marketplace_id: 'ATVPDKIKX0DER'"):
        submit_order(OrderSubmission.model_validate(document), _deps(world, payments))
    assert world.store.find("W-2001") is None


def test_an_unknown_vendor_is_quoted_masked() -> None:
    submission = OrderSubmission.model_validate(request(vendor="4929000000006"))
    with pytest.raises(InvalidInputError) as refused:
        ACCOUNTS.check(submission)
    assert "4929" not in str(refused.value)


@pytest.mark.parametrize(
    "parameters",
    [
        {"pathParameters": {"orderId": "4929 0000 0000 6"}},
        {"pathParameters": {"orderId": "W-1"}, "queryStringParameters": {"q": "4929000000006"}},
        {"pathParameters": {"orderId": "W-1"}, "queryStringParameters": {"4929000000006": "1"}},
        {"multiValueQueryStringParameters": {"q": ["ok", "5404-0000-0000-0001"]}},
    ],
)
def test_card_numbers_in_path_or_query_are_refused(parameters: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match="card number") as refused:
        screen_parameters(parameters)
    assert "4929" not in str(refused.value)
    assert "5404" not in str(refused.value)


@pytest.mark.parametrize("order_id", ["", "x" * 65, "a b", "../etc", "\u00e9t\u00e9"])
def test_an_order_id_that_cannot_be_one_is_a_400(order_id: str) -> None:
    with pytest.raises(InvalidInputError):
        TypeAdapter(OrderIdPath).validate_python(order_id)
    assert path_parameter({"pathParameters": {"orderId": "W-1"}}, "orderId") == "W-1"


def test_error_bodies_never_carry_a_card_number_whatever_raised() -> None:
    reply = error_reply(InvalidInputError("something about 4929 0000 0000 6"))
    assert "4929" not in reply.body
