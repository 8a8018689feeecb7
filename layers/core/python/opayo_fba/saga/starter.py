"""Start one saga execution per order, named after the order, so a second start is a no-op."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

MAX_EXECUTION_NAME = 80
_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(order_id: str, attempt: int = 1) -> str:
    """A valid Step Functions execution name, unique per order id and attempt.

    A resubmitted order's later attempts (saga/resubmit.py) are named after `<id>~A<n>`,
    which the `~` always sends through the hashed form, so no plain order id can take it.

    Names allow letters, digits, `-` and `_` (80 at most). An id that already fits is used as
    is; otherwise its readable part is kept and a hash of the whole id keeps it unique.
    """
    if not order_id:
        raise ValueError("order id is required")
    if attempt > 1:
        order_id = f"{order_id}~A{attempt}"
    if len(order_id) <= MAX_EXECUTION_NAME and not _ALLOWED.search(order_id):
        return order_id
    digest = hashlib.sha256(order_id.encode("utf-8")).hexdigest()[:16]
    readable = _ALLOWED.sub("_", order_id)[: MAX_EXECUTION_NAME - len(digest) - 1]
    return f"{readable}-{digest}"


class SagaStarter:
    def __init__(self, state_machine_arn: str, client: Any | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("stepfunctions")
        self._client = client
        self._arn = state_machine_arn

    def start(self, order_id: str, attempt: int = 1) -> bool:
        """Start the saga for `order_id` (its `attempt`); False when it was already started."""
        state: dict[str, Any] = {"orderId": order_id}
        if attempt > 1:
            state["attempt"] = attempt
        try:
            self._client.start_execution(
                stateMachineArn=self._arn,
                name=execution_name(order_id, attempt),
                input=json.dumps(state),
            )
        except self._client.exceptions.ExecutionAlreadyExists:
            return False
        return True


class SagaResumer:
    """Sends the status a waiting saga is waiting for; a stale token is not an error."""

    def __init__(self, client: Any | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("stepfunctions")
        self._client = client

    def resume(self, task_token: str, output: Mapping[str, Any]) -> bool:
        """True if the saga was waiting on this token and now goes on."""
        errors = self._client.exceptions
        try:
            self._client.send_task_success(taskToken=task_token, output=json.dumps(dict(output)))
        except (errors.TaskTimedOut, errors.InvalidToken, errors.TaskDoesNotExist):
            return False  # it timed out and polled, or already went on: nothing lost
        return True
