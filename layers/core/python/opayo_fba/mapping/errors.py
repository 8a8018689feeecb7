"""Errors of the mapping engine: each names the template, the rule and the field.

A business user reads these, so the message says what is wrong and what to change.
"""

from __future__ import annotations

from opayo_fba.errors import InvalidInputError


class TemplateError(InvalidInputError):
    """A template is malformed: it cannot be parsed, or a rule refers to something unknown."""

    def __init__(
        self,
        template: str,
        reason: str,
        *,
        rule: str | None = None,
        field: str | None = None,
    ) -> None:
        self.template = template
        self.rule = rule
        self.field = field
        self.reason = reason
        super().__init__(_describe(f"mapping template {template!r}", rule, field, reason))


class MappingError(InvalidInputError):
    """A template could not be applied to an order: the message names template, rule, field."""

    def __init__(
        self,
        template: str,
        rule: str,
        field: str,
        reason: str,
        *,
        line: int | None = None,
    ) -> None:
        self.template = template
        self.rule = rule
        self.field = field
        self.reason = reason
        self.line = line
        where = field if line is None else f"{field} (order line {line + 1})"
        super().__init__(_describe(f"mapping template {template!r}", rule, where, reason))


def _describe(subject: str, rule: str | None, field: str | None, reason: str) -> str:
    parts = [subject]
    if rule is not None:
        parts.append(f"rule {rule!r}")
    if field is not None:
        parts.append(f"field {field}")
    return ", ".join(parts) + f": {reason}"
