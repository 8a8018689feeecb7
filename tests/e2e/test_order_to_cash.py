"""Every saga scenario through the real template, judged on the sandboxes' own state:
exactly one fulfillment order and at most one capture per order, the right compensations,
canonical events on the bus, and nothing left in a dead-letter queue."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from demo.scenarios import (
    BROWSER_DATA,
    CHALLENGE_NAME,
    DemoContext,
    Scenario,
    judge,
    sample_order,
    scenarios,
    wait_for,
)
from local_runtime.environment import LocalEnvironment
from opayo_fba.intake.three_d_secure import session_data_for
from opayo_fba.ops import dlq
from sandbox.opayo.browser import answer_challenge
from tests.fixtures.bus import check_canonical, subscribe_to_bus

REGION = "eu-west-2"
# The scenarios that end after the sale (a return) need the carrier clock and the after-sale
# tracker: tests/e2e/test_after_the_sale.py covers them.
SCENARIOS = {s.order_id: s for s in scenarios("E2E") if not s.after_sale}


@pytest.fixture(scope="module")
def bus_events(environment: LocalEnvironment) -> Any:
    """An SQS queue subscribed to the canonical bus, to read what the ERP would receive."""
    return subscribe_to_bus(environment, "erp-inbox")


def _run(demo: DemoContext, scenario: Scenario) -> None:
    scenario.start(demo, scenario)
    order = wait_for(demo, scenario, time.monotonic() + 60)
    result = judge(demo, scenario)
    assert result.passed, f"{scenario.name}: {result.problems} (order: {order.get('history')})"


@pytest.mark.e2e
@pytest.mark.parametrize("order_id", [s.order_id for s in SCENARIOS.values() if not s.exclusive])
def test_scenario(demo: DemoContext, bus_events: Any, order_id: str) -> None:
    _run(demo, SCENARIOS[order_id])


@pytest.mark.e2e
@pytest.mark.parametrize("order_id", [s.order_id for s in SCENARIOS.values() if s.exclusive])
def test_scenario_alone(demo: DemoContext, bus_events: Any, order_id: str) -> None:
    try:
        _run(demo, SCENARIOS[order_id])
    finally:
        demo.amazon.delete("/_sandbox/faults")
        demo.amazon.post("/_sandbox/clock/factor", json={"factor": 600.0})


@pytest.mark.e2e
def test_the_challenge_route_answers_repeats_alike_and_refuses_bad_input(
    demo: DemoContext,
) -> None:
    order_id = "E2E-3DS-RULES"
    msk, card = demo.card_identifier(cardholder_name=CHALLENGE_NAME)
    payment = {
        "type": "pi_card",
        "merchantSessionKey": msk,
        "cardIdentifier": card,
        "strongCustomerAuthentication": BROWSER_DATA,
    }
    created = demo.submit(sample_order(order_id), payment)
    assert created.status_code == 202, created.text
    challenge = created.json()["challenge"]
    assert challenge["threeDSSessionData"] == session_data_for(order_id)
    assert demo.submit(sample_order(order_id), payment).json()["challenge"] == challenge
    route = f"/orders/{order_id}/3ds-challenge"
    # Refused at the edge (the API model) or by the handler; nothing changes.
    assert demo.api.post(route, json={"cRes": "x"}).status_code == 400
    wrong = {"cRes": "eyJ4IjoxfQ", "threeDSSessionData": session_data_for("E2E-OTHER")}
    assert demo.api.post(route, json=wrong).status_code == 400
    unknown = demo.api.post(
        "/orders/E2E-NOBODY/3ds-challenge",
        json={"cRes": "eyJ4IjoxfQ", "threeDSSessionData": session_data_for("E2E-NOBODY")},
    )
    assert unknown.status_code == 404
    assert demo.order(order_id)["three_d_secure"]["state"] == "awaiting"

    returned = answer_challenge(
        challenge["acsUrl"], challenge["cReq"], challenge["threeDSSessionData"]
    )
    assert returned.notification_url == BROWSER_DATA["notificationURL"]
    body = {"cRes": returned.c_res, "threeDSSessionData": returned.three_ds_session_data}
    done = demo.api.post(route, json=body)
    assert done.status_code == 200, done.text
    assert done.json()["payment"]["state"] == "authorised"
    repeat = demo.api.post(route, json=body)
    assert repeat.status_code == 200
    assert repeat.json()["payment"] == done.json()["payment"]
    other = demo.api.post(route, json={**body, "cRes": "eyJ5IjoyfQ"})
    assert other.status_code == 409
    # Judged on Opayo's records: authorised once, and the saga captures it once.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and demo.order(order_id).get("status") != "shipped":
        time.sleep(0.1)
    assert demo.order(order_id)["status"] == "shipped"
    opayo = demo.opayo_transaction(f"PAY-{order_id}")
    assert (opayo["status"], opayo["captureCount"], opayo["threeDSecureStatus"]) == (
        "Ok",
        1,
        "Authenticated",
    )


@pytest.mark.e2e
def test_an_abandoned_challenge_cannot_be_completed_later(demo: DemoContext) -> None:
    # E2E-3DS-GONE was abandoned and aborted by its scenario, when that ran on this worker
    # (xdist may have sent it to the other one): otherwise it is run here first.
    order_id = "E2E-3DS-GONE"
    if not demo.order(order_id):
        _run(demo, SCENARIOS[order_id])
    assert demo.order(order_id)["outcome"] == "3ds_challenge_abandoned"
    late = demo.api.post(
        f"/orders/{order_id}/3ds-challenge",
        json={"cRes": "eyJ4IjoxfQ", "threeDSSessionData": session_data_for(order_id)},
    )
    assert late.status_code == 409
    opayo = demo.opayo_transaction(f"PAY-{order_id}")
    assert (opayo["status"], opayo["threeDSecureStatus"], opayo["captureCount"]) == (
        "Rejected",
        "Incomplete",
        0,
    )


@pytest.mark.e2e
def test_bad_order_request_changes_nothing(demo: DemoContext) -> None:
    missing = demo.api.post("/orders", json={"order": {"order_id": "E2E-BAD"}})
    assert missing.status_code == 400  # the API Gateway model refuses it
    card = demo.submit(
        {"order_id": "E2E-PAN", "note": "4929 0000 0000 6"},
        {"type": "pi_card", "merchantSessionKey": "x", "cardIdentifier": "y"},
    )
    assert card.status_code == 400
    assert "card number" in card.json()["error"]
    assert "4929" not in card.text
    invalid = demo.submit(
        {"order_id": "E2E-INVALID", "channel": "web"},
        {"type": "pi_card", "merchantSessionKey": "x", "cardIdentifier": "y"},
    )
    assert invalid.status_code == 400
    assert any(d["field"].startswith("order.") for d in invalid.json()["details"])
    msk, card_id = demo.card_identifier()
    no_browser = demo.submit(
        sample_order("E2E-NO-SCA"),
        {"type": "pi_card", "merchantSessionKey": msk, "cardIdentifier": card_id},
    )
    assert no_browser.status_code == 400
    assert any(
        d["field"].endswith("strongCustomerAuthentication") for d in no_browser.json()["details"]
    )
    for order_id in ("E2E-BAD", "E2E-PAN", "E2E-INVALID", "E2E-NO-SCA"):
        assert demo.api.get(f"/orders/{order_id}").status_code == 404


@pytest.mark.e2e
def test_after_all_scenarios_events_were_emitted_and_no_dlq_holds_anything(
    demo: DemoContext, bus_events: Any
) -> None:
    # Runs after the scenario tests (pytest keeps file order within a module).
    sqs, url = bus_events
    seen: list[tuple[str, str]] = []
    expected = {
        ("PaymentCaptured", "E2E-HAPPY"),
        ("OrderShipped", "E2E-HAPPY"),
        ("OrderCompensated", "E2E-DECLINED"),
    }
    # Until every expected event is in (bounded), then a quiet second for any duplicate.
    deadline = time.monotonic() + 30
    quiet_until: float | None = None
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            if expected <= set(seen) and {k for k, _ in seen} >= {"RefundIssued"}:
                quiet_until = quiet_until or time.monotonic() + 1.0
                if time.monotonic() >= quiet_until:
                    break
            time.sleep(0.05)
            continue
        for message in batch:
            event = json.loads(message["Body"])
            check_canonical(event)  # the saga's, the functions' and the pollers' events alike
            seen.append((event["detail-type"], event["detail"].get("orderId", "")))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    kinds = {kind for kind, _ in seen}
    assert {"PaymentCaptured", "OrderShipped", "OrderStatusChanged", "RefundIssued"} <= kinds
    assert ("OrderShipped", "E2E-HAPPY") in seen
    assert ("OrderCompensated", "E2E-DECLINED") in seen
    assert [s for s in seen if s == ("PaymentCaptured", "E2E-HAPPY")] == [
        ("PaymentCaptured", "E2E-HAPPY")
    ]
    for queue in dlq.list_dead_letter_queues(boto3.client("sqs", REGION)):
        assert queue.messages == 0, f"{queue.name} holds {queue.messages} messages"
