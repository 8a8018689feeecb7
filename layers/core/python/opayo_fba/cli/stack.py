"""Finding a stack for a command: its stage's configuration (./cdk.json), an AWS session (or
the local runtime's endpoint), and the locator of its resources. `status` and `console`
share these."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

UNUSABLE_INPUT = 2
STACK_PREFIX = "OpayoFba"
DEFAULT_STAGE = "dev"


def fail(message: str, hint: str) -> typer.Exit:
    console = Console(stderr=True)
    text = f"[bold red]error:[/] {escape(message)}" + (f" [dim]({escape(hint)})[/]" if hint else "")
    console.print(text, highlight=False)
    return typer.Exit(code=UNUSABLE_INPUT)


def stage_config(stage: str | None) -> tuple[str, Any]:
    """The stage and its EnvironmentConfig from ./cdk.json, or (stage, None) outside the
    repository (then the accounts and vendors come from the tables)."""
    cdk_json = Path("cdk.json")
    if not cdk_json.is_file():
        return stage or DEFAULT_STAGE, None
    # The console script runs from .venv/bin: the checkout's `infra` package is beside cdk.json.
    checkout = str(cdk_json.resolve().parent)
    if Path("infra", "config.py").is_file() and checkout not in sys.path:
        sys.path.insert(0, checkout)
    try:
        from infra.config import load_config
    except ImportError:
        return stage or DEFAULT_STAGE, None
    from opayo_fba.errors import ConfigurationError

    try:
        context = json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {})
    except ValueError as error:
        raise fail(f"cannot read cdk.json: {error}", "fix its JSON and run again") from None
    if stage is not None:
        context = {**context, "opayo-fba:environment": stage}
    try:
        config = load_config(context)
    except ConfigurationError as error:
        raise fail(str(error), "pass one of them with --stage") from None
    return config.name, config


def aws_session(endpoint_url: str | None, region: str | None) -> tuple[Any, dict[str, Any]]:
    """A boto3 session and the keyword arguments of its clients (region, endpoint)."""
    import boto3

    session = boto3.session.Session()
    kwargs: dict[str, Any] = {"region_name": region}
    if endpoint_url is not None:
        kwargs["endpoint_url"] = endpoint_url
        # The local runtime accepts any credentials; none need to be configured for it.
        if session.get_credentials() is None:
            kwargs["aws_access_key_id"] = "local"
            kwargs["aws_secret_access_key"] = "local"  # noqa: S105 (moto's, not a secret)
    return session, kwargs


def not_found_hint(endpoint_url: str | None) -> str:
    return (
        "is `opayo-fba local up` running, with this stage's template?"
        if endpoint_url
        else "check --stage and --region, or pass --endpoint-url for the local runtime"
    )
