"""Notifications in the official schemas, delivered at least once to SQS (moto) and HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from sp_api.api import FulfillmentOutbound, Reports
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import opayo_fba.amazon.spapi_models as spapi_models
from sandbox.amazon.fulfillment import COMPLETE_AFTER
from sandbox.amazon.reports import DONE_AFTER
from sandbox.common.server import ThreadedServer
from tests.fixtures.amazon_sandbox import AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration


def poll(condition: Callable[[], Any], *, timeout: float = 10.0) -> Any:
    """Wait (bounded) for `condition()` to return something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def moto_sqs() -> Iterator[tuple[str, Any]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("sqs", region_name="eu-west-2", endpoint_url=endpoint)
    try:
        yield endpoint, client
    finally:
        server.stop()


def _drain(client: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = client.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", [])
    for message in messages:
        client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def test_fulfillment_and_order_notifications_reach_an_sqs_queue(
    amazon_sandbox: AmazonSandboxHandle, moto_sqs: tuple[str, Any]
) -> None:
    endpoint, sqs = moto_sqs
    queue_url = sqs.create_queue(QueueName="amazon-notifications")["QueueUrl"]
    fifo_url = sqs.create_queue(QueueName="amazon-orders.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    amazon_sandbox.set_notifications(
        {
            "targets": [
                {"kind": "sqs", "url": queue_url, "endpoint_url": endpoint},
                {
                    "kind": "sqs",
                    "url": fifo_url,
                    "endpoint_url": endpoint,
                    "notification_types": ["ORDER_CHANGE"],
                },
            ]
        }
    )
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    fba.create_fulfillment_order(**mcf_order_body("NOTE-1"))
    amazon_sandbox.advance(COMPLETE_AFTER)

    received: list[dict[str, Any]] = []

    def complete_seen() -> bool:
        # Each notification is delivered on its own, so the ORDER_CHANGE for the shipment may
        # arrive after the COMPLETE status: wait for both.
        received.extend(_drain(sqs, queue_url))
        return any(
            m.get("NotificationType") == "FULFILLMENT_ORDER_STATUS"
            and m["Payload"]["FulfillmentOrderStatusNotification"]["FulfillmentOrderStatus"]
            == "COMPLETE"
            for m in received
        ) and any(
            m.get("NotificationType") == "ORDER_CHANGE"
            and m["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] == "Shipped"
            for m in received
        )

    poll(complete_seen)
    statuses = [
        m["Payload"]["FulfillmentOrderStatusNotification"]["FulfillmentOrderStatus"]
        for m in received
        if m["NotificationType"] == "FULFILLMENT_ORDER_STATUS"
    ]
    assert statuses == ["RECEIVED", "PLANNING", "PROCESSING", "COMPLETE"]
    complete = next(
        m
        for m in received
        if m["NotificationType"] == "FULFILLMENT_ORDER_STATUS"
        and m["Payload"]["FulfillmentOrderStatusNotification"]["EventType"] == "Shipment"
        and m["Payload"]["FulfillmentOrderStatusNotification"]["FulfillmentOrderStatus"]
        == "COMPLETE"
    )
    packages = complete["Payload"]["FulfillmentOrderStatusNotification"]["FulfillmentShipment"][
        "FulfillmentShipmentPackages"
    ]
    assert packages[0]["TrackingNumber"].startswith("RM")
    order_changes = [m for m in received if m["NotificationType"] == "ORDER_CHANGE"]
    assert order_changes[-1]["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] == (
        "Shipped"
    )
    for message in received:
        spapi_models.validate_notification(message["NotificationType"], message)
    ids = [m["NotificationMetadata"]["NotificationId"] for m in received]
    assert len(ids) == len(set(ids))
    fifo = poll(lambda: _drain(sqs, fifo_url))
    assert {m["NotificationType"] for m in fifo} == {"ORDER_CHANGE"}


def test_report_processing_finished_is_delivered_to_an_http_callback_at_least_once(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    calls: list[dict[str, Any]] = []
    failures_left = [2]

    async def receive(request: Request) -> JSONResponse:
        body = await request.json()
        if failures_left[0] > 0:  # the receiver is down for the first two attempts
            failures_left[0] -= 1
            return JSONResponse({"error": "down"}, 503)
        calls.append(body)
        return JSONResponse({})

    receiver = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    with ThreadedServer(receiver) as server:
        amazon_sandbox.set_notifications(
            {
                "targets": [
                    {
                        "kind": "http",
                        "url": f"{server.url}/hook",
                        "notification_types": ["REPORT_PROCESSING_FINISHED"],
                    }
                ]
            }
        )
        reports = amazon_sandbox.sp_api_client(Reports)
        report_id = reports.create_report(
            reportType="GET_AFN_INVENTORY_DATA", marketplaceIds=["A1F83G8C2ARO7P"]
        ).payload["reportId"]
        amazon_sandbox.advance(DONE_AFTER)
        poll(lambda: calls)
    (message,) = calls
    spapi_models.validate_notification("REPORT_PROCESSING_FINISHED", message)
    finished = message["payload"]["reportProcessingFinishedNotification"]
    assert finished["reportId"] == report_id
    assert finished["processingStatus"] == "DONE"
    assert finished["reportDocumentId"]
    delivered = poll(
        lambda: amazon_sandbox.control.get("/_sandbox/notifications").json()["delivered"]
    )
    assert delivered[0]["attempts"] == 3


def test_duplicate_rate_delivers_some_messages_twice(amazon_sandbox: AmazonSandboxHandle) -> None:
    calls: list[str] = []

    async def receive(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(body["NotificationMetadata"]["NotificationId"])
        return JSONResponse({})

    receiver = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    with ThreadedServer(receiver) as server:
        amazon_sandbox.set_notifications(
            {
                "targets": [
                    {
                        "kind": "http",
                        "url": f"{server.url}/hook",
                        "notification_types": ["FULFILLMENT_ORDER_STATUS"],
                    }
                ],
                "duplicate_rate": 1.0,
            }
        )
        fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
        fba.create_fulfillment_order(**mcf_order_body("DUP-1"))
        poll(lambda: len(calls) >= 2)
    assert len(calls) == 2
    assert calls[0] == calls[1]


def test_bad_notification_config_is_400(amazon_sandbox: AmazonSandboxHandle) -> None:
    response = amazon_sandbox.control.post(
        "/_sandbox/notifications",
        json={"targets": [{"kind": "sqs", "url": "q", "notification_types": ["ANY_OFFER"]}]},
    )
    assert response.status_code == 400
    assert "notification_types" in response.text


def test_targets_from_options_receive_notifications() -> None:
    from sandbox.amazon import AmazonSandboxOptions, NotificationTarget, create_app
    from tests.fixtures.amazon_sandbox import (
        AMAZON_SANDBOX_START,
        clear_sp_api_token_cache,
        contract_violations,
    )

    clear_sp_api_token_cache()
    calls: list[dict[str, Any]] = []

    async def receive(request: Request) -> JSONResponse:
        calls.append(await request.json())
        return JSONResponse({})

    receiver = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    with ThreadedServer(receiver) as server:
        app = create_app(
            AmazonSandboxOptions(
                clock_factor=0,
                clock_start=AMAZON_SANDBOX_START,
                notification_targets=[NotificationTarget(kind="http", url=f"{server.url}/hook")],
            )
        )
        try:
            with ThreadedServer(app) as sandbox_server:
                handle = AmazonSandboxHandle(
                    sandbox_server.url, app.state.sandbox, httpx.Client(base_url=sandbox_server.url)
                )
                handle.sp_api_client(FulfillmentOutbound).create_fulfillment_order(
                    **mcf_order_body("OPT-1")
                )
                poll(lambda: calls)
                handle.control.close()
        finally:
            app.state.sandbox.close()
    assert calls[0]["NotificationType"] == "FULFILLMENT_ORDER_STATUS"
    assert contract_violations(app.state.sandbox) == []
