"""`opayo-fba reconcile`: Amazon settlements and Opayo batches -> journal entries."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opayo_fba.errors import ConfigurationError
from opayo_fba.reconcile.errors import MalformedInputError

if TYPE_CHECKING:
    from opayo_fba.reconcile.engine import ReconcileResult

_DEFAULT_CONFIG = Path("config/chart-of-accounts.yaml")


def reconcile(
    amazon: Annotated[
        list[Path],
        typer.Option(
            "--amazon",
            metavar="FILE",
            help="An Amazon V2 settlement flat file (.txt/.tsv, or gzipped). Repeat for several.",
            show_default=False,
        ),
    ],
    opayo: Annotated[
        list[Path],
        typer.Option(
            "--opayo",
            metavar="FILE",
            help="An Opayo getBatchDetail XML response (Reporting & Admin API). Repeat for "
            "several batches or for the pages of one.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for journal.csv, journal.json, exceptions.csv, report.html and "
            "journal-entries-ready.json (created if missing; nothing is written on error).",
            show_default=False,
        ),
    ],
    orders: Annotated[
        Path | None,
        typer.Option(
            "--orders",
            metavar="FILE",
            help="Canonical orders as JSON lines (orderId, total, vendorTxCode, "
            "sellerFulfillmentOrderId). Without it, vendorTxCode = merchant-order-id links "
            "the two sides.",
        ),
    ] = None,
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Chart-of-accounts mapping and Opayo fee schedule (YAML).",
        ),
    ] = _DEFAULT_CONFIG,
) -> None:
    """Reconcile Amazon settlements and Opayo batches per order into balanced journal
    entries and a list of exceptions. Exit code 0 when done (exceptions or not), 2 when an
    input or the configuration is malformed (the message names the file, line and field)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from opayo_fba.reconcile.config import default_config_path, load_config
    from opayo_fba.reconcile.files import input_size, reconcile_files

    errors = Console(stderr=True, soft_wrap=True)
    config_path = config
    if config == _DEFAULT_CONFIG and not config.is_file():
        config_path = default_config_path()
    paths = [*amazon, *opayo, *([orders] if orders else [])]
    try:
        settings = load_config(config_path)
        missing = [path for path in paths if not path.is_file()]
        if missing:
            raise MalformedInputError(str(missing[0]), None, None, "no such file")
        total = sum(input_size(path) for path in paths)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=errors,
            transient=True,
        ) as progress:
            task = progress.add_task("reading", total=total)
            result = reconcile_files(
                amazon=amazon,
                opayo=opayo,
                orders=orders,
                out_dir=out,
                config=settings,
                progress=lambda count: progress.advance(task, count),
                on_file=lambda path: progress.update(task, description=path.name),
            )
    except MalformedInputError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False, markup=True)
        errors.print("Fix or replace that file and run again; no output was written.")
        raise typer.Exit(2) from None
    except OSError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False)
        errors.print("Check the --out folder can be written to; no output was written.")
        raise typer.Exit(1) from None
    except ConfigurationError as error:
        errors.print(f"[red]error:[/red] {error}", highlight=False)
        errors.print(f"Fix the configuration ({config_path}) and run again.")
        raise typer.Exit(2) from None
    Console().print(summary_table(result, out))


def summary_table(result: ReconcileResult, out: Path) -> object:
    from rich.table import Table

    from opayo_fba.model.money import CURRENCY_EXPONENTS
    from opayo_fba.reconcile.amounts import format_minor

    table = Table(title=f"Reconciliation written to {out}")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("settlement rows", f"{result.settlement_rows:,}")
    table.add_row("batch transactions", f"{result.batch_transactions:,}")
    table.add_row("orders", f"{result.orders_seen:,}")
    table.add_row("matched orders", f"{result.matched_orders:,}")
    for reason, count in sorted(result.exceptions_by_reason.items()):
        table.add_row(f"exceptions: {reason.replace('_', ' ')}", f"{count:,}")
    for entry in result.entries:
        state = "balanced" if entry.is_balanced() else "NOT BALANCED"
        state += ", ties out" if entry.ties_out() else ", DOES NOT TIE OUT"
        exponent = CURRENCY_EXPONENTS.get(entry.currency, 2)
        table.add_row(
            f"{entry.entry_id} ({state})",
            f"{format_minor(entry.clearing_minor, exponent)} {entry.currency}",
        )
    return table
