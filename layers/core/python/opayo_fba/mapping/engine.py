"""Applying templates to an incoming order: what the saga's validate-and-map step calls.

    result = apply_templates(templates, shop_order, product_master=master)
    request = result.apply_to_fulfillment_request(base_request)   # validated against Amazon
    result.opayo            # {"description": ..., "vendorData": ...}
    result.payment_metadata # kept on the PaymentTransaction
    result.line_attributes  # one dict per order line (HS code, cost, ledger category...)

Templates are applied in order; when two rules write the same field the later one wins and
the outcome records it. Nothing here has side effects: the same input gives the same result.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opayo_fba.mapping.errors import MappingError, TemplateError
from opayo_fba.mapping.evaluate import TransformFailure, apply_transform, holds, is_empty, search
from opayo_fba.mapping.product_master import ProductMaster, ProductRecord
from opayo_fba.mapping.targets import (
    FULFILLMENT_MODEL,
    FULFILLMENT_REQUEST,
    Target,
    TargetSystem,
    UnknownTargetError,
    check_value,
    resolve_target,
)
from opayo_fba.mapping.template import MappingTemplate, Rule


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule did to one order (or one line): the before and after of a preview."""

    template: str
    rule: str
    target: str
    line: int | None
    source: Any
    """The value read from the order, before any transform."""
    value: Any
    """The value written, after the transforms; None when nothing was written."""
    applied: bool
    note: str = ""


@dataclass
class MappingResult:
    """Everything the templates produced for one order, grouped by the system it feeds."""

    fulfillment_order: dict[str, Any] = field(default_factory=dict)
    """Attributes to merge into the createFulfillmentOrder request."""
    fulfillment_items: list[dict[str, Any]] = field(default_factory=list)
    """Per order line, attributes to merge into that line's fulfillment order item."""
    opayo: dict[str, Any] = field(default_factory=dict)
    """Opayo transaction fields: description, vendorData."""
    payment_metadata: dict[str, Any] = field(default_factory=dict)
    """Kept on the canonical PaymentTransaction (metadata) for analytics."""
    line_attributes: list[dict[str, Any]] = field(default_factory=list)
    """Per order line, extra OrderLine attributes (from the product master and the order)."""
    line_skus: list[str | None] = field(default_factory=list)
    outcomes: list[RuleOutcome] = field(default_factory=list)

    def to_state(self) -> dict[str, Any]:
        """A JSON-ready dict for the saga's state (Step Functions passes JSON between steps)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> MappingResult:
        fields = dict(state)
        fields["outcomes"] = [RuleOutcome(**outcome) for outcome in fields.get("outcomes", [])]
        return cls(**fields)

    def apply_to_fulfillment_request(
        self, request: Mapping[str, Any], *, validate: bool = True
    ) -> dict[str, Any]:
        """`request` with the mapped attributes merged in, checked against Amazon's schema.

        Items are matched by position: `request["items"][i]` is order line i. A violation in
        a field a rule wrote raises MappingError naming that rule; any other violation is the
        base request's own and raises the spapi_models ContractError unchanged.
        """
        merged = copy.deepcopy(dict(request))
        _deep_merge(merged, self.fulfillment_order)
        if any(self.fulfillment_items):
            items = merged.get("items")
            if not isinstance(items, list) or len(items) != len(self.fulfillment_items):
                count = len(items) if isinstance(items, list) else 0
                template, rule, _ = self._writer_of("items[]")
                raise MappingError(
                    template,
                    rule,
                    "amazon.items[]",
                    f"the templates mapped {len(self.fulfillment_items)} order lines but the "
                    f"fulfillment request has {count} items; they must correspond one to one",
                )
            for item, extra in zip(items, self.fulfillment_items, strict=True):
                _deep_merge(item, extra)
        if validate:
            self._validate(merged)
        return merged

    def _writer_of(self, path: str) -> tuple[str, str, str]:
        """(template, rule, target) of the last applied rule that wrote `path` or below it."""
        for outcome in reversed(self.outcomes):
            if not outcome.applied:
                continue
            written = _request_path(outcome)
            if _overlaps(path, written):
                return outcome.template, outcome.rule, outcome.target
        first = next((o for o in self.outcomes if o.applied), None)
        if first is None:
            return "(none)", "(none)", path
        return first.template, first.rule, path

    def _validate(self, merged: dict[str, Any]) -> None:
        from opayo_fba.amazon.spapi_models import ContractError, validate_definition

        try:
            validate_definition(FULFILLMENT_MODEL, FULFILLMENT_REQUEST, merged)
        except ContractError as error:
            written = {_request_path(o) for o in self.outcomes if o.applied}
            for problem in error.errors:
                location, _, reason = problem.partition(": ")
                path = re.sub(r"/(\d+)(?=/|$)", r"[\1]", location).replace("/", ".")
                generic = re.sub(r"\[\d+\]", "[]", path)
                if any(_overlaps(generic, w) for w in written):
                    template, rule, target = self._writer_of(generic)
                    line = re.search(r"\[(\d+)\]", path)
                    raise MappingError(
                        template,
                        rule,
                        target,
                        f"Amazon's createFulfillmentOrder schema rejects it: {reason}",
                        line=int(line.group(1)) if line else None,
                    ) from error
            raise


def _overlaps(path: str, written: str) -> bool:
    """Whether a problem at `path` can come from a rule that wrote `written` (either inside
    the other: a rule may create an object that then lacks a required field)."""
    return path == written or path.startswith(written + ".") or written.startswith(path + ".")


def _request_path(outcome: RuleOutcome) -> str:
    if outcome.target.startswith("amazon.items[]."):
        return "items[]." + outcome.target.removeprefix("amazon.items[].")
    if outcome.target.startswith("amazon."):
        return outcome.target.removeprefix("amazon.")
    return "(" + outcome.target + ")"


def _deep_merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _set(container: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    for name in key[:-1]:
        child = container.get(name)
        if not isinstance(child, dict):
            child = container[name] = {}
        container = child
    container[key[-1]] = value


def _target(template: MappingTemplate, rule: Rule) -> Target:
    try:
        return resolve_target(rule.target)
    except UnknownTargetError as error:
        raise TemplateError(template.label, str(error), rule=rule.name, field=rule.target) from None


def _coerce(value: Any, target: Target) -> Any:
    """Numbers become text for text fields; one text becomes a one-item list for list fields."""
    kind = target.value_type
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if kind == "array" and isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    return value


class _Lines:
    """The order lines a template sees, with each line's product master record."""

    def __init__(
        self, template: MappingTemplate, source: Any, master: ProductMaster | None
    ) -> None:
        assert template.lines is not None
        found = search(template.lines.path, source)
        if found is None:
            found = []
        if not isinstance(found, list):
            raise TemplateError(
                template.label,
                f"lines.path {template.lines.path!r} gave {type(found).__name__}, not a list of "
                "order lines",
                field="lines.path",
            )
        self.items: list[Any] = found
        self.skus: list[str | None] = []
        for item in found:
            sku = search(template.lines.sku, item)
            self.skus.append(None if is_empty(sku) else str(sku))
        known = [sku for sku in self.skus if sku is not None]
        self.records: Mapping[str, ProductRecord] = (
            master.attributes_for(known) if master is not None and known else {}
        )

    def scope(self, index: int, order: Any) -> dict[str, Any]:
        sku = self.skus[index]
        record = self.records.get(sku, {}) if sku is not None else {}
        return {"line": self.items[index], "order": order, "product": dict(record), "index": index}


def apply_template(
    template: MappingTemplate,
    source: Mapping[str, Any],
    *,
    product_master: ProductMaster | None = None,
    into: MappingResult | None = None,
) -> MappingResult:
    """Apply one template to one order (a shop or ERP order as parsed JSON)."""
    result = into if into is not None else MappingResult()
    lines = _Lines(template, source, product_master) if template.lines is not None else None
    if lines is not None:
        if result.line_skus and len(result.line_skus) != len(lines.skus):
            raise TemplateError(
                template.label,
                f"lines.path finds {len(lines.skus)} lines but an earlier template found "
                f"{len(result.line_skus)}; templates applied together must agree on the lines",
                field="lines.path",
            )
        if not result.line_skus:
            result.line_skus = list(lines.skus)
            result.fulfillment_items = [{} for _ in lines.skus]
            result.line_attributes = [{} for _ in lines.skus]
    for rule in template.rules:
        target = _target(template, rule)
        if rule.per_line:
            assert lines is not None  # the template model requires `lines` for line rules
            for index in range(len(lines.items)):
                _apply_rule(template, rule, target, lines.scope(index, source), index, result)
        else:
            _apply_rule(template, rule, target, source, None, result)
    return result


def apply_templates(
    templates: Sequence[MappingTemplate],
    source: Mapping[str, Any],
    *,
    product_master: ProductMaster | None = None,
) -> MappingResult:
    """Apply the merchant's templates, in order, to one order. The saga's mapping step."""
    if not isinstance(source, Mapping):
        raise MappingError("(all)", "(input)", "(order)", "the order must be a JSON object")
    result = MappingResult()
    for template in templates:
        apply_template(template, source, product_master=product_master, into=result)
    return result


def _apply_rule(
    template: MappingTemplate,
    rule: Rule,
    target: Target,
    scope: Any,
    line: int | None,
    result: MappingResult,
) -> None:
    def fail(reason: str) -> MappingError:
        return MappingError(template.label, rule.name, rule.target, reason, line=line)

    value = search(rule.source, scope) if rule.source is not None else rule.value
    before = value
    if rule.when is not None and not holds(rule.when, value, scope):
        result.outcomes.append(
            RuleOutcome(
                template.label,
                rule.name,
                rule.target,
                line,
                before,
                None,
                False,
                "condition not met",
            )
        )
        return
    for position, transform in enumerate(rule.transforms, start=1):
        try:
            value = apply_transform(transform, value, scope, target)
        except TransformFailure as error:
            raise fail(f"transform {position} ({transform.op}): {error}") from None
    if is_empty(value):
        if rule.required:
            where = f"source {rule.source!r}" if rule.source is not None else "the value"
            raise fail(f"{where} gave no value and the rule is required; add a default transform")
        result.outcomes.append(
            RuleOutcome(
                template.label, rule.name, rule.target, line, before, None, False, "no value"
            )
        )
        return
    value = _coerce(value, target)
    problem = check_value(target, value)
    if problem is not None:
        raise fail(problem)
    _write(result, target, line, value)
    result.outcomes.append(
        RuleOutcome(template.label, rule.name, rule.target, line, before, value, True)
    )


def _write(result: MappingResult, target: Target, line: int | None, value: Any) -> None:
    match target.system:
        case TargetSystem.AMAZON_ORDER:
            _set(result.fulfillment_order, target.key, value)
        case TargetSystem.AMAZON_ITEM:
            assert line is not None
            _set(result.fulfillment_items[line], target.key, value)
        case TargetSystem.OPAYO:
            _set(result.opayo, target.key, value)
        case TargetSystem.PAYMENT_METADATA:
            _set(result.payment_metadata, target.key, value)
        case TargetSystem.LINE:
            assert line is not None
            _set(result.line_attributes[line], target.key, value)
