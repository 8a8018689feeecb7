"""`opayo-fba mapping`: check, preview and draft mapping templates."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opayo_fba.errors import ConfigurationError
from opayo_fba.mapping.errors import MappingError, TemplateError
from opayo_fba.mapping.template import MappingTemplate

mapping_app = typer.Typer(
    name="mapping",
    help="Check, preview and draft the mapping templates that carry a merchant's own fields "
    "to Amazon, Opayo and the order lines. Exit code 1: the template is wrong or cannot map "
    "the order; 2: an input file cannot be read or parsed.",
    no_args_is_help=True,
)

TemplateArg = Annotated[
    str,
    typer.Argument(
        metavar="TEMPLATE",
        help="A template file (.yaml, .yml, .json) or a starter such as starter:shopify.",
    ),
]
ProductsOpt = Annotated[
    Path | None,
    typer.Option(
        "--products",
        help="Product master CSV (one row per SKU) that line rules read as `product`.",
        exists=True,
        dir_okay=False,
    ),
]
SkuColumnOpt = Annotated[
    str, typer.Option("--sku-column", help="The product master column holding the SKU.")
]


def _out() -> Console:
    return Console(soft_wrap=False)


TEMPLATE_PROBLEM = 1
"""Exit code when the template is wrong or cannot map the order (the command's verdict)."""
UNUSABLE_INPUT = 2
"""Exit code when an input file cannot be read or parsed, or an option is unusable."""


def _fail(message: str, hint: str | None = None, *, code: int = TEMPLATE_PROBLEM) -> typer.Exit:
    console = Console(stderr=True)
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    if hint:
        console.print(f"[dim]{escape(hint)}[/]", highlight=False)
    return typer.Exit(code=code)


def _load(reference: str) -> MappingTemplate:
    from opayo_fba.mapping.check import check_template
    from opayo_fba.mapping.loader import load_template_reference

    try:
        template = load_template_reference(reference)
        check_template(template)
    except TemplateError as error:
        raise _fail(
            str(error), "fix the template, then run `opayo-fba mapping check` again"
        ) from None
    except ConfigurationError as error:
        raise _fail(str(error), code=UNUSABLE_INPUT) from None
    return template


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise _fail(
            f"cannot read {what} {path}: {error.strerror or error}", code=UNUSABLE_INPUT
        ) from None
    except ValueError as error:
        raise _fail(f"{what} {path} is not valid JSON: {error}", code=UNUSABLE_INPUT) from None


def _short(value: Any, width: int = 60) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


@mapping_app.command()
def check(template: TemplateArg) -> None:
    """Validate a template: its syntax, and every rule against its target's limits."""
    from opayo_fba.mapping.targets import resolve_target

    loaded = _load(template)
    table = Table(title=f"{loaded.label}: {len(loaded.rules)} rules", title_justify="left")
    table.add_column("rule", overflow="fold")
    table.add_column("target", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("transforms")
    table.add_column("limit", justify="right")
    for rule in loaded.rules:
        target = resolve_target(rule.target)
        limit = str(target.max_length) if target.max_length else ""
        if target.enum:
            limit = f"one of {len(target.enum)}"
        source = rule.source if rule.source is not None else f"= {_short(rule.value, 30)}"
        if rule.when is not None:
            source += " (when …)"
        table.add_row(
            rule.name,
            rule.target,
            source,
            ", ".join(t.op for t in rule.transforms) or "—",
            limit,
        )
    out = _out()
    out.print(table)
    out.print(f"[green]OK[/] {template} is a valid mapping template.", highlight=False)


@mapping_app.command()
def preview(
    template: TemplateArg,
    event: Annotated[
        Path,
        typer.Argument(
            metavar="EVENT.json", help="A shop or ERP order as JSON.", exists=True, dir_okay=False
        ),
    ],
    products: ProductsOpt = None,
    sku_column: SkuColumnOpt = "sku",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the mapped result as JSON instead.")
    ] = False,
) -> None:
    """Apply a template to one order and show each field before and after, side by side."""
    from opayo_fba.mapping.engine import apply_templates
    from opayo_fba.mapping.product_master import CsvProductMaster

    loaded = _load(template)
    order = _read_json(event, "event")
    master = None
    if products is not None:
        try:
            master = CsvProductMaster(products, sku_column=sku_column)
        except ConfigurationError as error:
            raise _fail(str(error), code=UNUSABLE_INPUT) from None
    try:
        result = apply_templates([loaded], order, product_master=master)
    except (MappingError, TemplateError) as error:
        raise _fail(str(error), "preview the order again after fixing the template") from None
    out = _out()
    if as_json:
        mapped = {
            "fulfillment_order": result.fulfillment_order,
            "fulfillment_items": result.fulfillment_items,
            "opayo": result.opayo,
            "payment_metadata": result.payment_metadata,
            "line_attributes": result.line_attributes,
        }
        out.print_json(json.dumps(mapped, ensure_ascii=False))
        return
    table = Table(title=f"{loaded.label} applied to {event.name}", title_justify="left")
    table.add_column("rule", overflow="fold")
    table.add_column("target", overflow="fold")
    table.add_column("line", justify="right")
    table.add_column("before (from the order)")
    table.add_column("after (sent)")
    for outcome in result.outcomes:
        after = _short(outcome.value) if outcome.applied else f"[dim]skipped: {outcome.note}[/]"
        table.add_row(
            outcome.rule,
            outcome.target,
            "" if outcome.line is None else str(outcome.line + 1),
            _short(outcome.source).replace("[", "\\["),
            after if not outcome.applied else after.replace("[", "\\["),
        )
    out.print(table)
    applied = sum(1 for o in result.outcomes if o.applied)
    out.print(f"{applied} of {len(result.outcomes)} rule applications wrote a value.")


@mapping_app.command()
def suggest(
    sample: Annotated[
        Path,
        typer.Argument(
            metavar="SAMPLE.json", help="A sample order as JSON.", exists=True, dir_okay=False
        ),
    ],
    products: ProductsOpt = None,
    name: Annotated[str, typer.Option(help="Name of the drafted template.")] = "my-shop",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the drafted template here instead of stdout."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite --output if it exists.")] = False,
    min_score: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Leave out weaker matches.")
    ] = 0.65,
) -> None:
    """Propose rules from field names and value shapes in a sample order, for you to review."""
    from opayo_fba.mapping.suggest import find_lines_path, suggest_rules, suggested_template

    order = _read_json(sample, "sample")
    product_sample = None
    if products is not None:
        with products.open(newline="", encoding="utf-8-sig") as handle:
            product_sample = next(csv.DictReader(handle), None)
    suggestions = suggest_rules(order, product_sample=product_sample, min_score=min_score)
    if not suggestions:
        raise _fail(
            f"no field of {sample} resembles a known target",
            "start from a starter instead: opayo-fba mapping check starter:shopify",
        )
    table = Table(title=f"Suggested rules from {sample.name}", title_justify="left")
    table.add_column("target")
    table.add_column("source")
    table.add_column("score", justify="right")
    table.add_column("sample value")
    table.add_column("why")
    for suggestion in suggestions:
        table.add_row(
            suggestion.target,
            suggestion.source.replace("[", "\\["),
            f"{suggestion.score:.2f}",
            _short(suggestion.sample_value, 40).replace("[", "\\["),
            suggestion.reason,
        )
    drafted = suggested_template(suggestions, name=name, lines_path=find_lines_path(order))
    text = (
        "# Drafted by `opayo-fba mapping suggest`: review every rule, delete what is wrong,\n"
        "# then run `opayo-fba mapping check` on it.\n"
        + yaml.safe_dump(drafted, sort_keys=False, allow_unicode=True)
    )
    out = Console(stderr=output is None)
    out.print(table)
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists() and not force:
        raise _fail(
            f"{output} exists", "choose another --output or add --force", code=UNUSABLE_INPUT
        )
    output.write_text(text, encoding="utf-8")
    out.print(f"[green]Wrote[/] {output}; review it, then run: opayo-fba mapping check {output}")


@mapping_app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the JSON Schema to this file.")
    ] = None,
) -> None:
    """Print the JSON Schema of template files (for editor validation)."""
    from opayo_fba.mapping.template import template_json_schema_text

    text = template_json_schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {output}")


@mapping_app.command()
def starters() -> None:
    """List the starter templates shipped with opayo-fba."""
    from opayo_fba.mapping.loader import starter_names

    for name in starter_names():
        typer.echo(f"starter:{name}")
