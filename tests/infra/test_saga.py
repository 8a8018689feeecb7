"""The saga: a Standard state machine with retries, compensations and a shipment wait loop.

The graph tests walk the resolved ASL definition: from each failure the saga can meet, they
follow the Catch to the states that run and check the right compensation (and only it) runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.constants import (
    ERROR_CAPTURE_FAILED,
    ERROR_FULFILLMENT_REJECTED,
    ERROR_MERCHANT_CANCELLED,
    ERROR_PAYMENT_DECLINED,
    LAMBDA_INIT_SECONDS,
)
from infra.saga import COMPENSATION_MAX_ATTEMPTS, STEP_MAX_ATTEMPTS, TIMEOUT_ERRORS
from tests.infra.conftest import PROJECT_ROOT, of_type

ASL_VALIDATOR = PROJECT_ROOT / "node_modules" / ".bin" / "asl-validator"

States = dict[str, dict[str, Any]]


def _states(definition: dict[str, Any]) -> States:
    states: States = definition["States"]
    return states


def _successors(state: dict[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    if "Default" in state:
        yield state["Default"]


def _reachable(states: States, start: str) -> set[str]:
    """States reachable from `start` by Next/Choice edges (not by Catch)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_successors(states[name]))
    return seen


def _catch_target(state: dict[str, Any], error: str) -> str:
    for catch in state.get("Catch", []):
        if error in catch["ErrorEquals"]:
            return str(catch["Next"])
    raise AssertionError(f"no Catch for {error} in {state}")


def _lambda_names(states: States, names: set[str]) -> set[str]:
    """The function logical ids the given states invoke (payload-only tasks name the ARN)."""
    return {
        states[name]["Resource"].rsplit(":", 1)[-1] for name in names if _is_lambda(states[name])
    }


def _is_lambda(state: dict[str, Any]) -> bool:
    return (
        state["Type"] == "Task"
        and ":lambda:" in state["Resource"]
        and ":function:" in state["Resource"]
    )


def _invokes(states: States, names: set[str], module_fragment: str) -> bool:
    return any(module_fragment in fn for fn in _lambda_names(states, names))


def test_state_machine_is_standard_traced_and_logs_everything(resources: dict[str, Any]) -> None:
    (machine,) = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True


def test_happy_path_order(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    order = []
    name = saga_definition["StartAt"]
    while name not in order and states[name]["Type"] == "Task":
        order.append(name)
        name = states[name]["Next"]
    assert order == [
        "ValidateAndMap",
        "CreateFulfillmentOrderOnHold",
        "CapturePayment",
        "ReleaseFulfillmentOrderToShip",
        "AwaitFulfillmentUpdate",
    ]
    assert states[name]["Type"] == "Choice"


def test_every_lambda_task_retries_transient_errors_with_backoff_and_jitter(
    saga_definition: dict[str, Any],
) -> None:
    tasks = {n: s for n, s in _states(saga_definition).items() if s["Type"] == "Task"}
    assert len(tasks) >= 15
    for name, state in tasks.items():
        (retry,) = state["Retry"]
        assert retry["JitterStrategy"] == "FULL", name
        assert retry["BackoffRate"] >= 2, name
        assert retry["MaxAttempts"] >= STEP_MAX_ATTEMPTS, name
        if _is_lambda(state):
            assert "UpstreamError" in retry["ErrorEquals"], name
            assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"], name
            assert retry["MaxDelaySeconds"] <= 300, name
            assert "TimeoutSeconds" in state, name
            if name != "AwaitFulfillmentUpdate":  # its timeout is the poll interval
                # Every step is idempotent: a timeout (the state's or the function's) retries.
                assert set(TIMEOUT_ERRORS) <= set(retry["ErrorEquals"]), name


def test_payment_declined_creates_no_fulfillment_order(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    branch = _reachable(states, _catch_target(states["ValidateAndMap"], ERROR_PAYMENT_DECLINED))
    assert not _invokes(states, branch, "CreateFulfillmentOrder")
    assert not _invokes(states, branch, "CapturePayment")
    assert _invokes(states, branch, "RecordOutcome")


def test_fulfillment_rejected_aborts_the_deferred_payment(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    start = _catch_target(states["CreateFulfillmentOrderOnHold"], ERROR_FULFILLMENT_REJECTED)
    branch = _reachable(states, start)
    assert _invokes(states, branch, "AbortPayment")
    assert not _invokes(states, branch, "RefundPayment")
    assert not _invokes(states, branch, "CapturePayment")


@pytest.mark.parametrize("error", [ERROR_CAPTURE_FAILED, "States.ALL"])
def test_capture_failed_cancels_the_fulfillment_order_and_aborts(
    saga_definition: dict[str, Any], error: str
) -> None:
    states = _states(saga_definition)
    branch = _reachable(states, _catch_target(states["CapturePayment"], error))
    assert _invokes(states, branch, "CancelFulfillmentOrder")
    assert _invokes(states, branch, "AbortPayment")
    assert not _invokes(states, branch, "RefundPayment")


def test_merchant_cancel_before_capture_cancels_and_aborts(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    branch = _reachable(states, _catch_target(states["CapturePayment"], ERROR_MERCHANT_CANCELLED))
    assert _invokes(states, branch, "CancelFulfillmentOrder")
    assert _invokes(states, branch, "AbortPayment")
    assert not _invokes(states, branch, "RefundPayment")


def test_release_failure_after_capture_cancels_and_refunds(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    branch = _reachable(
        states, _catch_target(states["ReleaseFulfillmentOrderToShip"], "States.ALL")
    )
    assert _invokes(states, branch, "CancelFulfillmentOrder")
    assert _invokes(states, branch, "RefundPayment")


def _choice_target(states: States, status: str) -> str:
    (choice,) = [s for s in states.values() if s["Type"] == "Choice"]
    for rule in choice["Choices"]:
        if json.dumps(rule).count(f'"StringEquals": "{status}"'):
            return str(rule["Next"])
    return str(choice["Default"])


def test_wait_is_a_task_token_resumed_by_notifications_with_polling_as_fallback(
    saga_definition: dict[str, Any], config: Any
) -> None:
    states = _states(saga_definition)
    await_state = states["AwaitFulfillmentUpdate"]
    assert await_state["Resource"].endswith(":lambda:invoke.waitForTaskToken")
    assert await_state["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    # No notification within the poll interval: ask Amazon, then decide as for a notification.
    assert await_state["TimeoutSeconds"] == config.fulfillment_status_poll_seconds
    (timeout_catch,) = [c for c in await_state["Catch"] if c["ErrorEquals"] == ["States.Timeout"]]
    assert _invokes(states, {timeout_catch["Next"]}, "CheckFulfillmentStatus")
    assert states[timeout_catch["Next"]]["Next"] == await_state["Next"]
    # Still processing: back to waiting.
    assert _choice_target(states, "Processing") == "AwaitFulfillmentUpdate"
    shipped = _reachable(states, _choice_target(states, "Complete"))
    assert _invokes(states, shipped, "MarkShipped")
    assert any(
        states[n]["Resource"].endswith(":events:putEvents")
        for n in shipped
        if "Resource" in states[n]
    )
    assert any(states[n]["Type"] == "Succeed" for n in shipped)
    assert _choice_target(states, "CompletePartialled") == _choice_target(states, "Complete")


@pytest.mark.parametrize("status", ["Unfulfillable", "Cancelled"])
def test_fulfillment_lost_after_capture_refunds(
    saga_definition: dict[str, Any], status: str
) -> None:
    states = _states(saga_definition)
    branch = _reachable(states, _choice_target(states, status))
    assert _invokes(states, branch, "RefundPayment")
    assert not _invokes(states, branch, "MarkShipped")


def test_merchant_cancel_after_capture_cancels_and_refunds(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    branch = _reachable(states, _choice_target(states, "MerchantCancelled"))
    assert _invokes(states, branch, "CancelFulfillmentOrder")
    assert _invokes(states, branch, "RefundPayment")


def test_a_failing_compensation_fails_the_execution(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    compensations = [
        n
        for n, s in states.items()
        if s["Type"] == "Task" and "compensation" in (s.get("ResultPath") or "")
    ]
    assert len(compensations) >= 6
    for name in compensations:
        target = _catch_target(states[name], "States.ALL")
        assert states[target]["Type"] == "Fail", name
        assert states[target]["Error"] == "CompensationFailed"


def test_every_compensation_branch_tells_the_erp(saga_definition: dict[str, Any]) -> None:
    states = _states(saga_definition)
    ends = [n for n, s in states.items() if s["Type"] == "Succeed" and n.endswith("Compensated")]
    assert len(ends) == 9
    for end in ends:
        emitters = [
            n
            for n, s in states.items()
            if s.get("Next") == end and s["Resource"].endswith(":events:putEvents")
        ]
        assert emitters, end
        detail = states[emitters[0]]["Parameters"]["Entries"][0]
        assert detail["DetailType"] == "OrderCompensated"


def test_definition_passes_asl_validator(saga_definition: dict[str, Any], tmp_path: Path) -> None:
    if not ASL_VALIDATOR.exists():
        pytest.fail(f"{ASL_VALIDATOR} is missing: run `npm ci` (make test does it) first")
    path = tmp_path / "saga.asl.json"
    path.write_text(json.dumps(saga_definition))
    node = shutil.which("node")
    assert node, "Node.js is needed for asl-validator"
    result = subprocess.run(  # noqa: S603
        [str(ASL_VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    """The tool really checks: a state pointing nowhere must fail."""
    if not ASL_VALIDATOR.exists():
        pytest.fail(f"{ASL_VALIDATOR} is missing: run `npm ci` (make test does it) first")
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    result = subprocess.run(  # noqa: S603
        [str(ASL_VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0


def _function_of(state: dict[str, Any]) -> str:
    """The logical id of the function a Lambda task invokes (either integration form)."""
    if _is_lambda(state):
        return str(state["Resource"].rsplit(":", 1)[-1])
    name = state["Parameters"]["FunctionName"]
    return str(name.rsplit(":", 1)[-1])


def test_no_task_times_out_while_its_function_can_still_run(
    saga_definition: dict[str, Any], resources: dict[str, Any]
) -> None:
    """The lost-capture bug: a state timed out, the catch-all compensated, the function went
    on and captured. A task's timeout must exceed its function's timeout (which bounds every
    rate-limit wait inside it, see opayo_fba.lambda_support.time_budget) plus Lambda's init."""
    tasks = {
        n: s
        for n, s in _states(saga_definition).items()
        if s["Type"] == "Task" and ":lambda:" in s["Resource"]
    }
    assert len(tasks) >= 15
    for name, state in tasks.items():
        if name == "AwaitFulfillmentUpdate":
            continue  # waits for a task token; its function returns at once
        function = resources[_function_of(state)]
        lambda_timeout = function["Properties"]["Timeout"]
        assert state["TimeoutSeconds"] > lambda_timeout + LAMBDA_INIT_SECONDS, name


FORWARD_STEPS = (
    "ValidateAndMap",
    "CreateFulfillmentOrderOnHold",
    "CapturePayment",
    "ReleaseFulfillmentOrderToShip",
    "AwaitFulfillmentUpdate",
    "CheckFulfillmentStatus",
)


@pytest.mark.parametrize("name", FORWARD_STEPS)
def test_a_timeout_that_outlasts_the_retries_is_caught(
    saga_definition: dict[str, Any], name: str
) -> None:
    states = _states(saga_definition)
    catches = states[name]["Catch"]
    assert any(
        "States.ALL" in c["ErrorEquals"] or "States.Timeout" in c["ErrorEquals"] for c in catches
    ), name
    assert catches[-1]["ErrorEquals"] == ["States.ALL"], name  # and everything else too


@pytest.mark.parametrize(
    ("step", "compensations"),
    [
        ("ValidateAndMap", {"AbortPayment"}),
        ("CreateFulfillmentOrderOnHold", {"CancelFulfillmentOrder", "AbortPayment"}),
        ("CapturePayment", {"CancelFulfillmentOrder", "AbortPayment"}),
        ("ReleaseFulfillmentOrderToShip", {"CancelFulfillmentOrder", "RefundPayment"}),
    ],
)
def test_a_step_that_keeps_timing_out_is_compensated_from_the_providers_state(
    saga_definition: dict[str, Any], step: str, compensations: set[str]
) -> None:
    states = _states(saga_definition)
    branch = _reachable(states, _catch_target(states[step], "States.ALL"))
    for compensation in compensations:
        assert _invokes(states, branch, compensation), (step, compensation)
    assert not _invokes(states, branch, "CapturePayment")


def test_a_status_check_that_keeps_failing_waits_again_instead_of_compensating(
    saga_definition: dict[str, Any],
) -> None:
    states = _states(saga_definition)
    assert _catch_target(states["CheckFulfillmentStatus"], "States.ALL") == (
        "AwaitFulfillmentUpdate"
    )


def test_every_compensation_retries_its_timeouts_before_failing(
    saga_definition: dict[str, Any],
) -> None:
    states = _states(saga_definition)
    compensations = [
        n
        for n, s in states.items()
        if s["Type"] == "Task" and "compensation" in (s.get("ResultPath") or "")
    ]
    assert len(compensations) >= 10
    for name in compensations:
        (retry,) = states[name]["Retry"]
        assert set(TIMEOUT_ERRORS) <= set(retry["ErrorEquals"]), name
        assert retry["MaxAttempts"] == COMPENSATION_MAX_ATTEMPTS, name


@pytest.mark.parametrize("branch_start", ["ReleaseFailed", "MerchantCancelledAfterCapture"])
def test_goods_already_underway_after_capture_go_on_instead_of_being_refunded(
    saga_definition: dict[str, Any], branch_start: str
) -> None:
    states = _states(saga_definition)
    cancel = states[f"{branch_start}CancelFulfillmentOrder"]
    assert _catch_target(cancel, "FulfillmentUnderway") == "AwaitFulfillmentUpdate"
    assert cancel["Catch"][-1]["ErrorEquals"] == ["States.ALL"]


def test_a_refused_merchant_cancel_goes_back_to_following_the_order(
    saga_definition: dict[str, Any],
) -> None:
    """CancellationRefused on a merchant-cancel branch: the order goes on (no refund, no
    CompensationFailed); on every other branch a refused cancel is still a failure."""
    states = _states(saga_definition)
    expected = {
        "MerchantCancelledBeforeCaptureCancelFulfillmentOrder": "CapturePayment",
        "MerchantCancelledAfterCaptureCancelFulfillmentOrder": "AwaitFulfillmentUpdate",
    }
    for name, state in states.items():
        catches = [c for c in state.get("Catch", []) if "CancellationRefused" in c["ErrorEquals"]]
        if name in expected:
            assert [c["Next"] for c in catches] == [expected[name]], name
            # Before the catch-all, which must stay last.
            assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
        else:
            assert catches == [], name
