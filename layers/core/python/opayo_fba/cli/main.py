"""Entry point of the `opayo-fba` command.

Each capability registers its own sub-command group here, in one line, so that `--help`
lists everything an operator can do.
"""

from __future__ import annotations

import typer

from opayo_fba import __version__
from opayo_fba.cli.console import console
from opayo_fba.cli.dlq import dlq_app
from opayo_fba.cli.local import local_app
from opayo_fba.cli.mapping import mapping_app
from opayo_fba.cli.opayo import opayo_app
from opayo_fba.cli.reconcile import reconcile
from opayo_fba.cli.routing import routing_app
from opayo_fba.cli.saga import saga_app
from opayo_fba.cli.status import status
from opayo_fba.cli.today import today_app

app = typer.Typer(
    name="opayo-fba",
    help="Opayo payments and Amazon FBA Multi-Channel Fulfillment, kept in step.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(mapping_app, name="mapping")
app.add_typer(dlq_app, name="dlq")
app.add_typer(local_app, name="local")
app.add_typer(opayo_app, name="opayo")
app.add_typer(saga_app, name="saga")
app.add_typer(routing_app, name="routing")
app.add_typer(today_app, name="today")
app.command("reconcile")(reconcile)
app.command("status")(status)
app.command("console")(console)


@app.callback()
def main() -> None:
    """Opayo payments and Amazon FBA Multi-Channel Fulfillment, kept in step."""


@app.command()
def version() -> None:
    """Print the version of opayo-fba."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
