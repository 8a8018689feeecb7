"""`opayo-fba status`: orders by status, open authorisations, DLQ depths and last polls."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opayo_fba.cli.options import EndpointOption, RegionOption
from opayo_fba.ops import status as ops

UNUSABLE_INPUT = 2
STACK_PREFIX = "OpayoFba"
DEFAULT_STAGE = "dev"
_PERIOD = re.compile(r"^\s*([1-9]\d*)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_period(text: str) -> timedelta:
    """`90m`, `24h`, `7d`, `2w` as a timedelta; ValueError otherwise."""
    match = _PERIOD.match(text.lower())
    if match is None:
        raise ValueError(f"--since {text!r} is not a period; use e.g. 90m, 24h, 7d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_age(age: timedelta) -> str:
    """A short age: `45s`, `12m`, `3h 05m`, `2d 04h`."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86_400
    if hours == 0:
        return f"{minutes}m"
    if days == 0:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24:02d}h"


def _fail(message: str, hint: str) -> typer.Exit:
    console = Console(stderr=True)
    text = f"[bold red]error:[/] {escape(message)}" + (f" [dim]({escape(hint)})[/]" if hint else "")
    console.print(text, highlight=False)
    return typer.Exit(code=UNUSABLE_INPUT)


def _stage_config(stage: str | None) -> tuple[str, Any]:
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
        raise _fail(f"cannot read cdk.json: {error}", "fix its JSON and run again") from None
    if stage is not None:
        context = {**context, "opayo-fba:environment": stage}
    try:
        config = load_config(context)
    except ConfigurationError as error:
        raise _fail(str(error), "pass one of them with --stage") from None
    return config.name, config


def _session(endpoint_url: str | None, region: str | None) -> tuple[Any, dict[str, Any]]:
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


def status(
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="The environment (default: cdk.json's, else dev)."),
    ] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    since: Annotated[
        str, typer.Option("--since", help="The period of orders counted: 90m, 24h, 7d, 2w.")
    ] = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Per seller account and marketplace, orders by status; open authorisations per vendor;
    dead-letter queue depths; each poller's last run."""
    from botocore.exceptions import BotoCoreError, ClientError

    from opayo_fba.store.orders import OrderStore
    from opayo_fba.store.watermarks import WatermarkStore

    try:
        period = parse_period(since)
    except ValueError as error:
        raise _fail(str(error), "") from None
    stage_name, config = _stage_config(stage)
    stack_name = f"{STACK_PREFIX}-{stage_name}"
    region = region or (config.region if config is not None else None)
    session, kwargs = _session(endpoint_url, region)
    now = datetime.now(UTC)
    try:
        sqs = session.client("sqs", **kwargs)
        dynamodb = session.resource("dynamodb", **kwargs)
        locator: ops.StackLocator = (
            ops.LocalRuntimeLocator(session.client("dynamodb", **kwargs), sqs)
            if endpoint_url is not None
            else ops.CloudFormationLocator(session.client("cloudformation", **kwargs))
        )
        with Console(stderr=True).status(f"Reading {stack_name}..."):
            resources = locator.locate(stack_name)
            orders = OrderStore(dynamodb.Table(resources.orders_table))
            watermarks = WatermarkStore(dynamodb.Table(resources.connector_state_table))
            scopes = (
                ops.Scopes(
                    accounts={s.id: list(s.marketplace_ids) for s in config.seller_accounts},
                    vendors=[v.name for v in config.opayo_vendors],
                    source="cdk.json",
                )
                if config is not None
                else ops.scopes_from_tables(orders, watermarks)
            )
            found = ops.gather_status(
                resources,
                scopes,
                orders=orders,
                watermarks=watermarks,
                sqs=sqs,
                since=now - period,
                now=now,
            )
    except ops.StackNotFound as error:
        hint = (
            "is `opayo-fba local up` running, with this stage's template?"
            if endpoint_url
            else "check --stage and --region, or pass --endpoint-url for the local runtime"
        )
        raise _fail(str(error), hint) from None
    except (BotoCoreError, ClientError) as error:
        raise _fail(str(error), "check your AWS credentials, --region and --endpoint-url") from None
    if as_json:
        typer.echo(json.dumps(found.to_json(), indent=2))
    else:
        _print(found)


def _print(found: ops.StackStatus) -> None:
    console = Console(soft_wrap=True)
    console.print(
        f"[bold]{found.stack_name}[/] at {found.now:%Y-%m-%d %H:%M} UTC "
        f"(orders since {found.since:%Y-%m-%d %H:%M}; accounts from {found.scopes_source})"
    )
    statuses = sorted({s for row in found.orders for s in row.by_status})
    orders = Table("seller account", "marketplace", *statuses, "total", title="Orders")
    for row in found.orders:
        orders.add_row(
            row.seller_account,
            row.marketplace_id or "(none)",
            *(str(row.by_status.get(s, 0)) for s in statuses),
            str(row.total),
        )
    console.print(orders)
    holds = Table("vendor", "held", "oldest", "pending refunds", title="Open authorisations")
    for hold in found.holds:
        oldest = format_age(found.now - hold.oldest_held_since) if hold.oldest_held_since else "-"
        holds.add_row(hold.vendor, str(hold.held), oldest, str(hold.pending_refunds))
    console.print(holds)
    queues = Table("dead-letter queue", "messages", "source queues", title="Dead-letter queues")
    for queue in found.dead_letter_queues:
        queues.add_row(
            queue.name,
            str(queue.messages),
            ", ".join(queue.source_queues),
            style="red" if queue.messages else "",
        )
    console.print(queues)
    polls = Table("scope", "poller", "last watermark (UTC)", "age", title="Last polls")
    for poll in found.polls:
        polls.add_row(
            poll.scope, poll.poller, f"{poll.at:%Y-%m-%d %H:%M:%S}", format_age(found.now - poll.at)
        )
    if not found.polls:
        polls.add_row("-", "no watermark yet", "", "")
    console.print(polls)
