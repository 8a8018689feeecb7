"""`opayo-fba today rebuild`: count the daily rollups of the console's Today page again, from
the orders, for one seller account and a range of days (the backfill for orders stored
before the rollups existed, and the repair should one ever be in doubt)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from opayo_fba.cli.options import EndpointOption, RegionOption, StageOption
from opayo_fba.cli.stack import STACK_PREFIX, not_found_hint
from opayo_fba.cli.stack import aws_session as _session
from opayo_fba.cli.stack import fail as _fail
from opayo_fba.cli.stack import stage_config as _stage_config
from opayo_fba.ops import status as ops
from opayo_fba.ops.today import first_day

today_app = typer.Typer(
    help="The Today page's daily rollups: rebuild them from the orders.",
    no_args_is_help=True,
)


def _day(text: str | None, default: date, flag: str) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{flag} {text!r} is not a day", "give it as YYYY-MM-DD (UTC)") from None


@today_app.command("rebuild")
def rebuild(
    account: Annotated[
        str, typer.Option("--account", help="The seller account whose rollups to rebuild.")
    ],
    first: Annotated[
        str | None,
        typer.Option("--from", help="First UTC day, YYYY-MM-DD (default: 29 days ago)."),
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD (default: today).")
    ] = None,
    stage: StageOption = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """SET each day's rollup to what the account's orders received that day add up to.

    Safe to run again and beside live traffic: it sets totals (never adds), and a day an
    order write changed while it was counted is counted again."""
    from botocore.exceptions import BotoCoreError, ClientError

    from opayo_fba.errors import ConflictError
    from opayo_fba.ops.today import rebuild_daily_rollups
    from opayo_fba.store.daily_rollup import DailyRollupStore
    from opayo_fba.store.orders import OrderStore

    now = datetime.now(UTC)
    start = _day(first, first_day(now), "--from")
    end = _day(last, now.date(), "--to")
    if end < start:
        raise _fail(f"--to {end} is before --from {start}", "swap them")
    stage_name, config = _stage_config(stage)
    stack_name = f"{STACK_PREFIX}-{stage_name}"
    region = region or (config.region if config is not None else None)
    session, kwargs = _session(endpoint_url, region)
    console = Console(stderr=True)
    try:
        locator: ops.StackLocator = (
            ops.LocalRuntimeLocator(
                session.client("dynamodb", **kwargs), session.client("sqs", **kwargs)
            )
            if endpoint_url is not None
            else ops.CloudFormationLocator(session.client("cloudformation", **kwargs))
        )
        resources = locator.locate(stack_name)
        table = session.resource("dynamodb", **kwargs).Table(resources.orders_table)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{account}: rebuilding", total=(end - start).days + 1)
            rebuilt = rebuild_daily_rollups(
                OrderStore(table),
                DailyRollupStore(table),
                account,
                start,
                end,
                progress=lambda _: progress.advance(task),
            )
    except ops.StackNotFound as error:
        raise _fail(str(error), not_found_hint(endpoint_url)) from None
    except ConflictError as error:
        raise _fail(str(error), "") from None
    except (BotoCoreError, ClientError) as error:
        raise _fail(str(error), "check your AWS credentials, --region and --endpoint-url") from None
    orders = sum(day.count("received") for day in rebuilt)
    typer.echo(
        f"{account}: {len(rebuilt)} days rebuilt, {start} to {end} (UTC), {orders} orders counted"
    )
