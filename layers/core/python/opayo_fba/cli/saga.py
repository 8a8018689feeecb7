"""`opayo-fba saga ...`: the order saga as the synthesized template defines it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from opayo_fba.saga.diagram import (
    DiagramError,
    definition_from_template,
    embed,
    embedded_diagram,
    mermaid_from_asl,
)

DEFAULT_TEMPLATE = Path("cdk.out/OpayoFba-dev.template.json")

saga_app = typer.Typer(
    name="saga",
    help="The order saga: draw its state machine from the synthesized template.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(2)


def _load_template(path: Path) -> dict[str, Any]:
    if not path.is_file():
        hint = " Run `make synth` first, or pass --template." if path == DEFAULT_TEMPLATE else ""
        raise _fail(f"no template at {path}.{hint}")
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _fail(f"{path} is not a readable JSON template: {error}") from None
    if not isinstance(template, dict):
        raise _fail(f"{path} is not a CloudFormation template (expected a JSON object)")
    return template


@saga_app.command("diagram")
def diagram(
    template: Annotated[
        Path,
        typer.Option(
            "--template",
            dir_okay=False,
            help="The synthesized CloudFormation template (`make synth` writes it).",
        ),
    ] = DEFAULT_TEMPLATE,
    state_machine: Annotated[
        str | None,
        typer.Option(
            "--state-machine",
            help="Logical id of the state machine, when the template has more than one.",
        ),
    ] = None,
    update: Annotated[
        Path | None,
        typer.Option(
            "--update",
            dir_okay=False,
            help="Replace the diagram between the saga-diagram markers of this Markdown file "
            "(e.g. docs/saga.md) instead of printing it.",
        ),
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            dir_okay=False,
            help="Exit 1 if the diagram embedded in this Markdown file is not the one the "
            "template gives (for CI).",
        ),
    ] = None,
) -> None:
    """Print the saga's state machine as a Mermaid stateDiagram-v2."""
    try:
        text = mermaid_from_asl(definition_from_template(_load_template(template), state_machine))
    except DiagramError as error:
        raise _fail(f"{template}: {error}") from None
    if update is None and check is None:
        typer.echo(text, nl=False)
        return
    document_path = update or check
    assert document_path is not None
    try:
        document = document_path.read_text(encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot read {document_path}: {error.strerror}") from None
    if check is not None:
        embedded = embedded_diagram(document)
        if embedded is None:
            raise _fail(f"{check} has no saga-diagram markers")
        if embedded != text:
            typer.echo(
                f"{check}: the embedded diagram is out of date; run "
                f"`opayo-fba saga diagram --template {template} --update {check}`",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"{check}: the diagram is up to date")
        return
    try:
        updated = embed(document, text)
    except DiagramError as error:
        raise _fail(f"{update}: {error}") from None
    if updated != document:
        document_path.write_text(updated, encoding="utf-8")
        typer.echo(f"{update}: diagram updated")
    else:
        typer.echo(f"{update}: diagram already up to date")
