"""The template language: pydantic models that validate a template and export its JSON Schema.

A template is a list of rules. Each rule reads a value from the incoming order with a JMESPath
expression (or takes a constant), runs it through transforms, and writes it to one target
field. Conditions (`when`) decide whether a rule, or one transform, applies.

The models only check the template's own shape (syntax, names, regexes, time zones);
`opayo_fba.mapping.check.check_template` also checks it against the targets' schemas.
"""

from __future__ import annotations

import json
import re
import string
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    model_validator,
)

SCHEMA_ID = "urn:opayo-fba:schema:mapping-template"


def _check_jmespath(expression: str) -> str:
    try:
        jmespath.compile(expression)
    except JMESPathError as error:
        raise ValueError(f"not a valid JMESPath expression {expression!r}: {error}") from None
    return expression


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a valid regular expression {pattern!r}: {error}") from None
    return pattern


def _check_timezone(name: str) -> str:
    if name == "UTC":
        return name  # needs no time zone database
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/London"
        ) from None
    return name


JMESPath = Annotated[
    str,
    AfterValidator(_check_jmespath),
    Field(
        min_length=1,
        description="A JMESPath expression (https://jmespath.org) evaluated against the order.",
    ),
]
Regex = Annotated[
    str,
    AfterValidator(_check_regex),
    Field(min_length=1, description="A Python regular expression."),
]
TimeZone = Annotated[str, AfterValidator(_check_timezone), Field(description="IANA time zone.")]
Name = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        description="Lower-case letters, digits, '-', '_' and '.', at most 64 characters.",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


# -- conditions ---------------------------------------------------------------------------


class Condition(_Strict):
    """True when every test given holds. Without `path`, the test applies to the current value."""

    path: JMESPath | None = Field(
        default=None,
        description="What to test, evaluated against the order (or the line). "
        "Omit it to test the rule's current value.",
    )
    equals: JsonValue = Field(default=None, description="Equal to this value.")
    not_equals: JsonValue = Field(default=None, description="Not equal to this value.")
    one_of: list[JsonValue] | None = Field(default=None, description="Equal to one of these.")
    not_one_of: list[JsonValue] | None = Field(default=None, description="None of these.")
    matches: Regex | None = Field(default=None, description="Text matching this regex.")
    exists: bool | None = Field(
        default=None, description="true: present and not empty; false: missing, null or empty."
    )
    all_of: list[Condition] | None = Field(default=None, description="All must hold.")
    any_of: list[Condition] | None = Field(default=None, description="At least one holds.")
    not_: Condition | None = Field(default=None, alias="not", description="Must not hold.")

    @model_validator(mode="after")
    def _has_a_test(self) -> Condition:
        tests = self.model_fields_set - {"path"}
        if not tests:
            raise ValueError(
                "a condition needs a test: equals, not_equals, one_of, not_one_of, matches, "
                "exists, all_of, any_of or not"
            )
        return self


# -- transforms -----------------------------------------------------------------------------


class _Transform(_Strict):
    when: Condition | None = Field(
        default=None, description="Apply this transform only when the condition holds."
    )


class Lookup(_Transform):
    """Replace the value by its entry in a table (e.g. shop shipping code -> Amazon speed)."""

    op: Literal["lookup"]
    table: dict[str, JsonValue] = Field(min_length=1)
    default: JsonValue = Field(
        default=None,
        description="Used when the value is not in the table. Without it, an unknown value "
        "is an error.",
    )
    case_sensitive: bool = True


class Default(_Transform):
    """Use `value` when the current value is missing, null, empty text or an empty list."""

    op: Literal["default"]
    value: JsonValue


class Format(_Transform):
    """Build text with a format string: {value} is the current value, other names come
    from `fields` (JMESPath expressions)."""

    op: Literal["format"]
    template: str = Field(min_length=1, examples=["Order {value} ({campaign})"])
    fields: dict[str, JMESPath] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _placeholders_are_known(self) -> Format:
        for name in placeholders(self.template):
            if name != "value" and name not in self.fields:
                raise ValueError(
                    f"format placeholder {{{name}}} is neither {{value}} nor one of fields "
                    f"({', '.join(sorted(self.fields)) or 'none given'})"
                )
        return self


class Concat(_Transform):
    """Join the current value (or list of values) and `parts` with `separator`."""

    op: Literal["concat"]
    parts: list[JMESPath] = Field(default_factory=list)
    separator: str = " "
    skip_empty: bool = Field(default=True, description="Leave out null and empty parts.")


class RegexExtract(_Transform):
    """Keep the part of the text that a regex group matches; no match gives null."""

    op: Literal["regex_extract"]
    pattern: Regex
    group: int | str | None = Field(
        default=None, description="Group number or name; default 1 if the regex has groups."
    )

    @model_validator(mode="after")
    def _group_exists(self) -> RegexExtract:
        compiled = re.compile(self.pattern)
        if isinstance(self.group, str) and self.group not in compiled.groupindex:
            raise ValueError(f"the regex has no group named {self.group!r}")
        if isinstance(self.group, int) and not 0 <= self.group <= compiled.groups:
            raise ValueError(f"the regex has {compiled.groups} groups, not {self.group}")
        return self


class RegexReplace(_Transform):
    """Replace every match (or the first `count`) of a regex."""

    op: Literal["regex_replace"]
    pattern: Regex
    replacement: str = ""
    count: int = Field(default=0, ge=0, description="0 replaces every match.")


class DateFormat(_Transform):
    """Parse a date/time and write it in another format, converted to `output_timezone`."""

    op: Literal["date_format"]
    input_format: str | None = Field(
        default=None, description="strptime format; omit for ISO 8601 (2026-11-27T14:03:12Z)."
    )
    assume_timezone: TimeZone | None = Field(
        default=None,
        description="Time zone of inputs that carry none; without it such input is an error.",
    )
    output_format: str = Field(
        default="iso8601",
        description="'iso8601' (UTC, e.g. 2026-11-27T14:03:12Z) or a strftime format.",
    )
    output_timezone: TimeZone = "UTC"


class Case(_Transform):
    """Change letter case."""

    op: Literal["case"]
    to: Literal["upper", "lower", "title", "capitalize"]


class Truncate(_Transform):
    """Cut text to `max_length`, or to the target field's own limit when omitted."""

    op: Literal["truncate"]
    max_length: int | None = Field(default=None, ge=1)
    ellipsis: str = Field(default="", description="Appended when cut, within the limit.")


class Trim(_Transform):
    """Remove leading/trailing white space and collapse runs of spaces."""

    op: Literal["trim"]


class Split(_Transform):
    """Split text into a list (e.g. a comma-separated list of e-mail addresses)."""

    op: Literal["split"]
    separator: str = Field(default=",", min_length=1)


class MinorUnits(_Transform):
    """Parse a decimal amount into integer minor units: {amount: 1250, currency: GBP}."""

    op: Literal["money"]
    currency: str | None = Field(default=None, description="ISO 4217 code, e.g. GBP.")
    currency_path: JMESPath | None = Field(
        default=None, description="Where to read the currency from, if it varies."
    )

    @model_validator(mode="after")
    def _one_currency_source(self) -> MinorUnits:
        if (self.currency is None) == (self.currency_path is None):
            raise ValueError("give exactly one of currency and currency_path")
        return self


Transform = Annotated[
    Lookup
    | Default
    | Format
    | Concat
    | RegexExtract
    | RegexReplace
    | DateFormat
    | Case
    | Truncate
    | Trim
    | Split
    | MinorUnits,
    Field(discriminator="op"),
]


# -- rules and templates --------------------------------------------------------------------


class Rule(_Strict):
    """Read a value (`source` or constant `value`), transform it, write it to `target`."""

    name: Name
    description: str | None = None
    target: str = Field(
        min_length=3,
        examples=[
            "amazon.displayableOrderComment",
            "amazon.items[].giftMessage",
            "opayo.vendorData",
            "payment.metadata.campaignId",
            "line.hsCode",
        ],
        description="amazon.<field>, amazon.items[].<field>, opayo.description, "
        "opayo.vendorData, payment.metadata.<key> or line.<attribute>.",
    )
    source: JMESPath | None = Field(
        default=None,
        description="Where to read the value. Order rules see the order; line rules see "
        "{line, order, product}.",
    )
    value: JsonValue = Field(default=None, description="A constant, instead of `source`.")
    when: Condition | None = Field(default=None, description="Apply the rule only when it holds.")
    transforms: list[Transform] = Field(default_factory=list)
    required: bool = Field(
        default=False, description="Fail the order when the rule yields no value."
    )

    @model_validator(mode="after")
    def _source_or_value(self) -> Rule:
        has_value = "value" in self.model_fields_set
        if (self.source is None) == (not has_value):
            raise ValueError("give exactly one of source (a JMESPath expression) and value")
        return self

    @property
    def per_line(self) -> bool:
        return self.target.startswith(("amazon.items[].", "line."))


class LineSource(_Strict):
    """Where the order lines are, so that line rules run once per line."""

    path: JMESPath = Field(description="The list of lines in the order, e.g. line_items.")
    sku: JMESPath = Field(
        default="sku", description="The SKU within a line; it keys the product master."
    )


class MappingTemplate(_Strict):
    """A merchant's mapping from their shop or ERP fields to the integration's targets."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: Name
    version: int = Field(default=1, ge=1, description="Bump it on every change.")
    description: str | None = None
    source_format: str | None = Field(
        default=None, description="What the template reads, e.g. shopify, woocommerce, erp."
    )
    lines: LineSource | None = None
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _rules_fit_together(self) -> MappingTemplate:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; rule names must be unique")
            seen.add(rule.name)
            if rule.per_line and self.lines is None:
                raise ValueError(
                    f"rule {rule.name!r} targets {rule.target}, a per-line field: add "
                    "`lines: {path: <where the order lines are>, sku: <sku within a line>}`"
                )
        return self

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


_MAX_FORMAT_WIDTH = 1000


def placeholders(template: str) -> list[str]:
    """The names a format string uses; only plain names are allowed (no attribute access)."""
    names: list[str] = []
    for _, name, spec, _conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(
                f"format placeholder {{{name}}} must be a plain name such as {{value}}"
            )
        if spec and "{" in spec:
            raise ValueError("nested placeholders are not allowed in a format string")
        if spec and any(int(width) > _MAX_FORMAT_WIDTH for width in re.findall(r"\d+", spec)):
            raise ValueError(
                f"format spec {spec!r} is wider than {_MAX_FORMAT_WIDTH}; no target takes "
                "that much text"
            )
        names.append(name)
    return names


def template_json_schema() -> dict[str, Any]:
    """The JSON Schema of a template file, for editors (schemas/mapping-template.schema.json)."""
    schema = MappingTemplate.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def template_json_schema_text() -> str:
    return json.dumps(template_json_schema(), indent=2, ensure_ascii=False) + "\n"
