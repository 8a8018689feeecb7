"""What the Amazon connector puts on the wire, byte for byte: method, path, query, body and
headers of every operation, the LWA exchange, the token retry after a 403, and how answers
without an SP-API error list are read. A recording server stands in for Amazon."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from moto import mock_aws
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opayo_fba.amazon.connector import SpApiConnector
from opayo_fba.amazon.errors import SpApiAccessDenied, SpApiNotFound, SpApiUnavailable
from opayo_fba.amazon.retry import RetryPolicy
from sandbox.amazon import AmazonSandboxOptions
from sandbox.common.server import ThreadedServer
from tests.fixtures.amazon_sandbox import clear_sp_api_token_cache
from tests.integration.connectors.amazon_support import create_buckets_table, sandbox_connector

pytestmark = pytest.mark.integration

OPTIONS = AmazonSandboxOptions()
MARKETPLACE = OPTIONS.credentials.marketplace_id
SINCE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FBA = "/fba/outbound/2020-07-01"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    raw_path: bytes
    query: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str]


class Recorder:
    """Answers every SP-API path with a canned body; LWA hands out numbered tokens."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.lwa_forms: list[dict[str, str]] = []
        self.refuse_tokens: set[str] = set()
        self.answers: dict[tuple[str, str], Any] = {}
        """(method, path) -> (status, body), or a list of them answered in turn."""

    async def token(self, request: Request) -> Response:
        self.lwa_forms.append(dict(parse_qsl((await request.body()).decode())))
        number = len(self.lwa_forms)
        return JSONResponse(
            {"access_token": f"Atza|token-{number}", "token_type": "bearer", "expires_in": 3600}
        )

    async def api(self, request: Request) -> Response:
        seen = Seen(
            request.method,
            request.url.path,
            request.scope["raw_path"],
            parse_qsl(request.url.query, keep_blank_values=True),
            await request.body(),
            dict(request.headers),
        )
        self.seen.append(seen)
        headers = {"x-amzn-RateLimit-Limit": "2.0"}
        if seen.headers.get("x-amz-access-token") in self.refuse_tokens:
            errors = {"errors": [{"code": "Unauthorized", "message": "Access denied"}]}
            return JSONResponse(errors, status_code=403, headers=headers)
        answer = self.answers.get((seen.method, seen.path), (200, {"payload": {}}))
        status, body = answer.pop(0) if isinstance(answer, list) else answer
        if isinstance(body, str):
            return Response(body, status_code=status, headers=headers, media_type="text/html")
        return JSONResponse(body, status_code=status, headers=headers)

    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        return Starlette(
            routes=[
                Route("/auth/o2/token", self.token, methods=["POST"]),
                Route("/{path:path}", self.api, methods=methods),
            ]
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def amazon(recorder: Recorder) -> Iterator[SpApiConnector]:
    clear_sp_api_token_cache()
    with mock_aws(), ThreadedServer(recorder.app()) as server:
        connector = sandbox_connector(
            server.url,
            OPTIONS,
            create_buckets_table(),
            retry=RetryPolicy(attempts=3, total_seconds=10, base_wait=0.01, max_wait=0.02),
        )
        yield connector
        connector.close()
    clear_sp_api_token_cache()


def only(recorder: Recorder) -> Seen:
    assert len(recorder.seen) == 1, recorder.seen
    return recorder.seen[0]


def test_every_request_carries_the_token_and_the_library_headers(
    amazon: SpApiConnector, recorder: Recorder
) -> None:
    amazon.get_fulfillment_order("OPF-1")
    amazon.cancel_fulfillment_order("OPF-1")
    from sp_api.base import BaseClient

    for seen in recorder.seen:
        assert seen.headers["x-amz-access-token"] == "Atza|token-1"
        assert seen.headers["user-agent"] == BaseClient.user_agent
        assert seen.headers["user-agent"].startswith("python-sp-api-")
        assert seen.headers["content-type"] == "application/json"
        assert re.fullmatch(r"\d{8}T\d{6}Z", seen.headers["x-amz-date"])
    # One LWA exchange, form-encoded as Amazon's token endpoint expects.
    credentials = OPTIONS.credentials
    assert recorder.lwa_forms == [
        {
            "grant_type": "refresh_token",
            "client_id": credentials.client_id,
            "refresh_token": credentials.refresh_token,
            "client_secret": credentials.client_secret,
        }
    ]


def test_get_requests_send_only_the_parameters_the_model_names(
    amazon: SpApiConnector, recorder: Recorder
) -> None:
    recorder.answers[("GET", "/orders/v0/orders")] = (
        200,
        {"payload": {"Orders": [], "LastUpdatedBefore": "2026-03-02T10:00:00Z"}},
    )
    amazon.orders_updated_since(SINCE, ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"])
    amazon.order_items("026-1234567-1234567")
    amazon.package_tracking(42)
    amazon.return_reason_codes("OPF-MUG-BLUE", "OPF-1", language="en_GB")
    amazon.inventory_summaries_changed_since(SINCE)
    amazon.list_settlement_reports(SINCE)
    assert [(s.method, s.path, s.query, s.body) for s in recorder.seen] == [
        (
            "GET",
            "/orders/v0/orders",
            [
                ("MarketplaceIds", "A1F83G8C2ARO7P,A1PA6795UKMFR9"),
                ("LastUpdatedAfter", "2026-03-02T09:00:00Z"),
            ],
            b"",
        ),
        ("GET", "/orders/v0/orders/026-1234567-1234567/orderItems", [], b""),
        ("GET", f"{FBA}/tracking", [("packageNumber", "42")], b""),
        (
            "GET",
            f"{FBA}/returnReasonCodes",
            [
                ("sellerSku", "OPF-MUG-BLUE"),
                ("marketplaceId", MARKETPLACE),
                ("sellerFulfillmentOrderId", "OPF-1"),
                ("language", "en_GB"),
            ],
            b"",
        ),
        (
            "GET",
            "/fba/inventory/v1/summaries",
            [
                ("details", "true"),
                ("granularityType", "Marketplace"),
                ("granularityId", MARKETPLACE),
                ("marketplaceIds", MARKETPLACE),
                ("startDateTime", "2026-03-02T09:00:00Z"),
            ],
            b"",
        ),
        (
            "GET",
            "/reports/2021-06-30/reports",
            [
                ("reportTypes", "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"),
                ("createdSince", "2026-03-02T09:00:00Z"),
                ("pageSize", "100"),
            ],
            b"",
        ),
    ]


def test_bodies_are_exactly_what_the_connector_built(
    amazon: SpApiConnector, recorder: Recorder
) -> None:
    """No marketplaceIds added to a POST body, no body at all on a bare PUT."""
    recorder.answers[("POST", "/reports/2021-06-30/reports")] = (202, {"reportId": "R-1"})
    address = {"name": "Ada", "addressLine1": "1 Row", "countryCode": "GB"}
    items = [{"sellerSku": "OPF-MUG-BLUE", "sellerFulfillmentOrderItemId": "1", "quantity": 1}]
    amazon.fulfillment_preview({"address": address, "items": items})
    amazon.create_fulfillment_order_on_hold({"sellerFulfillmentOrderId": "OPF-1", "items": items})
    amazon.release_fulfillment_order("OPF-1", "A1PA6795UKMFR9")
    amazon.cancel_fulfillment_order("OPF-1")
    returned = [{"sellerReturnItemId": "R1", "sellerFulfillmentOrderItemId": "1"}]
    amazon.create_fulfillment_return("OPF-1", returned)
    assert amazon.create_report("GET_AFN_INVENTORY_DATA", data_start=SINCE) == "R-1"
    assert [(s.method, s.path, s.query, s.body) for s in recorder.seen] == [
        (
            "POST",
            f"{FBA}/fulfillmentOrders/preview",
            [],
            json.dumps({"marketplaceId": MARKETPLACE, "address": address, "items": items}).encode(),
        ),
        (
            "POST",
            f"{FBA}/fulfillmentOrders",
            [],
            json.dumps(
                {
                    "marketplaceId": MARKETPLACE,
                    "sellerFulfillmentOrderId": "OPF-1",
                    "items": items,
                    "fulfillmentAction": "Hold",
                }
            ).encode(),
        ),
        (
            "PUT",
            f"{FBA}/fulfillmentOrders/OPF-1",
            [],
            json.dumps({"marketplaceId": "A1PA6795UKMFR9", "fulfillmentAction": "Ship"}).encode(),
        ),
        ("PUT", f"{FBA}/fulfillmentOrders/OPF-1/cancel", [], b""),
        (
            "PUT",
            f"{FBA}/fulfillmentOrders/OPF-1/return",
            [],
            json.dumps({"items": returned}).encode(),
        ),
        (
            "POST",
            "/reports/2021-06-30/reports",
            [],
            json.dumps(
                {
                    "reportType": "GET_AFN_INVENTORY_DATA",
                    "marketplaceIds": [MARKETPLACE],
                    "dataStartTime": "2026-03-02T09:00:00Z",
                }
            ).encode(),
        ),
    ]


def test_identifiers_are_escaped_into_one_path_segment(
    amazon: SpApiConnector, recorder: Recorder
) -> None:
    recorder.answers[("GET", "/reports/2021-06-30/reports/R 1+2")] = (200, {"reportId": "R 1+2"})
    assert amazon.get_report("R 1+2").report_id == "R 1+2"
    assert only(recorder).raw_path == b"/reports/2021-06-30/reports/R%201%2B2"


def test_pages_follow_the_token_amazon_returns(amazon: SpApiConnector, recorder: Recorder) -> None:
    """getInventorySummaries' token is in `pagination`, beside the payload."""
    recorder.answers[("GET", "/fba/inventory/v1/summaries")] = [
        (
            200,
            {
                "payload": {"inventorySummaries": [{"sellerSku": "A"}]},
                "pagination": {"nextToken": "t1"},
            },
        ),
        (200, {"payload": {"inventorySummaries": [{"sellerSku": "B"}]}}),
    ]
    summaries = amazon.inventory_summaries_changed_since(SINCE)
    assert summaries == [{"sellerSku": "A"}, {"sellerSku": "B"}]
    assert [dict(s.query).get("nextToken") for s in recorder.seen] == [None, "t1"]
    assert dict(recorder.seen[1].query)["startDateTime"] == "2026-03-02T09:00:00Z"


def test_a_refused_token_is_exchanged_once_for_a_fresh_one(
    amazon: SpApiConnector, recorder: Recorder
) -> None:
    recorder.refuse_tokens.add("Atza|token-1")
    assert amazon.get_fulfillment_order("OPF-1") == {}
    assert [s.headers["x-amz-access-token"] for s in recorder.seen] == [
        "Atza|token-1",
        "Atza|token-2",
    ]
    assert len(recorder.lwa_forms) == 2


def test_a_second_refusal_is_access_denied(amazon: SpApiConnector, recorder: Recorder) -> None:
    recorder.refuse_tokens.update({"Atza|token-1", "Atza|token-2"})
    with pytest.raises(SpApiAccessDenied) as denied:
        amazon.get_fulfillment_order("OPF-1")
    assert (denied.value.status, denied.value.code) == (403, "Unauthorized")
    assert len(recorder.seen) == 2  # 403 is not retried beyond the one fresh token


def test_an_error_list_is_typed_and_a_non_json_error_is_not_swallowed(
    amazon: SpApiConnector, recorder: Recorder
) -> None:
    path = f"{FBA}/fulfillmentOrders/GONE"
    recorder.answers[("GET", path)] = (404, {"errors": [{"code": "NotFound", "message": "no"}]})
    with pytest.raises(SpApiNotFound) as missing:
        amazon.get_fulfillment_order("GONE")
    error = missing.value
    assert (error.status, error.code, error.message) == (404, "NotFound", "no")
    assert len(recorder.seen) == 1

    recorder.answers[("GET", path)] = (503, "<html>Service Unavailable</html>")
    with pytest.raises(SpApiUnavailable) as unavailable:
        amazon.get_fulfillment_order("GONE")
    assert (unavailable.value.status, unavailable.value.code) == (503, "HttpError")
    assert len(recorder.seen) == 1 + 3  # retried to the policy's three attempts
