"""The one place that creates the Logger, Tracer and Metrics every handler imports.

Powertools reads the service name and metric namespace from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, which the CDK app sets per function.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger: Logger = Logger()
tracer: Tracer = Tracer()
metrics: Metrics = Metrics()
