"""Step Functions' own execution status-change events, which moto does not emit.

When a Standard execution ends, Step Functions puts a "Step Functions Execution Status Change"
event on the account's default bus ("EventBridge (CloudWatch Events) for Step Functions
execution status changes", https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html:
source `aws.states`; `detail` as DescribeExecution gives it: executionArn, stateMachineArn,
name, status, startDate and stopDate in epoch milliseconds, input and output as JSON strings
with inputDetails/outputDetails, and error and cause when it failed). moto's interpreter
tells nobody, so `install` hooks the point where an execution has ended
(`BaseExecutionWorkerCommunication.terminated`, pinned by a test) and builds that event.

The template's event-pattern rules on the default bus are matched against it and each Lambda
target is invoked as EventBridge does: asynchronously, retried with backoff up to the
target's `RetryPolicy.MaximumRetryAttempts`, then sent to its `DeadLetterConfig` queue.
Pattern matching covers what our rules use: exact values in lists and nested objects.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from local_runtime.lambda_bridge import InProcessLambdas
from local_runtime.template import Template

LOG = logging.getLogger(__name__)
DETAIL_TYPE = "Step Functions Execution Status Change"
#: The moto method `install` wraps; a moto upgrade that renames it must fail loudly.
PATCHED_METHOD = "terminated"
_original_terminated = getattr(BaseExecutionWorkerCommunication, PATCHED_METHOD)
_listeners: list[Callable[[Any], None]] = []


def _millis(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def status_change_event(execution: Any, region: str, account: str) -> dict[str, Any]:
    """The event Step Functions sends for an execution of moto's that has ended."""
    status = getattr(execution.exec_status, "value", str(execution.exec_status))
    output = execution.output
    detail: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date),
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "inputDetails": {"included": True},
        "output": None if output is None else json.dumps(output, separators=(",", ":")),
        "outputDetails": None if output is None else {"included": True},
    }
    if execution.error is not None:
        detail["error"] = str(execution.error)
    if execution.cause is not None:
        detail["cause"] = str(execution.cause)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.states",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [execution.exec_arn],
        "detail": detail,
    }


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge matching for exact values: every pattern key must match the event."""
    if isinstance(pattern, dict):
        if not isinstance(event, dict):
            return False
        return all(key in event and matches(value, event[key]) for key, value in pattern.items())
    if isinstance(pattern, list):
        values = event if isinstance(event, list) else [event]
        return any(value in pattern for value in values)
    return bool(pattern == event)


@dataclass(frozen=True)
class RuleTarget:
    rule: str
    pattern: dict[str, Any]
    function: str
    max_retries: int
    dead_letter_arn: str | None


def rule_targets_from_template(template: Template) -> list[RuleTarget]:
    """The Lambda targets of the template's event-pattern rules on the default bus."""
    found = []
    for rule in template.of_type("AWS::Events::Rule"):
        p = template.resolve(rule.properties)
        if "EventPattern" not in p or p.get("State", "ENABLED") != "ENABLED":
            continue
        if p.get("EventBusName") not in (None, "default"):
            continue
        pattern = p["EventPattern"]
        if isinstance(pattern, str):
            pattern = json.loads(pattern)
        for target in p.get("Targets", []):
            if ":lambda:" not in str(target["Arn"]):
                continue
            retry = target.get("RetryPolicy") or {}
            found.append(
                RuleTarget(
                    rule=rule.logical_id,
                    pattern=pattern,
                    function=str(target["Arn"]),
                    max_retries=int(retry.get("MaximumRetryAttempts", 185)),
                    dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                )
            )
    return found


class DefaultBus:
    """Delivers AWS service events to the template's rules, as the default bus would."""

    def __init__(
        self,
        targets: list[RuleTarget],
        lambdas: InProcessLambdas,
        region: str,
        time_factor: float = 1.0,
        retry_delay_seconds: float = 1.0,
    ) -> None:
        self.targets = targets
        self._lambdas = lambdas
        self._region = region
        self._factor = time_factor
        self._retry_delay = retry_delay_seconds
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.delivered: list[tuple[str, dict[str, Any]]] = []
        self.dead_lettered: list[tuple[str, dict[str, Any]]] = []

    def put(self, event: dict[str, Any]) -> None:
        for target in self.targets:
            if matches(target.pattern, event):
                thread = threading.Thread(
                    target=self._deliver,
                    args=(target, event),
                    name=f"rule-{target.rule}",
                    daemon=True,
                )
                # Started before it is listed, so that wait_idle never joins one not started.
                thread.start()
                self._threads.append(thread)

    def _deliver(self, target: RuleTarget, event: dict[str, Any]) -> None:
        for attempt in range(target.max_retries + 1):
            if self._stop.is_set():
                return
            invocation = self._lambdas.invoke(target.function, event)
            if invocation.error_type is None:
                self.delivered.append((target.rule, event))
                return
            LOG.warning(
                "rule %s: %s failed (%s), attempt %d",
                target.rule,
                target.function,
                invocation.error_type,
                attempt + 1,
            )
            # EventBridge backs off exponentially; the local clock runs `factor` times faster.
            if self._stop.wait(min(60.0, self._retry_delay * 2**attempt) / self._factor):
                return
        self.dead_lettered.append((target.rule, event))
        if target.dead_letter_arn:
            sqs = boto3.client("sqs", self._region)
            name = target.dead_letter_arn.rsplit(":", 1)[-1]
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))

    def wait_idle(self, seconds: float) -> bool:
        """Wait (bounded) until every delivery so far has finished; True if they all did."""
        deadline = time.monotonic() + seconds
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)


def _emitting_terminated(self: BaseExecutionWorkerCommunication) -> None:
    _original_terminated(self)
    for listener in list(_listeners):
        try:
            listener(self.execution)
        except Exception:  # a listener must never break moto's execution thread
            LOG.exception("execution status-change listener failed")


def install(bus: DefaultBus, region: str, account: str) -> None:
    """Emit a status-change event to `bus` whenever an execution ends, until `uninstall`."""
    if not callable(getattr(BaseExecutionWorkerCommunication, PATCHED_METHOD, None)):
        raise RuntimeError("moto's Step Functions execution worker changed: cannot see ends")
    _listeners[:] = [lambda execution: bus.put(status_change_event(execution, region, account))]
    setattr(BaseExecutionWorkerCommunication, PATCHED_METHOD, _emitting_terminated)


def uninstall() -> None:
    _listeners.clear()
    setattr(BaseExecutionWorkerCommunication, PATCHED_METHOD, _original_terminated)
