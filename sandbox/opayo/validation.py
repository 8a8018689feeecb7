"""Field-by-field checks of Pi request bodies that collect every error, naming each property."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.opayo import errors
from sandbox.opayo.errors import PiError, PiFieldError

_MISSING = object()


# rule: OPAYO-PI-21
class BodyChecker:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.errors: list[PiFieldError] = []

    def _lookup(self, path: str) -> Any:
        value: Any = self.body
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return _MISSING
            value = value[part]
        return value

    def fail(self, path: str, description: str, code: int = errors.INVALID_VALUE) -> None:
        self.errors.append(PiFieldError(path, description, code))

    def string(
        self,
        path: str,
        *,
        required: bool = True,
        max_length: int | None = None,
        choices: Sequence[str] | None = None,
        default: str = "",
    ) -> str:
        value = self._lookup(path)
        if value is _MISSING or value is None or value == "":
            if required:
                self.fail(path, "Missing mandatory field", errors.MISSING_FIELD)
            return default
        if not isinstance(value, str):
            self.fail(path, "Invalid type: must be a string", errors.INVALID_TYPE)
            return default
        if max_length is not None and len(value) > max_length:
            self.fail(
                path, f"Invalid length: at most {max_length} characters", errors.INVALID_LENGTH
            )
            return default
        if choices is not None and value not in choices:
            self.fail(path, f"Invalid value: must be one of {', '.join(choices)}")
            return default
        return value

    def integer(self, path: str, *, required: bool = True, minimum: int = 1) -> int | None:
        value = self._lookup(path)
        if value is _MISSING or value is None:
            if required:
                self.fail(path, "Missing mandatory field", errors.MISSING_FIELD)
            return None
        # JSON true/false are ints to Python; a string like "1000" is exactly what Opayo refuses.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(
                path,
                f"Invalid type: must be an integer in minor units, not {type(value).__name__}",
                errors.INVALID_TYPE,
            )
            return None
        if value < minimum:
            self.fail(path, f"Invalid value: must be at least {minimum}")
            return None
        return value

    def boolean(self, path: str, *, required: bool = True) -> bool | None:
        value = self._lookup(path)
        if value is _MISSING or value is None:
            if required:
                self.fail(path, "Missing mandatory field", errors.MISSING_FIELD)
            return None
        if not isinstance(value, bool):
            self.fail(path, "Invalid type: must be a boolean", errors.INVALID_TYPE)
            return None
        return value

    # rule: OPAYO-SCA-10
    def whole_number(self, path: str, *, minimum: int | None = None) -> int | None:
        """An integer, or a string holding one (clients send browser figures both ways)."""
        value = self._lookup(path)
        if value is _MISSING or value is None or value == "":
            self.fail(path, "Missing mandatory field", errors.MISSING_FIELD)
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.fail(path, "Invalid type: must be a whole number", errors.INVALID_TYPE)
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(path, "Invalid value: must be a whole number")
            return None
        if minimum is not None and number < minimum:
            self.fail(path, f"Invalid value: must be at least {minimum}")
            return None
        return number

    def raise_if_failed(self) -> None:
        if self.errors:
            raise PiError.invalid(self.errors)
