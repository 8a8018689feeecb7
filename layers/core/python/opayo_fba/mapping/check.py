"""Static checks of a template against its targets, before any order is seen.

The pydantic model checks a template's shape; this checks its meaning: every target exists
and may be written, a truncate knows its limit, a lookup into an enumerated Amazon field
only yields allowed values, and a constant fits its field. `opayo-fba mapping check` runs it.
"""

from __future__ import annotations

from collections.abc import Callable

from opayo_fba.mapping import template as t
from opayo_fba.mapping.errors import TemplateError
from opayo_fba.mapping.targets import Target, UnknownTargetError, check_value, resolve_target

Fail = Callable[[str], TemplateError]


def check_template(template: t.MappingTemplate) -> list[Target]:
    """Raise TemplateError for the first problem; return each rule's resolved target."""
    targets: list[Target] = []
    for rule in template.rules:
        try:
            target = resolve_target(rule.target)
        except UnknownTargetError as error:
            raise TemplateError(
                template.label, str(error), rule=rule.name, field=rule.target
            ) from None
        _check_rule(template, rule, target)
        targets.append(target)
    return targets


def _check_rule(template: t.MappingTemplate, rule: t.Rule, target: Target) -> None:
    def fail(reason: str) -> TemplateError:
        return TemplateError(template.label, reason, rule=rule.name, field=rule.target)

    kind = target.value_type
    for position, transform in enumerate(rule.transforms, start=1):
        where = f"transform {position} ({transform.op})"
        if isinstance(transform, t.Truncate):
            if kind not in ("string", "any"):
                raise fail(f"{where}: {rule.target} is not a text field")
            if transform.max_length is None and target.max_length is None:
                raise fail(f"{where}: {rule.target} has no length limit; give max_length")
            if (
                transform.max_length is not None
                and target.max_length is not None
                and transform.max_length > target.max_length
            ):
                raise fail(
                    f"{where}: max_length {transform.max_length} exceeds the field's limit "
                    f"of {target.max_length}; omit max_length to use the limit"
                )
        if isinstance(transform, t.MinorUnits):
            if kind != "any":
                raise fail(
                    f"{where}: money yields {{amount, currency}}, which only line.* and "
                    "payment.metadata.* targets take; for Amazon money fields map the decimal "
                    "text to .value and the code to .currencyCode"
                )
            if transform.currency is not None:
                _check_currency(transform.currency, fail, where)
        if isinstance(transform, t.Split) and kind not in ("array", "any"):
            raise fail(f"{where}: {rule.target} takes a single value, not a list")
    _check_constants(rule, target, fail)


def _check_currency(code: str, fail: Fail, where: str) -> None:
    from opayo_fba.model.money import MoneyError, currency_exponent

    try:
        currency_exponent(code.strip().upper())
    except MoneyError as error:
        raise fail(f"{where}: {error}") from None


def _check_constants(rule: t.Rule, target: Target, fail: Fail) -> None:
    """Values fixed in the template that land in the field unchanged must fit it."""
    candidates: list[tuple[str, object]] = []
    last = rule.transforms[-1] if rule.transforms else None
    if rule.source is None and not rule.transforms:
        candidates.append(("value", rule.value))
    if isinstance(last, t.Lookup):
        candidates += [(f"lookup entry {key!r}", result) for key, result in last.table.items()]
        if "default" in last.model_fields_set and last.default is not None:
            candidates.append(("lookup default", last.default))
    if isinstance(last, t.Default):
        candidates.append(("default", last.value))
    for label, value in candidates:
        if value is None:
            continue
        if target.value_type == "string" and isinstance(value, int | float):
            value = str(value)
        problem = check_value(target, value)
        if problem is not None:
            raise fail(f"{label}: {problem}")
