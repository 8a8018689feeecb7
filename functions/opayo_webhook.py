"""`POST /webhooks/opayo/{vendor}`: an Opayo Server notification, signed with VPSSignature.

The route, its models and its replies: opayo_fba.api.routes.opayo_webhook.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.api.resolver import api_for
from opayo_fba.api.routes import opayo_webhook
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import load_settings
from opayo_fba.settings.api import OpayoWebhookSettings

load_settings(OpayoWebhookSettings)
app = api_for(opayo_webhook.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
