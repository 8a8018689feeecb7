"""Assemble the CDK app: config from context, the stack, the cdk-nag rule packs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks

from infra.config import load_config
from infra.constants import CONTEXT_ENVIRONMENT, CONTEXT_ENVIRONMENTS
from infra.nag import acknowledge_findings
from infra.stack import OpayoFbaStack, stack_id


def read_context(app: cdk.App) -> dict[str, Any]:
    return {
        CONTEXT_ENVIRONMENT: app.node.try_get_context(CONTEXT_ENVIRONMENT),
        CONTEXT_ENVIRONMENTS: app.node.try_get_context(CONTEXT_ENVIRONMENTS),
    }


def build_app(app: cdk.App) -> cdk.App:
    config = load_config(read_context(app))
    stack = OpayoFbaStack(app, stack_id(config), config=config)
    acknowledge_findings(stack)
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True),
        ServerlessChecks(app, verbose=True),
        PCIDSS321Checks(app, verbose=True),
    )
    return app
