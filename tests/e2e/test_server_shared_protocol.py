"""Opayo Server orders end to end on the local runtime (the synthesized template, both
sandboxes): captured and refunded through the Server & Direct Shared Protocol, refused
when our address is not on the vendor's Valid IPs, a notification that beats its order, and
a release whose response is lost. Judged on the Opayo sandbox's own records: the
transaction (`captureCount`, `refundCount`, `aborted`), its notifications, and every Shared
Protocol post that reached it (`/_sandbox/shared-protocol`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.scenarios import DemoContext, sample_order
from local_runtime.environment import EnvironmentOptions, LocalEnvironment
from local_runtime.seeds import vendors_in
from local_runtime.template import Template
from sandbox.opayo.options import OpayoSandboxOptions

TIME_FACTOR = 600.0
REGION = "eu-west-2"


@pytest.fixture(scope="module")
def environment(template_path: Path) -> Iterator[LocalEnvironment]:
    # The Opayo clock at the local runtime's cap; a lost response hangs 1 s, not 30 s.
    opayo = {
        vendor: OpayoSandboxOptions(
            vendor=vendor, clock_factor=10.0, lost_response_hang_seconds=1.0
        )
        for vendor in vendors_in(Template.load(template_path, REGION))
    }
    options = EnvironmentOptions(
        template=template_path, time_factor=TIME_FACTOR, run_schedules=False, opayo=opayo
    )
    with LocalEnvironment(options) as running:
        yield running


def _until(what: str, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def _posts(demo: DemoContext, code: str, tx_type: str | None = None) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = demo.opayo.get(
        "/_sandbox/shared-protocol", params={"vendorTxCode": code}
    ).json()["posts"]
    return [p for p in posts if tx_type is None or p["txType"] == tx_type]


def _server_order(demo: DemoContext, order_id: str, *, complete: bool = True) -> tuple[str, str]:
    code = f"SRV-{order_id}"
    vps_tx_id, key = demo.register_server(code, 1850)
    reply = demo.submit(
        sample_order(order_id, sku="OPF-TEE-M", unit=1850, qty=1),
        {"type": "server", "vendorTxCode": code, "vpsTxId": vps_tx_id, "securityKey": key},
    )
    assert reply.status_code in (200, 201), reply.text
    if complete:
        demo.complete_server(vps_tx_id)
    return code, vps_tx_id


def _history(demo: DemoContext, order_id: str) -> list[dict[str, Any]]:
    return list(demo.order(order_id).get("history", []))


@pytest.mark.e2e
def test_a_server_order_is_captured_once_through_release_vsp_and_ships(demo: DemoContext) -> None:
    code, _ = _server_order(demo, "E2E-SRV-SHIP")
    order = _until("shipped", lambda: demo.order("E2E-SRV-SHIP").get("status") == "shipped")
    assert order
    transaction = demo.opayo_transaction(code)
    assert (transaction["captureCount"], transaction["capturedAmount"]) == (1, 1850)
    [release] = _posts(demo, code, "RELEASE")
    assert (release["status"], release["amount"]) == ("OK", "18.50")
    assert demo.order("E2E-SRV-SHIP")["payment"]["tx_auth_no"]


@pytest.mark.e2e
def test_a_cancelled_server_order_is_refunded_through_refund_vsp(demo: DemoContext) -> None:
    # Amazon's clock stands still: the order waits at Received, where it can be cancelled.
    demo.amazon.post("/_sandbox/clock/factor", json={"factor": 0}).raise_for_status()
    try:
        code, _ = _server_order(demo, "E2E-SRV-CANCEL")
        _until(
            "fulfillment order released",
            lambda: any(
                e["event"] == "fulfillment_order_released" for e in _history(demo, "E2E-SRV-CANCEL")
            ),
        )
        assert demo.api.post("/orders/E2E-SRV-CANCEL/cancel").status_code == 202
        _until("refunded", lambda: demo.order("E2E-SRV-CANCEL").get("status") == "refunded")
    finally:
        demo.amazon.post("/_sandbox/clock/factor", json={"factor": TIME_FACTOR})
    transaction = demo.opayo_transaction(code)
    assert (transaction["captureCount"], transaction["refundCount"]) == (1, 1)
    assert transaction["refundedAmount"] == 1850
    [refund] = _posts(demo, code, "REFUND")
    assert refund["status"] == "OK"
    assert refund["relatedVendorTxCode"] == code
    assert len(_posts(demo, code, "RELEASE")) == 1


@pytest.mark.e2e
def test_a_post_from_an_unregistered_address_is_refused_and_reported(demo: DemoContext) -> None:
    code, vps_tx_id = _server_order(demo, "E2E-SRV-IP", complete=False)
    demo.opayo.post("/_sandbox/valid-ips", json={"ips": ["203.0.113.10"]}).raise_for_status()
    try:
        demo.complete_server(vps_tx_id)
        refused = _until(
            "the refusal on the order",
            lambda: [e for e in _history(demo, "E2E-SRV-IP") if e["event"] == "capture_refused"],
        )
    finally:
        demo.opayo.post("/_sandbox/valid-ips", json={"ips": ["127.0.0.1", "::1"]})
    assert "4020" in refused[0]["detail"]
    assert "Valid IPs" in refused[0]["detail"]
    transaction = demo.opayo_transaction(code)
    assert (transaction["captureCount"], transaction["aborted"]) == (0, False)
    posts = _posts(demo, code)
    assert posts
    assert all(p["statusDetail"].startswith("4020") for p in posts)
    assert demo.order("E2E-SRV-IP").get("status") != "shipped"


@pytest.mark.e2e
def test_a_notification_before_its_order_is_retried_and_the_transaction_settles(
    demo: DemoContext,
) -> None:
    code = "SRV-E2E-SRV-EARLY"
    vps_tx_id, key = demo.register_server(code, 1850)
    demo.complete_server(vps_tx_id)  # the notification goes out before the shop's POST
    first = _until(
        "the first notification attempt",
        lambda: (
            (n := demo.opayo.get("/_sandbox/notifications", params={"vendorTxCode": code}))
            and n.json()["notifications"][0]["attempts"]
        ),
    )
    # 503 with no Status= line (or, on a loaded machine, no answer within the sandbox's
    # timeout): never Status=INVALID/ERROR, which would cancel the payment.
    assert first[0].get("httpStatus") in (503, None)
    assert first[0]["answered"] is False
    assert first[0].get("replyStatus") is None
    reply = demo.submit(
        sample_order("E2E-SRV-EARLY", sku="OPF-TEE-M", unit=1850, qty=1),
        {"type": "server", "vendorTxCode": code, "vpsTxId": vps_tx_id, "securityKey": key},
    )
    assert reply.status_code in (200, 201), reply.text
    # Opayo's first retry is 5 minutes later on its clock.
    demo.opayo.post("/_sandbox/clock/advance", json={"seconds": 300}).raise_for_status()
    _until("shipped", lambda: demo.order("E2E-SRV-EARLY").get("status") == "shipped", timeout=120)
    [notification] = demo.opayo.get(
        "/_sandbox/notifications", params={"vendorTxCode": code}
    ).json()["notifications"]
    assert notification["delivered"] is True
    assert not notification.get("cancelledByVendor")
    transaction = demo.opayo_transaction(code)
    assert transaction["server"]["vendorReply"] == "OK"
    assert transaction["captureCount"] == 1


@pytest.mark.e2e
def test_a_release_whose_response_is_lost_is_resolved_and_never_sent_twice(
    demo: DemoContext,
) -> None:
    demo.opayo.post(
        "/_sandbox/faults",
        json={"rules": [{"operation": "shared-release", "kind": "lost_response", "times": 1}]},
    ).raise_for_status()
    try:
        code, _ = _server_order(demo, "E2E-SRV-LOST")
        _until("shipped", lambda: demo.order("E2E-SRV-LOST").get("status") == "shipped")
        fired = demo.opayo.get("/_sandbox/faults").json()["fired"]
    finally:
        demo.opayo.delete("/_sandbox/faults")
    assert {"operation": "shared-release", "kind": "lost_response"} in fired
    assert len(_posts(demo, code, "RELEASE")) == 1
    assert demo.opayo_transaction(code)["captureCount"] == 1
