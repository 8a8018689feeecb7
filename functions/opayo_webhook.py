"""Verify an Opayo Server notification and queue it.

Lambda handler, invoked by API Gateway REST (Lambda proxy integration).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayProxyEvent(event)
    logger.debug("request", extra={"resource": request.resource})
    # The domain function this handler calls lands with the saga issue.
    raise NotImplementedError("opayo_webhook: implemented by the saga issue")
