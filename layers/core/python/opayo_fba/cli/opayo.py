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
    vendor: Annotated[
        str, typer.Option("--vendor", help="The Opayo vendor name (case does not matter).")
    ],
    security_key: Annotated[
        str,
        typer.Option(
            "--security-key",
            envvar="OPAYO_SECURITY_KEY",
            prompt="Security key",
            hide_input=True,
            show_default=False,
            help="The transaction's 10-character SecurityKey. Prefer the OPAYO_SECURITY_KEY "
            "environment variable or the hidden prompt: a command-line flag lands in shell "
            "history.",
        ),
    ],
    source: Annotated[
        str,
        typer.Argument(
            metavar="[FILE|-]",
            help="File holding the form-encoded notification body; '-' or nothing reads stdin.",
        ),
    ] = "-",
) -> None:
    """Say whether a notification body is genuine: prints `valid` (exit 0) or
    `invalid: <reason>` (exit 1), naming the missing/bad field or the signature mismatch."""
    if source == "-":
        body = sys.stdin.buffer.read()
    else:
        path = Path(source)
        if not path.is_file():
            typer.echo(
                f"error: {source} is not a file; give a file path or '-' for stdin", err=True
            )
            raise typer.Exit(2)
        body = path.read_bytes()
    try:
        fields = parse_notification(body)
    except (NotificationFormatError, UnicodeDecodeError) as error:
        typer.echo(f"invalid: {error}")
        raise typer.Exit(1) from None
    check = check_notification(fields, vendor_name=vendor, security_key=security_key.strip())
    if check.valid:
        typer.echo("valid")
        return
    typer.echo(f"invalid: {check.reason}")
    raise typer.Exit(1)
