"""Options several `opayo-fba` commands share: where AWS is (AWS itself or the local runtime)."""

from __future__ import annotations

from typing import Annotated

import typer

EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="The local runtime's AWS endpoint (printed by `opayo-fba local up`); "
        "leave out for AWS.",
        envvar="OPAYO_FBA_AWS_ENDPOINT_URL",
    ),
]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS region.")]
StageOption = Annotated[
    str | None,
    typer.Option("--stage", help="The environment (default: cdk.json's, else dev)."),
]
