"""Saga: mark the order shipped.

Lambda handler, invoked as a Step Functions task of the saga.

Input and output are the saga state (identifiers and statuses only). Domain errors reach the
state machine as the error names infra/saga.py catches (infra.constants.ERROR_*).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path="orderId")
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The domain function this handler calls lands with the saga issue.
    raise NotImplementedError("saga_mark_shipped: implemented by the saga issue")
