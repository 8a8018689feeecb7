"""`make demo` / `python -m demo`: the integration's main job, run locally.

Starts the Amazon and Opayo sandboxes and the local runtime on the synthesized template,
submits one order per scenario, shows progress, then a table of every order with its
canonical status, payment state and fulfillment state. Exits 0 only if every order reached
the state its scenario expects, judged on the sandboxes' own records.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from demo.scenarios import (
    DemoContext,
    Scenario,
    ScenarioResult,
    after_the_sale,
    delivery,
    judge,
    scenarios,
    settled,
    wait_for,
)
from local_runtime.environment import EnvironmentOptions, LocalEnvironment
from local_runtime.runtime import find_template

console = Console()
QUIET_FUNCTIONS = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Run sample orders through the whole integration on this machine.",
    )
    parser.add_argument(
        "--template", type=Path, help="synthesized template (default: cdk.out, see make synth)"
    )
    parser.add_argument(
        "--time-factor",
        type=float,
        default=600.0,
        help="how much faster than real time the fulfillment centre and saga waits run",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds each batch of orders may take"
    )
    parser.add_argument(
        "--keep-up",
        action="store_true",
        help="after the table, keep the sandboxes, the local runtime and the web console up "
        "(until Ctrl-C) to look at the orders the demo ran",
    )
    return parser.parse_args(argv)


KEEP_UP_HINT = (
    "To look at these orders in the web console, run `make demo DEMO_FLAGS=--keep-up` "
    "(or `python -m demo --keep-up`): the runtime and the console stay up after the table."
)


def _keep_up(environment: LocalEnvironment) -> None:
    """The web console on the environment the demo ran, until Ctrl-C."""
    import threading

    from opayo_fba.cli.local import start_and_list

    console.print("\nThe demo's runtime stays up:")
    server = start_and_list(environment, console)
    try:
        console.print("Press Ctrl-C to stop.")
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("Stopping.")
    finally:
        if server is not None:
            server.stop()


def _run_batch(
    ctx: DemoContext, batch: list[Scenario], timeout: float, progress: Progress
) -> list[ScenarioResult]:
    tasks = {s.order_id: progress.add_task(s.name, total=1) for s in batch}
    for scenario in batch:
        scenario.start(ctx, scenario)
    deadline = time.monotonic() + timeout
    pending = list(batch)
    nudged: set[str] = set()
    while pending and time.monotonic() < deadline:
        for scenario in list(pending):
            order = wait_for(ctx, scenario, time.monotonic() + 0.05, nudged)
            progress.update(
                tasks[scenario.order_id], description=f"{scenario.name} [{order.get('status')}]"
            )
            if settled(scenario, order, nudged):
                progress.update(tasks[scenario.order_id], completed=1)
                pending.remove(scenario)
    return [judge(ctx, s) for s in batch]


def _after_sale_view(ctx: DemoContext, result: ScenarioResult) -> ScenarioResult:
    """The row as it stands after the sale (a shipped order is now delivered); its result
    stays the one judged when the saga ended."""
    order = ctx.order(result.order_id)
    return replace(result, status=order.get("status"), delivery=delivery(order))


def _reset_sandboxes(ctx: DemoContext) -> None:
    ctx.amazon.delete("/_sandbox/faults").raise_for_status()
    ctx.amazon.post("/_sandbox/clock/factor", json={"factor": ctx.environment.options.time_factor})


def run(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        template = args.template or find_template(Path("cdk.out"))
    except (FileNotFoundError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    options = EnvironmentOptions(
        template=template,
        time_factor=args.time_factor,
        run_schedules=False,
        # The handlers' JSON logs and EMF metrics would bury the progress display; the
        # table at the end says what happened. `opayo-fba local up` keeps them.
        # The demo merchant ships what is in stock and is refunded the rest (cdk.json
        # `fulfillmentPolicy: FillAllAvailable`), so the partial-shipment scenario can run.
        function_environment={**QUIET_FUNCTIONS, "FULFILLMENT_POLICY": "FillAllAvailable"},
    )
    logging.getLogger("stamina").setLevel(logging.ERROR)
    started = time.monotonic()
    with console.status("Starting the sandboxes and the local runtime..."):
        environment = LocalEnvironment(options).start()
    results: list[ScenarioResult] = []
    try:
        ctx = DemoContext(environment)
        console.print(f"API {ctx.api.base_url} · template {template}")
        every = scenarios()
        together = [s for s in every if not s.exclusive]
        alone = [s for s in every if s.exclusive]
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            results += _run_batch(ctx, together, args.timeout, progress)
            for scenario in alone:
                results += _run_batch(ctx, [scenario], args.timeout, progress)
                _reset_sandboxes(ctx)
        # After the sale: parcels delivered, returns received and refunded; the scenarios
        # that end there are judged now, and every row shows its delivery.
        late = {s.order_id: s for s in every if s.after_sale}
        after_the_sale(ctx, list(late.values()))
        results = [
            judge(ctx, late[r.order_id]) if r.order_id in late else _after_sale_view(ctx, r)
            for r in results
        ]
        ctx.close()
    except BaseException:
        environment.stop()
        raise
    if not args.keep_up:
        environment.stop()
    table = Table(title=f"opayo-fba demo ({time.monotonic() - started:.0f} s)")
    columns = (
        "order",
        "scenario",
        "status",
        "payment",
        "fulfillment",
        "tracking",
        "delivery",
        "outcome",
    )
    for column in (*columns, "result"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.order_id,
            r.name,
            r.status or "-",
            r.payment_state or "-",
            r.fulfillment_status or "-",
            r.tracking or "-",
            r.delivery or "-",
            r.outcome or "-",
            "[green]as expected[/green]"
            if r.passed
            else "[red]" + "; ".join(r.problems) + "[/red]",
        )
    console.print(table)
    failed = [r for r in results if not r.passed]
    if failed:
        console.print(f"[red]{len(failed)} of {len(results)} orders did not end as expected[/red]")
    else:
        console.print(f"[green]All {len(results)} orders ended as their scenarios expect.[/green]")
    if args.keep_up:
        try:
            _keep_up(environment)
        finally:
            environment.stop()
    else:
        console.print(KEEP_UP_HINT)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
