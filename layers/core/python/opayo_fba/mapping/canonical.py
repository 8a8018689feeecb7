"""Carrying a MappingResult onto the canonical models (Order and its OrderLines)."""

from __future__ import annotations

from opayo_fba.mapping.engine import MappingResult
from opayo_fba.mapping.errors import MappingError
from opayo_fba.model.order import Order


def extend_order_lines(order: Order, result: MappingResult) -> Order:
    """`order` with each line's mapped attributes merged into `OrderLine.attributes`.

    Lines are matched by position (the templates' `lines.path` must list the same lines in
    the same order as the canonical order); mapped attributes win over existing ones.
    """
    if not result.line_attributes:
        return order
    if len(result.line_attributes) != len(order.lines):
        raise MappingError(
            "(all)",
            "lines",
            "line.*",
            f"the templates found {len(result.line_attributes)} order lines but order "
            f"{order.order_id} has {len(order.lines)}; lines.path must list the order's lines",
        )
    lines = tuple(
        line.model_copy(update={"attributes": {**line.attributes, **extra}}) if extra else line
        for line, extra in zip(order.lines, result.line_attributes, strict=True)
    )
    return order.model_copy(update={"lines": lines})
