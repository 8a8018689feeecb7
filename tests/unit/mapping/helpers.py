"""Small builders shared by the mapping tests."""

from __future__ import annotations

from typing import Any

from opayo_fba.mapping import MappingResult, MappingTemplate, apply_templates
from opayo_fba.mapping.product_master import ProductMaster


def template(*rules: dict[str, Any], lines: dict[str, Any] | None = None) -> MappingTemplate:
    data: dict[str, Any] = {"name": "test-template", "version": 3, "rules": list(rules)}
    if lines is not None:
        data["lines"] = lines
    return MappingTemplate.model_validate(data)


def rule(target: str = "payment.metadata.out", **fields: Any) -> dict[str, Any]:
    return {"name": "the-rule", "target": target, **fields}


def apply(
    source: dict[str, Any],
    *rules: dict[str, Any],
    lines: dict[str, Any] | None = None,
    product_master: ProductMaster | None = None,
) -> MappingResult:
    return apply_templates([template(*rules, lines=lines)], source, product_master=product_master)


def mapped(order: dict[str, Any], transforms: list[dict[str, Any]], **fields: Any) -> Any:
    """The value one rule writes to payment.metadata.out (None when it writes nothing)."""
    fields.setdefault("source", "v")
    result = apply(order, rule(transforms=transforms, **fields))
    return result.payment_metadata.get("out")


def mapped_line(line: dict[str, Any], transforms: list[dict[str, Any]], **fields: Any) -> Any:
    """The value one rule writes to line.out for a one-line order (None when nothing)."""
    fields.setdefault("source", "line.v")
    result = apply(
        {"lines": [line]},
        rule("line.out", transforms=transforms, **fields),
        lines={"path": "lines"},
    )
    return result.line_attributes[0].get("out")
