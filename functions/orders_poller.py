"""Poll Amazon Orders since the watermark.

Lambda handler, invoked by EventBridge Scheduler.

The schedule's input names the account it polls for ({"sellerAccountId": ...} or
{"vendor": ...}): one schedule per account, so one throttled account never delays another.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The domain function this handler calls lands with the saga issue.
    raise NotImplementedError("orders_poller: implemented by the saga issue")
