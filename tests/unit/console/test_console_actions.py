"""An order's actions: which the page offers, the API request each form becomes (or the
field that stops it), and the request the console sends the stack's API: SigV4-signed for
execute-api, to the action's route, with the form's id. The API here is a stand-in that
records what it receives (the real API's answers are tried in the browser test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opayo_fba.console.actions import ApiActions, request_id
from opayo_fba.console.pages.order_actions import BadAction, action_body, offered
from opayo_fba.model import Money, OrderStatus
from opayo_fba.store.orders import OrderRecord
from sandbox.common.server import ThreadedServer
from tests.fixtures.saga_world import make_order


def _record(status: OrderStatus, captured: int | None = None) -> OrderRecord:
    return OrderRecord(
        order=make_order("ORD-A1"),
        seller_account="uk-main",
        status=status,
        captured=Money(amount=captured, currency="GBP") if captured is not None else None,
    )


def test_the_page_offers_what_the_orders_state_allows() -> None:
    placed = offered(_record(OrderStatus.PAYMENT_AUTHORISED))
    assert (placed.cancel, placed.refund, placed.resubmit) == (True, False, False)
    shipped = offered(_record(OrderStatus.SHIPPED, captured=2598))
    assert (shipped.cancel, shipped.refund, shipped.resubmit) == (False, True, False)
    assert shipped.refundable == "25.98"
    held = offered(_record(OrderStatus.UNFULFILLABLE))
    assert held.resubmit
    assert held.refund_id != offered(_record(OrderStatus.UNFULFILLABLE)).refund_id


def test_a_refund_form_becomes_the_apis_request_in_minor_units() -> None:
    identifier = request_id("refund")
    body = action_body(
        "refund",
        {"request_id": identifier, "amount": "12.50", "reason": "  a  chipped mug "},
        _record(OrderStatus.SHIPPED, captured=2598),
    )
    assert body == {
        "refundId": identifier,
        "amount": {"amount": 1250, "currency": "GBP"},
        "reason": "a chipped mug",
    }
    assert action_body("cancel", {}, _record(OrderStatus.PAID)) is None
    resubmit_id = request_id("resubmit")
    assert action_body(
        "resubmit", {"request_id": resubmit_id}, _record(OrderStatus.UNFULFILLABLE)
    ) == {"resubmitId": resubmit_id}


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"request_id": "", "amount": "1.00", "reason": "x"}, "this form's id"),
        (
            {"request_id": "console-resubmit-0123456789abcdef", "amount": "1", "reason": "x"},
            "this form's id",
        ),
        ({"amount": "ten", "reason": "x"}, "amount must be a number"),
        ({"amount": "1.005", "reason": "x"}, "whole GBP minor units"),
        ({"amount": "0", "reason": "x"}, "amount must be positive"),
        ({"amount": "1.00", "reason": "   "}, "give a reason"),
        ({"amount": "1.00", "reason": "x" * 201}, "give a reason"),
    ],
)
def test_a_bad_refund_form_names_its_field(form: dict[str, str], said: str) -> None:
    form = {"request_id": request_id("refund"), **form}
    with pytest.raises(BadAction, match=said):
        action_body("refund", form, _record(OrderStatus.SHIPPED, captured=2598))


@pytest.fixture
def api() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def record(request: Request) -> JSONResponse:
        seen.append(
            {
                "path": request.scope["raw_path"].decode(),
                "headers": dict(request.headers),
                "body": (await request.body()).decode(),
            }
        )
        if request.url.path.endswith("/cancel"):
            return JSONResponse({"error": "Amazon has started picking it"}, status_code=409)
        return JSONResponse({"order": {"status": "shipped"}}, status_code=201)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])
    with ThreadedServer(app) as server:
        yield server.url, seen


def test_the_console_asks_the_stacks_api_signed_with_the_operators_credentials(
    api: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = api
    actions = ApiActions(url + "/prod", Credentials("AKIDEXAMPLE", "secret"), "eu-west-2")
    body = {"refundId": "console-refund-0123456789abcdef", "amount": {"amount": 100}}
    reply = actions.act("refund", "ORD/A 1", body)
    assert reply.status == 201
    assert reply.message == "the order is now shipped"
    [request] = seen
    assert request["path"] == "/prod/orders/ORD%2FA%201/refunds"
    assert json.loads(request["body"]) == body
    authorization = request["headers"]["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-2/execute-api/aws4_request" in authorization
    assert "x-amz-date" in request["headers"]
    refused = actions.act("cancel", "ORD-A1", None)
    assert refused.status == 409
    assert refused.message == "Amazon has started picking it"


def test_an_api_that_cannot_be_reached_is_a_connection_error() -> None:
    actions = ApiActions("http://127.0.0.1:9", Credentials("a", "b"), "eu-west-2")
    with pytest.raises(ConnectionError, match="could not be reached"):
        actions.act("cancel", "ORD-A1", None)
