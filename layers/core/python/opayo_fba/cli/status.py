"""`opayo-fba status`: orders by status, open authorisations, DLQ depths and last polls."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opayo_fba.cli.options import EndpointOption, RegionOption, StageOption
from opayo_fba.cli.stack import STACK_PREFIX, not_found_hint
from opayo_fba.cli.stack import aws_session as _session
from opayo_fba.cli.stack import fail as _fail
from opayo_fba.cli.stack import stage_config as _stage_config
from opayo_fba.ops import status as ops

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


def status(
    stage: StageOption = None,
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
        raise _fail(str(error), not_found_hint(endpoint_url)) from None
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
