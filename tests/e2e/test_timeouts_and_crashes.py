"""Each money step performs its side effect, then its function is stopped before it can write
anything down (what a Lambda timeout does), through the real template on the local runtime.

However the saga goes on (retries, its catches, the execution-failure recovery), the order
must end with the money right, judged on the sandboxes' own records:
- shipped                  -> captured exactly once, nothing refunded;
- captured and not shipped -> refunded in full;
- authorised, not shipped  -> aborted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order
from local_runtime.lambda_bridge import InProcessLambdas

INSTRUCTIONS = r"^/api/v1/transactions/[^/]+/instructions$"
TRANSACTIONS = r"^/api/v1/transactions$"
GET_TRANSACTION = r"^/api/v1/transactions/[^/]+$"
CREATE_FULFILLMENT = r"^/fba/outbound/2020-07-01/fulfillmentOrders$"
UPDATE_FULFILLMENT = r"^/fba/outbound/2020-07-01/fulfillmentOrders/[^/]+$"
SHIPPED = ("Complete", "CompletePartialled")


@pytest.fixture
def lambdas(demo: DemoContext) -> Iterator[InProcessLambdas]:
    runtime = demo.environment.runtime
    assert runtime is not None
    yield runtime.lambdas
    runtime.lambdas.clear_crashes()


def _submit(demo: DemoContext, order_id: str, sku: str = "OPF-MUG-BLUE") -> None:
    msk, card = demo.card_identifier()
    order = sample_order(order_id, sku=sku, unit=1500, qty=1)
    reply = demo.submit(
        order,
        {
            "type": "pi_card",
            "merchantSessionKey": msk,
            "cardIdentifier": card,
            "strongCustomerAuthentication": BROWSER_DATA,
        },
    )
    assert reply.status_code == 201, reply.text[:300]


def _settled(demo: DemoContext, order_id: str, seconds: float = 90) -> dict[str, Any]:
    """The order once the saga or the recovery has decided it (polled, bounded)."""
    deadline = time.monotonic() + seconds
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = demo.order(order_id)
        if order.get("outcome") or order.get("status") == "shipped":
            return order
        time.sleep(0.1)
    raise AssertionError(f"{order_id} never settled: {order.get('history')}")


def _amazon_status(demo: DemoContext, order_id: str) -> str | None:
    sandbox = demo.environment.amazon.app.state.sandbox  # type: ignore[union-attr]
    record = sandbox.state.store.get("fulfillment_order", order_id)
    return None if record is None else str(record["order"]["fulfillmentOrderStatus"])


def _money(demo: DemoContext, order_id: str) -> tuple[str, dict[str, Any], str | None]:
    """What Opayo and Amazon hold: the judgement, Opayo's record, Amazon's status."""
    opayo = demo.opayo_transaction(f"PAY-{order_id}")
    status = _amazon_status(demo, order_id)
    captured, refunded = opayo.get("capturedAmount", 0), opayo.get("refundedAmount", 0)
    if status in SHIPPED:
        verdict = (
            "shipped, captured once" if (opayo.get("captureCount"), refunded) == (1, 0) else ""
        )
    elif captured:
        verdict = "not shipped, refunded" if refunded == captured else ""
    else:
        verdict = "not shipped, aborted" if opayo.get("aborted") else ""
    return verdict or f"WRONG: captured {captured}, refunded {refunded}", opayo, status


def _run(demo: DemoContext, order_id: str, sku: str = "OPF-MUG-BLUE") -> tuple[str, Any, Any]:
    _submit(demo, order_id, sku)
    order = _settled(demo, order_id)
    verdict, opayo, amazon = _money(demo, order_id)
    assert not verdict.startswith("WRONG"), (verdict, amazon, order.get("history"))
    return verdict, opayo, order


@pytest.mark.e2e
def test_capture_landed_then_the_function_stopped_once(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    rule = lambdas.crash_after("saga_capture_payment", "POST", INSTRUCTIONS)
    verdict, opayo, order = _run(demo, "E2E-T-CAPTURE-ONCE")
    assert opayo["captureCount"] == 1
    assert rule.fired == 1
    assert verdict == "shipped, captured once"  # the retry found the release at Opayo
    assert order["status"] == "shipped"


@pytest.mark.e2e
def test_capture_landed_every_time_and_never_recorded(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    lambdas.crash_after("saga_capture_payment", "POST", INSTRUCTIONS, times=None)
    verdict, opayo, order = _run(demo, "E2E-T-CAPTURE-LOST")
    # The customer paid and nothing shipped: the compensation asked Opayo and refunded.
    assert verdict == "not shipped, refunded"
    assert opayo["refundCount"] == 1
    assert order["outcome"] == "capture_failed"
    assert order["status"] == "refunded"


@pytest.mark.e2e
def test_refund_landed_then_the_function_stopped(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    lambdas.crash_after("saga_capture_payment", "POST", INSTRUCTIONS, times=None)
    refund = lambdas.crash_after("saga_abort_payment", "POST", TRANSACTIONS)
    verdict, opayo, _ = _run(demo, "E2E-T-REFUND-LOST")
    assert refund.fired == 1
    assert verdict == "not shipped, refunded"
    assert opayo["refundCount"] == 1  # the retry reused the refund's vendorTxCode


@pytest.mark.e2e
def test_abort_landed_then_the_function_stopped(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    abort = lambdas.crash_after("saga_abort_payment", "POST", INSTRUCTIONS)
    verdict, opayo, order = _run(demo, "E2E-T-ABORT-LOST", sku="OPF-OUT-OF-STOCK")
    assert abort.fired == 1
    assert verdict == "not shipped, aborted"
    assert len(opayo["instructions"]) == 1  # not aborted twice
    assert order["outcome"] == "fulfillment_rejected"


@pytest.mark.e2e
def test_fulfillment_order_created_but_never_recorded(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    lambdas.crash_after("saga_create_fulfillment_order", "POST", CREATE_FULFILLMENT, times=None)
    verdict, _, order = _run(demo, "E2E-T-CREATE-LOST")
    assert verdict == "not shipped, aborted"
    assert _amazon_status(demo, "E2E-T-CREATE-LOST") == "Cancelled"  # found and cancelled
    assert order["outcome"] == "fulfillment_failed"


@pytest.mark.e2e
def test_release_to_ship_landed_but_never_recorded(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    lambdas.crash_after("saga_release_fulfillment_order", "PUT", UPDATE_FULFILLMENT, times=None)
    verdict, _, _ = _run(demo, "E2E-T-RELEASE-LOST")
    # Either Amazon was still able to cancel (refunded) or was already shipping (kept).
    assert verdict in ("shipped, captured once", "not shipped, refunded")


@pytest.mark.e2e
def test_a_compensation_that_keeps_failing_is_made_right_by_the_recovery(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    """CompensationFailed ends the execution FAILED; Step Functions' own status-change event
    reaches the recovery function, which reads Opayo and aborts."""
    lambdas.crash_after("saga_abort_payment", "GET", GET_TRANSACTION, times=None)
    verdict, _, order = _run(demo, "E2E-T-RECOVERED", sku="OPF-OUT-OF-STOCK")
    assert verdict == "not shipped, aborted"
    assert order["outcome"] == "execution_failed"
    events = [entry["event"] for entry in order["history"]]
    assert "execution_recovered" in events


@pytest.mark.e2e
def test_an_authorisation_whose_order_was_never_stored_is_aborted_by_the_sweep(
    demo: DemoContext, lambdas: InProcessLambdas
) -> None:
    """Opayo authorised, then intake stopped before storing the order, and the shop gave up:
    the hourly check finds intake's note and aborts the authorisation at Opayo."""
    import json

    order_id = "E2E-T-INTAKE-LOST"
    crash = lambdas.crash_after("order_intake", "POST", TRANSACTIONS)
    msk, card = demo.card_identifier()
    payment = {
        "type": "pi_card",
        "merchantSessionKey": msk,
        "cardIdentifier": card,
        "strongCustomerAuthentication": BROWSER_DATA,
    }
    order = sample_order(order_id, sku="OPF-MUG-BLUE", unit=1500, qty=1)
    reply = demo.submit(order, payment)
    assert reply.status_code >= 500, reply.text[:300]
    assert crash.fired == 1
    assert demo.api.get(f"/orders/{order_id}").status_code == 404
    held = demo.opayo_transaction(f"PAY-{order_id}")
    assert held["status"] == "Ok"
    assert not held.get("aborted")

    runtime = demo.environment.runtime
    assert runtime is not None
    (schedule,) = [
        s for s in runtime.schedules.schedules.values() if "HeldAuthorisations" in s.name
    ]
    # The schedule's own input, with the note's age brought to now (the test cannot wait 15 min).
    event = {**json.loads(schedule.input or "{}"), "abandonedAfterMinutes": 0}
    swept = lambdas.invoke(schedule.function, event)
    assert swept.error_type is None, swept.error_message
    assert swept.payload["abandoned_aborted"] == 1

    opayo = demo.opayo_transaction(f"PAY-{order_id}")
    assert opayo.get("aborted")
    assert not opayo.get("capturedAmount")
    late = demo.submit(order, payment)  # the shop's late retry is told, and pays nothing
    assert late.status_code == 409, late.text[:300]
    assert "new order id" in late.json()["error"]
    assert demo.opayo_transaction(f"PAY-{order_id}")["instructions"] == opayo["instructions"]
