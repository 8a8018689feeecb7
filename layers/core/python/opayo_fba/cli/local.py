"""`opayo-fba local`: run the synthesized app on this machine, with no AWS account."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

local_app = typer.Typer(
    help="Run the synthesized app locally against the Amazon and Opayo sandboxes.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)

if TYPE_CHECKING:
    from local_runtime.environment import LocalEnvironment
    from opayo_fba.console.server import ConsoleServer

TemplateOption = Annotated[
    Path | None,
    typer.Option(
        "--template",
        help="A synthesized template; by default the one in cdk.out (run `make synth`).",
        exists=True,
        dir_okay=False,
    ),
]
TimeFactorOption = Annotated[
    float,
    typer.Option(
        "--time-factor",
        min=1,
        help="How much faster than real time the sandboxes' clocks and the saga's waits run.",
    ),
]


def _template(template: Path | None) -> Path:
    from local_runtime.runtime import find_template

    if template is not None:
        return template
    try:
        return find_template(Path("cdk.out"))
    except (FileNotFoundError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


@local_app.command("up")
def up(
    template: TemplateOption = None,
    time_factor: TimeFactorOption = 60.0,
    api_port: Annotated[int, typer.Option(help="Port of the API (webhook, orders).")] = 3000,
    aws_port: Annotated[
        int, typer.Option(help="Port of the local AWS endpoint (moto) for other tools.")
    ] = 5000,
    with_console: Annotated[
        bool, typer.Option("--console/--no-console", help="Also serve the web console.")
    ] = True,
    console_port: Annotated[
        int, typer.Option(help="Port of the console on 127.0.0.1 (default: a free one).")
    ] = 0,
) -> None:
    """Start both sandboxes and the local runtime (and the console), in the foreground, until
    Ctrl-C."""
    from local_runtime.environment import EnvironmentOptions, LocalEnvironment

    options = EnvironmentOptions(
        template=_template(template),
        time_factor=time_factor,
        api_port=api_port,
        moto_port=aws_port,
    )
    with console.status("Starting the sandboxes and the local runtime..."):
        environment = LocalEnvironment(options).start()
    web_console = None
    try:
        assert environment.runtime is not None
        for line in environment.runtime.report():
            console.print(line, markup=False)
        console.print()
        web_console = start_and_list(environment, console, with_console, console_port)
        console.print(
            f"\nOpayo webhook: {environment.runtime.api_url}/webhooks/opayo/<vendor>\n"
            f"DLQs from another terminal: opayo-fba dlq list --endpoint-url "
            f"{environment.runtime.moto_url} --region {options.region}\n"
            "Press Ctrl-C to stop."
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("Stopping.")
    finally:
        if web_console is not None:
            web_console.stop()
        environment.stop()


def start_and_list(
    environment: LocalEnvironment, out: Console, with_console: bool = True, port: int = 0
) -> ConsoleServer | None:
    """Start the web console on `environment` (unless `with_console` is False) and print
    every URL of the runtime, the console's last: the console's server, or None if it was
    not started (the reason is printed: no vendored assets, the port taken). The process
    stays up from here, so its garbage collector is settled (local_runtime/moto_memory.py)."""
    from opayo_fba.console.assets import AssetsMissing

    urls = environment.urls()
    server = None
    if with_console:
        try:
            server, urls["console"] = start_console(environment, port)
        except (AssetsMissing, OSError) as error:
            out.print(f"[yellow]The console is not started: {error}[/yellow]")
    for name, url in urls.items():
        out.print(f"[bold]{name:>16}[/bold]  {url}", highlight=False, soft_wrap=True)
    from local_runtime.moto_memory import settle_collector

    settle_collector()  # this process now stays up: no multi-second full collections
    return server


def start_console(environment: LocalEnvironment, port: int = 0) -> tuple[ConsoleServer, str]:
    """The web console on the running local environment, in a thread: (server, its URL)."""
    from local_runtime.seeds import seller_accounts_in
    from opayo_fba.cli.console import connect
    from opayo_fba.console.app import create_app
    from opayo_fba.console.assets import ensure_vendored
    from opayo_fba.console.facts import facts_from_template
    from opayo_fba.console.server import ConsoleServer, console_url, new_token

    runtime = environment.runtime
    assert runtime is not None
    ensure_vendored()
    facts = facts_from_template(
        json.loads(environment.options.template.read_text(encoding="utf-8")),
        api_url=runtime.api_url,
        egress_note="the local runtime calls Opayo's sandbox from this machine: no egress IP "
        "to register (a deployed stack's is its OpayoEgressIp output)",
    )
    backend = connect(
        runtime.template.stack_name,
        seller_accounts_in(runtime.template),
        runtime.moto_url,
        environment.options.region,
        facts,
    )
    token = new_token()
    server = ConsoleServer(create_app(backend, token), port)
    server.start()
    return server, console_url(server.port, token)


@local_app.command("invoke")
def invoke(
    function: Annotated[
        str, typer.Argument(help="Function module (e.g. opayo_webhook), logical id or name.")
    ],
    event: Annotated[
        typer.FileText, typer.Argument(help="The event, as JSON (a file, or - for stdin).")
    ],
    template: TemplateOption = None,
) -> None:
    """Run one handler with an event, like `sam local invoke`; prints what it returns."""
    from local_runtime.environment import EnvironmentOptions, LocalEnvironment

    try:
        payload = json.load(event)
    except json.JSONDecodeError as error:
        console.print(f"[red]{event.name} is not JSON: {error}[/red]")
        raise typer.Exit(2) from None
    options = EnvironmentOptions(template=_template(template), run_schedules=False)
    with LocalEnvironment(options) as environment:
        assert environment.runtime is not None
        try:
            result = environment.runtime.invoke(function, payload)
        except KeyError as error:
            console.print(f"[red]{error.args[0]}[/red]")
            raise typer.Exit(2) from None
    typer.echo(json.dumps(result.payload, indent=2, default=str))
    if result.error_type is not None:
        raise typer.Exit(1)
