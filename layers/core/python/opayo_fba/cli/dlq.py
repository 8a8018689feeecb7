"""`opayo-fba dlq`: list, inspect and redrive dead-letter queues, on AWS or locally."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from opayo_fba.cli.options import EndpointOption, RegionOption
from opayo_fba.ops import dlq

dlq_app = typer.Typer(
    help="Dead-letter queues: list them, look inside, move messages back.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)


def _sqs(endpoint_url: str | None, region: str | None) -> Any:
    import boto3

    if endpoint_url is None:
        return boto3.client("sqs", region_name=region)
    # The local runtime accepts any credentials; none need to be configured for it.
    session = boto3.session.Session()
    local = session.get_credentials() is None
    return session.client(
        "sqs",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="local" if local else None,
        aws_secret_access_key="local" if local else None,
    )


def _find(sqs: Any, queue: str) -> dlq.DeadLetterQueue:
    try:
        return dlq.find_dead_letter_queue(sqs, queue)
    except LookupError as error:
        console.print(f"[red]{error}[/red]\nRun `opayo-fba dlq list` to see them.")
        raise typer.Exit(2) from None


@dlq_app.command("list")
def list_queues(endpoint_url: EndpointOption = None, region: RegionOption = None) -> None:
    """List every dead-letter queue with its message count and source queue."""
    queues = dlq.list_dead_letter_queues(_sqs(endpoint_url, region))
    table = Table("dead-letter queue", "messages", "source queue", "max receives")
    for queue in queues:
        sources = ", ".join(url.rsplit("/", 1)[-1] for url in queue.source_queues)
        style = "red" if queue.messages else ""
        table.add_row(
            queue.name, str(queue.messages), sources, str(queue.max_receive_count), style=style
        )
    console.print(table)


@dlq_app.command("show")
def show(
    queue: Annotated[str, typer.Argument(help="Name, URL or ARN of the dead-letter queue.")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many messages.")] = 10,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Show messages in a dead-letter queue; they stay in it."""
    sqs = _sqs(endpoint_url, region)
    letters = dlq.peek(sqs, _find(sqs, queue), limit)
    if not letters:
        console.print("The queue is empty.")
        return
    table = Table("message id", "receives", "sent (UTC)", "group", "body")
    for letter in letters:
        sent = datetime.fromtimestamp(letter.sent_timestamp_ms / 1000, UTC)
        body = letter.body if len(letter.body) <= 200 else letter.body[:197] + "..."
        table.add_row(
            letter.message_id,
            str(letter.receive_count),
            sent.strftime("%Y-%m-%d %H:%M:%S"),
            letter.group_id or "",
            body,
        )
    console.print(table)


@dlq_app.command("redrive")
def redrive(
    queue: Annotated[str, typer.Argument(help="Name, URL or ARN of the dead-letter queue.")],
    message_id: Annotated[
        str | None,
        typer.Option(
            "--message-id", help="Move only this message (its id, as `dlq show` lists it)."
        ),
    ] = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Move every message (or one, with --message-id) back to the queue it came from, to be
    processed again."""
    sqs = _sqs(endpoint_url, region)
    found = _find(sqs, queue)
    try:
        if message_id is not None:
            result = dlq.redrive_message(sqs, found, message_id)
        else:
            result = dlq.redrive(sqs, found, server_side=endpoint_url is None)
    except LookupError as error:
        console.print(f"[red]{error}[/red]\nRun `opayo-fba dlq show {found.name}` to see them.")
        raise typer.Exit(2) from None
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if result.task_handle:
        console.print(
            f"Started a message move task for {found.name} "
            f"(about {result.moved} messages); handle {result.task_handle}"
        )
    else:
        noun = "message" if result.moved == 1 else "messages"
        console.print(f"Moved {result.moved} {noun} from {found.name} back to its source.")
