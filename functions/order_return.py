"""`POST /orders/{orderId}/returns`: ask Amazon for a return authorization for shipped units.

The route, its models and its replies: opayo_fba.api.routes.order_return.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.api.resolver import api_for
from opayo_fba.api.routes import order_return
from opayo_fba.lambda_support import remember_context
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import load_settings
from opayo_fba.settings.api import OrderReturnSettings

load_settings(OrderReturnSettings)
app = api_for(order_return.router, order_return.BODY)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    return app.resolve(event, context)
