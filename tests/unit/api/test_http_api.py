"""The HTTP API's resolver, driven with API Gateway proxy events: every status the exception
handlers give (each domain exception, a body that breaks its model, the bounds and screening
before it), Powertools' 422 never, and the order intake's 201, 200 for a repeat and 409."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import OrderIdPath, RequestBody, api_for
from opayo_fba.api.routes import order_intake
from opayo_fba.errors import (
    CardPaymentAbandoned,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    UpstreamError,
)
from opayo_fba.model import Money
from tests.fixtures.saga_world import World
from tests.unit.intake.test_intake import FakePi, FakeStarter, _intake
from tests.unit.intake.test_intake_payment_type import _server


class Probe(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    probe_id: str = Field(alias="probeId", pattern=r"^[a-z]+$")
    amount: Money | None = None


RAISED: dict[str, Exception] = {}
probes = Router()


@probes.post("/probe/<orderId>")
def probe_route(
    order_id: Annotated[OrderIdPath, Path(alias="orderId")], probe: Annotated[Probe, Body()]
) -> Response[Any]:
    if probe.probe_id in RAISED:
        raise RAISED[probe.probe_id]
    return json_reply(201, {"orderId": order_id, "probeId": probe.probe_id})


APP = api_for(probes, RequestBody(Probe, "probe", max_bytes=256, max_depth=3))


def call(
    body: str | bytes | None,
    order_id: str = "W-1",
    *,
    query: dict[str, str] | None = None,
    app: Any = APP,
    path: str | None = None,
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    encoded = isinstance(body, bytes)
    event = {
        "httpMethod": "POST",
        "path": path or f"/probe/{order_id}",
        "resource": "/probe/{orderId}",
        "pathParameters": {"orderId": order_id},
        "queryStringParameters": query,
        "headers": {"content-type": "application/json"},
        "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
        "isBase64Encoded": encoded,
        "requestContext": {},
    }
    reply = app.resolve(event, {})
    headers = {k.lower(): v for k, v in (reply.get("multiValueHeaders") or {}).items()}
    return reply["statusCode"], json.loads(reply["body"]), headers


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (InvalidInputError("vendor: 'x' unknown"), 400, {"error": "vendor: 'x' unknown"}),
        (NotFoundError("no order 'W-1'"), 404, {"error": "no order 'W-1'"}),
        (ConflictError("already shipped"), 409, {"error": "already shipped"}),
        (CardPaymentAbandoned("abandoned"), 409, {"error": "abandoned"}),
        (PayloadTooLargeError("too big"), 413, {"error": "too big"}),
        (UpstreamError("Amazon said 503 with details"), 503, {"error": "UpstreamError"}),
        (ConfigurationError("ORDERS_TABLE missing"), 500, {"error": "ConfigurationError"}),
    ],
)  # fmt: skip
def test_each_domain_exception_has_its_status_and_body(
    error: Exception, status: int, body: dict[str, Any]
) -> None:
    RAISED["raise"] = error
    answered, reply, headers = call('{"probeId": "raise"}')
    assert (answered, reply) == (status, body)
    assert headers["content-type"] == ["application/json"]


def test_any_other_exception_fails_the_invocation() -> None:
    RAISED["crash"] = RuntimeError("a bug")
    with pytest.raises(RuntimeError, match="a bug"):
        call('{"probeId": "crash"}')


def test_a_domain_model_error_is_a_400_naming_the_field() -> None:
    RAISED["model"] = _model_error()
    status, reply, _ = call('{"probeId": "model"}')
    assert status == 400
    assert reply == {
        "error": "invalid request",
        "details": [{"field": "currency", "reason": reply["details"][0]["reason"]}],
    }


def _model_error() -> Exception:
    try:
        Money.model_validate({"amount": 1, "currency": "XX"})
    except Exception as error:
        return error
    raise AssertionError("Money accepted a bad currency")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ('{"probeId": "ABC"}', ["probeId"]),
        ('{"probeId": "ok", "extra": 1}', ["extra"]),
        ('{"probeId": "ok", "amount": {"amount": "x", "currency": "GBP"}}', ["amount.amount"]),
        ("{}", ["probeId"]),
        ("[]", [""]),
        ("null", [""]),
        ("", [""]),
        ("{", [""]),
    ],
)
def test_a_body_that_breaks_its_model_is_a_400_naming_the_field_never_a_422(
    body: str, fields: list[str]
) -> None:
    status, reply, _ = call(body)
    assert status == 400
    assert reply["error"] == "invalid request"
    assert [d["field"] for d in reply["details"]] == fields


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ('{"probeId": "' + "a" * 300 + '"}', 413, "at most 256"),
        (b'{"probeId": "\xff"}', 400, "not valid UTF-8"),
        ('{"probeId": "a", "x": [[[[1]]]]}', 400, "nested 5 deep"),
        ('{"probeId": "4929 0000 0000 6"}', 400, "card number"),
        ('{"probeId": "\\u0034\\u0039\\u0032\\u0039000000006"}', 400, "card number"),
        ('{"4929000000006": "a"}', 400, "card number"),
    ],
)
def test_the_body_is_bounded_and_screened_before_its_model(
    body: str | bytes, status: int, reason: str
) -> None:
    answered, reply, _ = call(body)
    assert answered == status
    assert reason in reply["error"]
    assert "4929" not in json.dumps(reply)


@pytest.mark.parametrize(
    ("order_id", "query", "reason"),
    [
        ("4929000000006", None, "card number"),
        ("a b", None, "not an order id"),
        ("x" * 65, None, "not an order id"),
        ('a"b', None, "not an order id"),
        ("W-1", {"note": "4929 0000 0000 6"}, "card number"),
        ("W-1", {"4929000000006": "1"}, "card number"),
    ],
)
def test_a_bad_path_or_a_card_number_in_the_query_is_a_400(
    order_id: str, query: dict[str, str] | None, reason: str
) -> None:
    status, reply, _ = call('{"probeId": "ok"}', order_id, query=query)
    assert status == 400
    assert reason in reply["error"]
    assert "4929" not in json.dumps(reply)


def test_a_path_parameter_is_one_segment_whatever_it_holds() -> None:
    # Powertools' own alphabet has no '#': API Gateway has routed it, the type decides.
    assert call('{"probeId": "ok"}', "W#1:2.a_b")[:2] == (
        201,
        {"orderId": "W#1:2.a_b", "probeId": "ok"},
    )


# -- the order intake's own statuses ----------------------------------------------------------


@pytest.fixture
def intake_app(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    wired = SimpleNamespace(
        store=world.store, intake=lambda: _intake(world, FakePi(), FakeStarter())
    )
    monkeypatch.setattr(order_intake, "wiring", lambda: wired)
    return api_for(order_intake.router, order_intake.BODY)


def _post_order(app: Any, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    event = {
        "httpMethod": "POST",
        "path": "/orders",
        "resource": "/orders",
        "headers": {"content-type": "application/json"},
        "body": json.dumps(document),
        "isBase64Encoded": False,
        "requestContext": {},
    }
    reply = app.resolve(event, {})
    return reply["statusCode"], json.loads(reply["body"])


def test_a_new_order_is_201_its_repeat_200_and_another_order_under_its_id_409(
    intake_app: Any,
) -> None:
    status, created = _post_order(intake_app, _server())
    assert status == 201, created
    assert created["order"]["order_id"] == "W-1001"
    assert "server_security_key_sealed" not in created
    repeat_status, repeat = _post_order(intake_app, _server())
    assert (repeat_status, repeat["order"]) == (200, created["order"])
    other = _server()
    other["order"]["comment"] = "another order"
    status, refused = _post_order(intake_app, other)
    assert status == 409
    assert set(refused) == {"error"}


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/csv"]
)
def test_a_body_is_json_whatever_its_content_type_says(content_type: str) -> None:
    # Found by the fuzzer: Powertools parsed multipart/form-data and failed (a 502).
    event = {
        "httpMethod": "POST",
        "path": "/probe/W-1",
        "pathParameters": {"orderId": "W-1"},
        "headers": {"content-type": content_type},
        "body": '{"probeId": "ok"}',
        "isBase64Encoded": False,
        "requestContext": {},
    }
    assert APP.resolve(event, {})["statusCode"] == 201
    event["body"] = "a=1&b=2"
    reply = APP.resolve(event, {})
    assert reply["statusCode"] == 400
    assert "Invalid JSON" in reply["body"]


def test_a_path_parameter_is_api_gateways_decoded_value() -> None:
    # API Gateway decoded %23 in pathParameters; the handler reads that, not the raw path.
    status, reply, _ = call('{"probeId": "ok"}', "W#1", path="/probe/W%231")
    assert (status, reply["orderId"]) == (201, "W#1")
