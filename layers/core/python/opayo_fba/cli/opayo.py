"""`opayo-fba opayo ...`: operator tools for the Opayo side."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from opayo_fba.opayo.notifications import (
    NotificationFormatError,
    check_notification,
    parse_notification,
)

opayo_app = typer.Typer(
    name="opayo",
    help="Opayo tools: check a Server notification's VPSSignature.",
    no_args_is_help=True,
)


@opayo_app.command("verify-notification")
def verify_notification(
    security_key: Annotated[
        str | None,
        typer.Option(
            "--security-key",
            envvar="OPAYO_SECURITY_KEY",
            show_default=False,
            help="The transaction's 10-character SecurityKey. Prefer the OPAYO_SECURITY_KEY "
            "environment variable or the hidden prompt (asked when neither is given): a "
            "command-line flag lands in shell history.",
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Argument(
            metavar="[FILE|-]",
            help="File holding the form-encoded notification body; '-' or nothing reads stdin.",
        ),
    ] = "-",
    vendor: Annotated[
        str | None,
        typer.Option("--vendor", help="The Opayo vendor name (case does not matter)."),
    ] = None,
) -> None:
    """Say whether a notification body is genuine: prints `valid` (exit 0) or
    `invalid: <reason>` (exit 1), naming the missing/bad field or the signature mismatch.
    Usage errors (no vendor, a file that cannot be read) print one line and exit 2."""
    if vendor is None or not vendor.strip():
        typer.echo("error: --vendor is missing or empty; give the Opayo vendor name", err=True)
        raise typer.Exit(2)
    if source == "-":
        body = sys.stdin.buffer.read()
    else:
        path = Path(source)
        if not path.is_file():
            typer.echo(
                f"error: {source} is not a file; give a file path or '-' for stdin", err=True
            )
            raise typer.Exit(2)
        try:
            body = path.read_bytes()
        except OSError as error:
            typer.echo(f"error: cannot read {source}: {error.strerror or error}", err=True)
            raise typer.Exit(2) from None
    if security_key is None:
        # Asked only once the arguments are known to be usable, so a usage error never
        # waits for a key first.
        if source == "-" or not sys.stdin.isatty():
            typer.echo(
                "error: no SecurityKey; set OPAYO_SECURITY_KEY (or run in a terminal to be "
                "asked for it)",
                err=True,
            )
            raise typer.Exit(2)
        security_key = str(typer.prompt("Security key", hide_input=True))
    try:
        fields = parse_notification(body)
    except (NotificationFormatError, UnicodeDecodeError) as error:
        typer.echo(f"invalid: {error}")
        raise typer.Exit(1) from None
    check = check_notification(
        fields, vendor_name=vendor.strip(), security_key=security_key.strip()
    )
    if check.valid:
        typer.echo("valid")
        return
    typer.echo(f"invalid: {check.reason}")
    raise typer.Exit(1)
