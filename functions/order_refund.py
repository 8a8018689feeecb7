"""`POST /orders/{orderId}/refunds`: the shop or ERP refunds an order, whole or in part.

The route, its models and its replies: opayo_fba.api.routes.order_refund.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.api.resolver import api_for
from opayo_fba.api.routes import order_refund
from opayo_fba.lambda_support import remember_context
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import load_settings
from opayo_fba.settings.api import OrderRefundSettings

load_settings(OrderRefundSettings)
app = api_for(order_refund.router, order_refund.BODY)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    return app.resolve(event, context)
