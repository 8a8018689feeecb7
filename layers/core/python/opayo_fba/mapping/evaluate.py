"""Evaluating a template's pieces: JMESPath look-ups, conditions and transforms.

Each function here works on one value; `opayo_fba.mapping.engine` walks the rules and turns a
TransformFailure into a MappingError that names the template, the rule and the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import jmespath
from jmespath.parser import ParsedResult

from opayo_fba.mapping import template as t
from opayo_fba.mapping.targets import Target


class TransformFailure(ValueError):
    """A transform could not handle the value; the message says why and what to change."""


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def search(expression: str, scope: Any) -> Any:
    """Evaluate a JMESPath expression; Decimal values (from DynamoDB) come back as text."""
    return _plain(_compiled(expression).search(scope))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


def _loosely_equal(actual: Any, expected: Any) -> bool:
    """Equal, or equal as text for scalars: "100" matches 100, but true never matches "true"."""
    if actual == expected and type(actual) is not bool and type(expected) is not bool:
        return True
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    scalar = str | int | float
    return (
        isinstance(actual, scalar) and isinstance(expected, scalar) and str(actual) == str(expected)
    )


def holds(condition: t.Condition, value: Any, scope: Any) -> bool:
    """Whether `condition` holds for the current `value` in `scope` (the order or the line)."""
    subject = search(condition.path, scope) if condition.path is not None else value
    given = condition.model_fields_set
    if "equals" in given and not _loosely_equal(subject, condition.equals):
        return False
    if "not_equals" in given and _loosely_equal(subject, condition.not_equals):
        return False
    if condition.one_of is not None and not any(
        _loosely_equal(subject, option) for option in condition.one_of
    ):
        return False
    if condition.not_one_of is not None and any(
        _loosely_equal(subject, option) for option in condition.not_one_of
    ):
        return False
    if condition.matches is not None and (
        not isinstance(subject, str | int | float)
        or isinstance(subject, bool)
        or re.search(condition.matches, str(subject)) is None
    ):
        return False
    if condition.exists is not None and condition.exists == is_empty(subject):
        return False
    if condition.all_of is not None and not all(
        holds(part, value, scope) for part in condition.all_of
    ):
        return False
    if condition.any_of is not None and not any(
        holds(part, value, scope) for part in condition.any_of
    ):
        return False
    return not (condition.not_ is not None and holds(condition.not_, value, scope))


def _text(value: Any, op: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TransformFailure(f"{op} works on text, got {_describe(value)}")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"true/false ({value})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def apply_transform(transform: t.Transform, value: Any, scope: Any, target: Target) -> Any:
    """Run one transform. A null value passes through every transform except default,
    concat and format, which can build something from nothing."""
    if transform.when is not None and not holds(transform.when, value, scope):
        return value
    match transform:
        case t.Default():
            return transform.value if is_empty(value) else value
        case t.Format():
            return _format(transform, value, scope)
        case t.Concat():
            return _concat(transform, value, scope)
    if value is None:
        return None
    match transform:
        case t.Lookup():
            return _lookup(transform, value)
        case t.RegexExtract():
            return _regex_extract(transform, _text(value, "regex_extract"))
        case t.RegexReplace():
            return re.sub(
                transform.pattern,
                transform.replacement,
                _text(value, "regex_replace"),
                count=transform.count,
            )
        case t.DateFormat():
            return _date_format(transform, _text(value, "date_format"))
        case t.Case():
            text = _text(value, "case")
            return {
                "upper": text.upper,
                "lower": text.lower,
                "title": text.title,
                "capitalize": text.capitalize,
            }[transform.to]()
        case t.Truncate():
            return _truncate(transform, _text(value, "truncate"), target)
        case t.Trim():
            return re.sub(r"[ \t]+", " ", _text(value, "trim").strip())
        case t.Split():
            if isinstance(value, list):
                return value
            parts = _text(value, "split").split(transform.separator)
            return [part.strip() for part in parts if part.strip()]
        case t.MinorUnits():
            return _money(transform, value, scope)
    raise AssertionError(f"unhandled transform {transform!r}")  # pragma: no cover


def _lookup(transform: t.Lookup, value: Any) -> Any:
    if isinstance(value, dict | list | bool):
        raise TransformFailure(
            f"lookup needs a single text or number value, got {_describe(value)}"
        )
    key = str(value)
    if transform.case_sensitive:
        if key in transform.table:
            return transform.table[key]
    else:
        folded = {name.casefold(): result for name, result in transform.table.items()}
        if key.casefold() in folded:
            return folded[key.casefold()]
    if "default" in transform.model_fields_set:
        return transform.default
    known = ", ".join(repr(name) for name in list(transform.table)[:10])
    raise TransformFailure(
        f"lookup has no entry for {key!r} (entries: {known}); add it to the table or give "
        "the lookup a default"
    )


def _format(transform: t.Format, value: Any, scope: Any) -> str:
    values = {name: search(expression, scope) for name, expression in transform.fields.items()}
    values["value"] = value
    for name, item in values.items():
        if isinstance(item, dict | list):
            raise TransformFailure(f"format field {{{name}}} is {_describe(item)}, not text")
        values[name] = "" if item is None else item
    try:
        return transform.template.format_map(values)
    except (ValueError, KeyError, IndexError) as error:
        raise TransformFailure(f"format string {transform.template!r} failed: {error}") from None


def _concat(transform: t.Concat, value: Any, scope: Any) -> str:
    items = list(value) if isinstance(value, list) else [value]
    items += [search(part, scope) for part in transform.parts]
    texts: list[str] = []
    for item in items:
        if transform.skip_empty and is_empty(item):
            continue
        texts.append("" if item is None else _text(item, "concat"))
    return transform.separator.join(texts)


def _regex_extract(transform: t.RegexExtract, text: str) -> str | None:
    match = re.search(transform.pattern, text)
    if match is None:
        return None
    group = transform.group
    if group is None:
        group = 1 if match.re.groups else 0
    extracted = match.group(group)
    return extracted if isinstance(extracted, str) else None


def _date_format(transform: t.DateFormat, text: str) -> str:
    try:
        if transform.input_format is None:
            parsed = datetime.fromisoformat(text.strip())
        else:
            # The zone is attached just below from assume_timezone, or the input is refused.
            parsed = datetime.strptime(text.strip(), transform.input_format)  # noqa: DTZ007
    except ValueError as error:
        expected = transform.input_format or "ISO 8601 such as 2026-11-27T14:03:12Z"
        raise TransformFailure(
            f"{text!r} is not a date in the format {expected}: {error}"
        ) from None
    if parsed.tzinfo is None:
        if transform.assume_timezone is None:
            raise TransformFailure(
                f"{text!r} has no time zone; set assume_timezone (e.g. Europe/London) on the "
                "date_format transform"
            )
        parsed = parsed.replace(tzinfo=_zone(transform.assume_timezone))
    if transform.output_format == "iso8601":
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return parsed.astimezone(_zone(transform.output_timezone)).strftime(transform.output_format)


def _zone(name: str) -> tzinfo:
    """UTC without a time zone database (a slim image may lack one), else the IANA zone."""
    return UTC if name == "UTC" else ZoneInfo(name)


def _truncate(transform: t.Truncate, text: str, target: Target) -> str:
    limit = transform.max_length or target.max_length
    if limit is None:
        raise TransformFailure(
            f"truncate has no max_length and {target.path} has no length limit; give max_length"
        )
    if len(text) <= limit:
        return text
    if len(transform.ellipsis) >= limit:
        return text[:limit]
    return text[: limit - len(transform.ellipsis)] + transform.ellipsis


def _money(transform: t.MinorUnits, value: Any, scope: Any) -> dict[str, Any]:
    from opayo_fba.model.money import Money, MoneyError

    currency = transform.currency
    if transform.currency_path is not None:
        found = search(transform.currency_path, scope)
        if not isinstance(found, str):
            raise TransformFailure(
                f"money: currency_path {transform.currency_path!r} gave {_describe(found)}, "
                "not a currency code"
            )
        currency = found
    assert currency is not None  # the model requires one of currency, currency_path
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        return value  # already minor units
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips, e.g. 12.5 -> "12.5"
    try:
        money = Money.parse(_text(value, "money"), currency)
    except MoneyError as error:
        raise TransformFailure(f"money: {error}") from None
    return {"amount": money.amount, "currency": money.currency}
