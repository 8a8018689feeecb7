#!/usr/bin/env python3
"""CDK entry point: `make synth` / `make deploy` (or `npx cdk synth -c opayo-fba:environment=prod`).

Builds one stack for the environment chosen in cdk.json context and runs the cdk-nag rule
packs (AWS Solutions, Serverless, PCI DSS 3.2.1) as synthesis-time validations: any finding
that is not acknowledged in infra/nag.py stops the synthesis.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from infra.app import build_app
from opayo_fba.errors import ConfigurationError


def main() -> None:
    try:
        app = build_app(cdk.App())
    except ConfigurationError as exc:
        sys.exit(f"error: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
