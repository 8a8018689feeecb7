"""Propose rules from a sample order, for a human to review and accept.

Every leaf of the sample is scored against each known target by field-name similarity
(the leaf's name against the target's aliases) and by the shape of its value (an e-mail
address, a date, a tariff number...). Name/value lists such as Shopify's `note_attributes`
and WooCommerce's `meta_data` are looked through, so `utm_campaign` is found wherever it
hides. The best source for each target becomes one proposed rule; nothing is applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_HS_CODE = re.compile(r"^[0-9]{6,10}$")
_DECIMAL = re.compile(r"^-?[0-9]+([.,][0-9]{1,4})?$")


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_short_code(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 40 and "\n" not in value


def _is_free_text(value: Any) -> bool:
    return isinstance(value, str) and (len(value) > 20 or " " in value)


def _is_identifier(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and 0 < len(value) <= 40 and " " not in value.strip()


@dataclass(frozen=True)
class _Known:
    target: str
    aliases: tuple[str, ...]
    shape: Callable[[Any], bool]
    per_line: bool = False
    transforms: tuple[dict[str, Any], ...] = ()


_KNOWN: tuple[_Known, ...] = (
    _Known(
        "amazon.displayableOrderId",
        ("order number", "order no", "order name", "number", "order id", "reference"),
        _is_identifier,
        transforms=({"op": "truncate"},),
    ),
    _Known(
        "amazon.displayableOrderDate",
        ("created at", "date created", "order date", "date created gmt", "processed at"),
        _is_date,
        transforms=({"op": "date_format"},),
    ),
    _Known(
        "amazon.displayableOrderComment",
        ("note", "customer note", "comment", "order comment", "gift message", "message"),
        _is_free_text,
        transforms=({"op": "truncate"},),
    ),
    _Known(
        "amazon.shippingSpeedCategory",
        ("shipping code", "shipping method", "method id", "shipping speed", "delivery method"),
        _is_short_code,
        transforms=({"op": "lookup", "table": {"REPLACE ME": "Standard"}, "default": "Standard"},),
    ),
    _Known(
        "amazon.notificationEmails",
        ("email", "customer email", "contact email", "billing email"),
        lambda v: isinstance(v, str) and bool(_EMAIL.match(v)),
        transforms=({"op": "split"},),
    ),
    _Known(
        "amazon.deliveryPreferences.deliveryInstructions",
        ("delivery instructions", "delivery note", "instructions"),
        _is_free_text,
        transforms=({"op": "truncate"},),
    ),
    _Known(
        "opayo.vendorData",
        ("utm campaign", "campaign", "campaign id", "marketing campaign"),
        _is_short_code,
        transforms=(
            {"op": "regex_replace", "pattern": "[^A-Za-z0-9 ]+", "replacement": " "},
            {"op": "truncate"},
        ),
    ),
    _Known(
        "payment.metadata.campaignId",
        ("utm campaign", "campaign", "campaign id", "marketing campaign"),
        _is_short_code,
    ),
    _Known(
        "payment.metadata.campaignSource",
        ("utm source", "campaign source", "referrer", "source"),
        _is_short_code,
    ),
    _Known(
        "amazon.items[].giftMessage",
        ("gift message", "gift note", "gift text"),
        _is_free_text,
        per_line=True,
        transforms=({"op": "truncate"},),
    ),
    _Known(
        "line.hsCode",
        ("hs code", "tariff code", "commodity code", "harmonized code", "customs code"),
        lambda v: isinstance(v, str | int) and bool(_HS_CODE.match(str(v))),
        per_line=True,
    ),
    _Known(
        "line.cost",
        ("cost", "unit cost", "landed cost", "purchase cost", "cogs"),
        lambda v: isinstance(v, str | int | float) and bool(_DECIMAL.match(str(v))),
        per_line=True,
        transforms=({"op": "money", "currency": "GBP"},),
    ),
    _Known(
        "line.ledgerCategory",
        ("ledger category", "gl code", "ledger", "account code", "nominal code"),
        _is_short_code,
        per_line=True,
    ),
)


@dataclass(frozen=True)
class Suggestion:
    target: str
    source: str
    """JMESPath; for line targets it is relative to {line, order, product}."""
    score: float
    sample_value: Any
    reason: str
    transforms: tuple[dict[str, Any], ...] = ()

    def _filled(self, transform: dict[str, Any]) -> dict[str, Any]:
        """A lookup starts with the sample's own value as its first entry, to be edited."""
        if transform.get("op") == "lookup" and isinstance(self.sample_value, str | int):
            transform["table"] = {str(self.sample_value): transform["default"]}
        return transform

    def as_rule(self) -> dict[str, Any]:
        name = re.sub(r"([a-z])([A-Z])", r"\1-\2", self.target.split(".")[-1]).lower()
        rule: dict[str, Any] = {"name": name, "target": self.target, "source": self.source}
        if self.transforms:
            rule["transforms"] = [self._filled(dict(t)) for t in self.transforms]
        return rule


def _words(name: str) -> str:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return " ".join(re.sub(r"[^A-Za-z0-9]+", " ", spaced).lower().split())


def _quote(name: str) -> str:
    return (
        name
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name)
        else '"' + name.replace('"', '\\"') + '"'
    )


@dataclass(frozen=True)
class _Leaf:
    path: str
    name: str
    value: Any
    in_line: bool
    parent: str = ""


def _leaves(value: Any, path: str, name: str, in_line: bool, parent: str = "") -> Iterator[_Leaf]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{_quote(key)}" if path else _quote(key)
            yield from _leaves(item, child, key, in_line, name)
        return
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            pairs = [_pair(item) for item in value]
            if all(pair is not None for pair in pairs):
                for key_field, key, item in (p for p in pairs if p is not None):
                    expression = f"{path}[?{key_field}=='{key}'].value | [0]"
                    yield _Leaf(expression, key.lstrip("_"), item, in_line, name)
                return
            if not in_line and _looks_like_lines(value):
                yield from _leaves(value[0], "line", "", True)
                return
            yield from _leaves(value[0], f"{path}[0]", name, in_line, parent)
            return
        if value and all(isinstance(item, str) for item in value):
            yield _Leaf(path, name, value[0], in_line, parent)
        return
    yield _Leaf(path, name, value, in_line, parent)


def _pair(item: dict[str, Any]) -> tuple[str, str, Any] | None:
    """Name/value entries: {"name": "utm_campaign", "value": ...} or {"key": ..., "value": ...}."""
    if "value" not in item or isinstance(item["value"], dict | list):
        return None
    for key_field in ("name", "key"):
        key = item.get(key_field)
        if isinstance(key, str) and "'" not in key:
            return key_field, key, item["value"]
    return None


def _looks_like_lines(items: list[Any]) -> bool:
    first = items[0]
    return isinstance(first, dict) and any(k in first for k in ("sku", "SKU", "quantity", "qty"))


def _name_score(name: str, aliases: tuple[str, ...]) -> float:
    words = _words(name)
    if not words:
        return 0.0
    best = 0.0
    for alias in aliases:
        if words == alias:
            return 1.0
        ratio = SequenceMatcher(None, words, alias).ratio()
        if alias in words.split(" ") or words.endswith(" " + alias):
            ratio = max(ratio, 0.8)
        best = max(best, ratio)
    return best


def suggest_rules(
    sample: Any, *, product_sample: dict[str, Any] | None = None, min_score: float = 0.65
) -> list[Suggestion]:
    """One suggestion per target that some field of `sample` resembles, best first.

    `product_sample` is one product master record (a CSV row); its columns are proposed as
    `product.<column>` sources for line attributes.
    """
    leaves = list(_leaves(sample, "", "", False))
    if product_sample:
        leaves += list(_leaves(product_sample, "product", "", True))
    suggestions: list[Suggestion] = []
    for known in _KNOWN:
        best: Suggestion | None = None
        for leaf in leaves:
            if leaf.in_line != known.per_line or leaf.value is None:
                continue
            name_score = max(
                _name_score(leaf.name, known.aliases),
                _name_score(f"{leaf.parent} {leaf.name}", known.aliases) if leaf.parent else 0,
            )
            shape_ok = known.shape(leaf.value)
            score = name_score * (1.0 if shape_ok else 0.6) + (0.1 if shape_ok else 0.0)
            score = round(min(score, 1.0), 2)
            if score < min_score or (best is not None and score <= best.score):
                continue
            reason = f"name {leaf.name!r} ~ {known.aliases[0]!r}" + (
                ", value has the expected shape" if shape_ok else ", value shape differs"
            )
            best = Suggestion(known.target, leaf.path, score, leaf.value, reason, known.transforms)
        if best is not None:
            suggestions.append(best)
    return sorted(suggestions, key=lambda s: (-s.score, s.target))


def suggested_template(
    suggestions: list[Suggestion], *, name: str, lines_path: str | None
) -> dict[str, Any]:
    """A template (as data) holding the suggestions, ready to be reviewed and saved."""
    template: dict[str, Any] = {"name": name, "version": 1, "source_format": "unknown"}
    if any(s.target.startswith(("line.", "amazon.items[].")) for s in suggestions):
        template["lines"] = {"path": lines_path or "line_items", "sku": "sku"}
    used: set[str] = set()
    rules = []
    for suggestion in suggestions:
        rule = suggestion.as_rule()
        base, counter = rule["name"], 2
        while rule["name"] in used:
            rule["name"] = f"{base}-{counter}"
            counter += 1
        used.add(rule["name"])
        rules.append(rule)
    template["rules"] = rules
    return template


def find_lines_path(sample: Any) -> str | None:
    """The top-level list that looks like order lines (has sku/quantity), if any."""
    if isinstance(sample, dict):
        for key, value in sample.items():
            if isinstance(value, list) and value and _looks_like_lines(value):
                return _quote(key)
    return None
