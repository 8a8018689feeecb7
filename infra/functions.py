"""How every Lambda function is built: same runtime, layers, logging and tracing; own role.

`FunctionFactory` is not a construct: each capability's construct asks it for the functions
it owns and then grants each one exactly what it needs (`grant_*`), so a function's role only
ever holds its own permissions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constants import (
    ENV_ENVIRONMENT_NAME,
    FIXED_EGRESS_FUNCTIONS,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    FunctionSpec,
)
from infra.packaging import (
    COMMON_EXCLUDES,
    CORE_LAYER_DIR,
    CORE_LAYER_EXCLUDES,
    FUNCTIONS_DIR,
    build_dependency_layer,
)

if TYPE_CHECKING:
    from infra.egress import FixedEgress

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


class SharedLayers(Construct):
    """The two layers every function uses: third-party dependencies and our core package."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.dependencies = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            code=lambda_.Code.from_asset(str(build_dependency_layer())),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Pinned third-party runtime dependencies (pyproject.toml)",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.core = lambda_.LayerVersion(
            self,
            "CoreLayer",
            code=lambda_.Code.from_asset(str(CORE_LAYER_DIR), exclude=CORE_LAYER_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="opayo_fba domain and connectors (without the operator CLI)",
            removal_policy=RemovalPolicy.RETAIN,
        )


class FunctionFactory:
    def __init__(
        self,
        *,
        config: EnvironmentConfig,
        layers: SharedLayers,
        logs_key: kms.IKey,
        egress: FixedEgress,
    ) -> None:
        self._config = config
        self._layers = layers
        self._logs_key = logs_key
        self._egress = egress
        # One asset for every handler module: the functions/ folder, uploaded once.
        self._code = lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=COMMON_EXCLUDES)
        self.functions: dict[str, lambda_.Function] = {}

    def build(
        self,
        scope: Construct,
        spec: FunctionSpec,
        environment: Mapping[str, str] | None = None,
    ) -> lambda_.Function:
        role = iam.Role(
            scope,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Least-privilege role of {spec.module}",
        )
        log_group = logs.LogGroup(
            scope,
            f"{spec.construct_id}Logs",
            encryption_key=self._logs_key,
            retention=log_retention(self._config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        log_group.grant_write(role)
        fixed_egress = spec in FIXED_EGRESS_FUNCTIONS
        function = lambda_.Function(
            scope,
            spec.construct_id,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code,
            handler=spec.handler,
            layers=[self._layers.dependencies, self._layers.core],
            role=role,
            timeout=Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": f"{SERVICE_NAME}-{spec.module.replace('_', '-')}",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                # X-Ray keeps no return values: many hold names, addresses and e-mails (an
                # order's view, a saga step's state). Handlers also say so where they return
                # an order; this makes it the default for every traced method.
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                # The layer ships no pydantic plugin (tests/infra/test_packaging.py checks), so
                # pydantic need not scan every installed package's entry points for one when
                # the first model is built at cold start.
                "PYDANTIC_DISABLE_PLUGINS": "__all__",
                ENV_ENVIRONMENT_NAME: self._config.name,
                **(environment or {}),
            },
            vpc=self._egress.vpc if fixed_egress else None,
            vpc_subnets=self._egress.subnets if fixed_egress else None,
            security_groups=[self._egress.security_group] if fixed_egress else None,
        )
        self.functions[spec.module] = function
        return function


_RETENTION_BY_DAYS = {
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The config allows exactly the day counts CloudWatch Logs offers (see infra.config)."""
    return _RETENTION_BY_DAYS[days]
