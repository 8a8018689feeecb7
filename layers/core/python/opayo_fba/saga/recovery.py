"""Make a saga execution that ended badly right, from what Opayo and Amazon really hold.

The state machine's own catches cover the failures it can see. What it cannot see (a
definition bug, an execution timed out or stopped by an operator, a compensation that kept
failing into CompensationFailed) ends the execution, and Step Functions says so on the default
event bus ("Step Functions Execution Status Change", status FAILED, TIMED_OUT or ABORTED).
`recover_execution` answers that event:

- Amazon is shipping or has shipped the goods -> the order goes on: the money is captured
  (once; released if only authorised) and nothing is refunded;
- otherwise a live fulfillment order is cancelled, and the payment is settled as every
  compensation settles it: captured -> refunded, authorised -> aborted, nothing -> nothing;
- the outcome is recorded on the order and OrderCompensated is emitted, once per execution.

Every action reads the provider's state first, so a repeated event (EventBridge delivers at
least once) changes nothing more. What cannot be made right raises: the invocation fails,
EventBridge retries it, the SagaRecoveryFailed metric alarms, and the event ends in the
recovery dead-letter queue for an operator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from opayo_fba.errors import InvalidInputError, NotFoundError
from opayo_fba.model import PaymentState
from opayo_fba.observability import logger, metrics
from opayo_fba.saga import steps
from opayo_fba.saga.errors import FulfillmentUnderway, step_errors
from opayo_fba.saga.steps import SagaDependencies
from opayo_fba.store.orders import OrderRecord

DETAIL_TYPE = "Step Functions Execution Status Change"
SOURCE = "aws.states"
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")
METRIC_RECOVERED = "SagaRecovered"
METRIC_RECOVERY_FAILED = "SagaRecoveryFailed"
RECOVERED_EVENT = "execution_recovered"


@dataclass(frozen=True)
class EndedExecution:
    """The part of Step Functions' status-change event the recovery needs."""

    execution_arn: str
    status: str
    order_id: str
    error: str | None = None
    attempt: int = 1

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> EndedExecution:
        if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
            raise InvalidInputError("not a Step Functions Execution Status Change event")
        detail = event.get("detail")
        if not isinstance(detail, Mapping):
            raise InvalidInputError("the event has no detail")
        arn, status = detail.get("executionArn"), detail.get("status")
        if not isinstance(arn, str) or not arn or not isinstance(status, str):
            raise InvalidInputError("the event's detail has no executionArn or status")
        order_id, attempt = _order_id(detail)
        return cls(arn, status, order_id, _text(detail.get("error")), attempt)


def _order_id(detail: Mapping[str, Any]) -> tuple[str, int]:
    """The saga's input is `{"orderId": ..., "attempt"?: n}`; Step Functions includes it."""
    try:
        execution_input = json.loads(detail.get("input") or "null")
    except (TypeError, ValueError):
        execution_input = None
    if not isinstance(execution_input, dict):
        execution_input = {}
    order_id = execution_input.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidInputError("the execution's input names no orderId")
    attempt = execution_input.get("attempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise InvalidInputError("the execution's input has an attempt that is not a number")
    return order_id, attempt


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def recover_execution(event: Mapping[str, Any], deps: SagaDependencies) -> dict[str, Any]:
    """The handler's one call. Raises (after counting it) when the order cannot be made right."""
    ended = EndedExecution.from_event(event)
    if ended.status not in ENDED_BADLY:
        return {"orderId": ended.order_id, "action": "none", "reason": ended.status}
    try:
        result = _recover(ended, deps)
    except Exception:
        metrics.add_metric(name=METRIC_RECOVERY_FAILED, unit=MetricUnit.Count, value=1)
        logger.exception(
            "saga execution could not be made right",
            extra={"orderId": ended.order_id, "executionArn": ended.execution_arn},
        )
        raise
    metrics.add_metric(name=METRIC_RECOVERED, unit=MetricUnit.Count, value=1)
    return result


def _recover(ended: EndedExecution, deps: SagaDependencies) -> dict[str, Any]:
    order_id = ended.order_id
    try:
        record = deps.store.get(order_id)
    except NotFoundError:
        return {"orderId": order_id, "action": "none", "reason": "no such order"}
    if _already_recovered(record, ended.execution_arn):
        return {"orderId": order_id, "action": "none", "reason": "already recovered"}
    if ended.attempt != record.attempt:
        # An earlier attempt's execution: the order was resubmitted since, and that attempt's
        # money was settled before it could be (saga/resubmit.py).
        return {"orderId": order_id, "action": "none", "reason": f"attempt {ended.attempt} ended"}
    outcome = f"execution_{ended.status.lower()}"
    state = {"orderId": order_id, "compensationReason": {"outcome": outcome}}
    try:
        fulfillment = steps.cancel_fulfillment_order(state, deps)
    except FulfillmentUnderway:
        payment = _keep_payment_for_shipped_goods(order_id, deps)
        _mark(deps, order_id, ended, outcome=None, detail=f"goods underway; {payment}")
        return {"orderId": order_id, "fulfillment": "underway", "payment": payment}
    settled = steps.settle_payment(state, deps)
    detail = f"fulfillment {fulfillment['action']}; payment {settled['action']}"
    if _mark(deps, order_id, ended, outcome=outcome, detail=detail):
        deps.events.publish(
            "OrderCompensated",
            {"orderId": order_id, "outcome": outcome, "executionId": ended.execution_arn},
        )
    return {
        "orderId": order_id,
        "outcome": outcome,
        "fulfillment": fulfillment["action"],
        "payment": settled["action"],
    }


def _already_recovered(record: OrderRecord, execution_arn: str) -> bool:
    return any(
        entry.event == RECOVERED_EVENT and (entry.detail or "").startswith(execution_arn)
        for entry in record.history
    )


def _mark(
    deps: SagaDependencies,
    order_id: str,
    ended: EndedExecution,
    *,
    outcome: str | None,
    detail: str,
) -> bool:
    """Record the recovery once per execution; True if this call recorded it."""
    recorded: list[bool] = []

    def keep(r: OrderRecord) -> None:
        recorded[:] = [not _already_recovered(r, ended.execution_arn)]
        if not recorded[0]:
            return
        r.note(RECOVERED_EVENT, f"{ended.execution_arn} {ended.status}: {detail}"[:400])
        if outcome is not None:
            r.outcome = outcome
            r.note("outcome", outcome)

    steps.save(deps, order_id, keep)
    return bool(recorded and recorded[0])


def _keep_payment_for_shipped_goods(order_id: str, deps: SagaDependencies) -> str:
    """Goods that ship are paid for: capture once if Opayo still only holds the money."""
    record = deps.store.get(order_id)
    payment = record.payment
    if payment is None or not payment.transaction_id:
        return "no payment"
    if not record.vendor:
        raise ValueError(f"order {order_id} has no Opayo vendor")
    port = deps.payments(record)
    transaction_id = steps.pi_transaction_id(record)
    with step_errors():
        observed = port.observe(transaction_id)
    if observed.state is not PaymentState.AUTHORISED:
        steps.record_observed_payment(deps, order_id, observed)
        return f"kept ({observed.state.value})"
    amount = steps.capture_amount(record)
    with step_errors():
        port.release(transaction_id, amount)

    def keep(r: OrderRecord) -> None:
        r.captured = amount
        if r.payment is not None:
            r.payment = r.payment.model_copy(update={"state": PaymentState.CAPTURED})
        r.note("payment_captured", str(amount))

    steps.save(deps, order_id, keep)
    deps.events.publish(
        "PaymentCaptured",
        {
            "orderId": order_id,
            "vendorTxCode": payment.vendor_tx_code,
            "amount": amount.amount,
            "currency": amount.currency,
        },
    )
    return "captured"
