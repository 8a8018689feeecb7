"""Errors of the reconciliation: malformed input names the file, the line and the field."""

from __future__ import annotations

from opayo_fba.errors import InvalidInputError


class MalformedInputError(InvalidInputError):
    """An input file cannot be read; the message says where and what is wrong.

    Raised before any output is written, so a failed run leaves nothing behind.
    """

    def __init__(self, source: str, line: int | None, field: str | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.problem = problem
        where = source if line is None else f"{source}, line {line}"
        what = problem if field is None else f"field '{field}': {problem}"
        super().__init__(f"{where}: {what}")
