"""`opayo-fba routing preview`: where the deployment's routing rules send an order.

Reads the rules from cdk.json (the stage's `routing` block, as the CDK app passes them to
order intake) and one order: a `POST /orders` body (`{"order": ..., "vendor"?,
"sellerAccount"?, ...}`) or a bare canonical order. Prints the seller account, marketplace
and vendor chosen and the rules that chose them, or the reason the order would be refused
(exit 1), exactly as intake decides it (opayo_fba.routing.route_order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opayo_fba.errors import InvalidInputError

routing_app = typer.Typer(
    help="Preview where the routing rules send an order (seller account, marketplace, vendor).",
    no_args_is_help=True,
)

REFUSED = 1
UNUSABLE_INPUT = 2


def _fail(message: str, hint: str | None = None, *, code: int = UNUSABLE_INPUT) -> typer.Exit:
    console = Console(stderr=True)
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    if hint:
        console.print(f"[dim]{escape(hint)}[/]", highlight=False)
    return typer.Exit(code=code)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _fail(f"cannot read {what} {path}: {error}") from None


def rules_from_cdk_json(path: Path, stage: str | None) -> tuple[str, Any]:
    """The stage's name and its `routing` block from cdk.json."""
    from opayo_fba.routing import RoutingRules

    context = _read_json(path, "the configuration").get("context", {})
    stage = stage or context.get("opayo-fba:environment")
    environments = context.get("opayo-fba:environments", {})
    if not isinstance(stage, str) or stage not in environments:
        raise _fail(
            f"no stage {stage!r} in {path}",
            f"choose one with --stage: {', '.join(sorted(environments)) or 'none defined'}",
        )
    try:
        return stage, RoutingRules.model_validate(environments[stage].get("routing") or {})
    except ValidationError as error:
        problems = "; ".join(
            f"routing.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise _fail(f"{path} ({stage}): {problems}", "fix the rule and preview again") from None


@routing_app.command()
def preview(
    order_file: Annotated[
        Path,
        typer.Argument(
            metavar="ORDER.json",
            help="A POST /orders body, or a canonical order.",
            exists=True,
            dir_okay=False,
        ),
    ],
    config: Annotated[
        Path, typer.Option("--config", help="The cdk.json holding the routing rules.")
    ] = Path("cdk.json"),
    stage: Annotated[
        str | None, typer.Option("--stage", help="The environment block (default: cdk.json's).")
    ] = None,
) -> None:
    """Show where the routing rules send one order, and why."""
    from opayo_fba.model import Order
    from opayo_fba.routing import route_order

    stage_name, rules = rules_from_cdk_json(config, stage)
    document = _read_json(order_file, "the order")
    body = document if isinstance(document, dict) and "order" in document else {"order": document}
    try:
        order = Order.model_validate(body["order"])
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _fail(f"order.{where}: {first['msg']}", "fix the order and preview again") from None
    try:
        route = route_order(
            rules,
            order,
            seller_account=body.get("sellerAccount"),
            vendor=body.get("vendor"),
        )
    except InvalidInputError as error:
        raise _fail(f"intake would refuse this order (400): {error}", code=REFUSED) from None
    out = Console()
    table = Table(title=f"{order.order_id} on {stage_name}")
    table.add_column("chosen")
    table.add_column("value")
    table.add_row("sellerAccount", route.seller_account)
    table.add_row("marketplaceId", route.marketplace_id or "(the order's, or none)")
    table.add_row("vendor", route.vendor)
    table.add_row("because", "\n".join(route.reasons))
    out.print(table)
