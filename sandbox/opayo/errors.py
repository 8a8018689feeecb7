"""Opayo's Pi error responses, in the shapes Opayo uses.

- 422 (Invalid): `{"errors": [{"code", "description", "property", "clientMessage"}]}`
- 400 (Malformed), 401, 403 (instruction refused), 404, 5xx: `{"code", "description"}`
- declined or failed transactions: the transaction body, with status NotAuthed/Rejected/Error.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

# Sandbox error codes, modelled on Opayo's (docs/sandbox-opayo.md lists them).
# rule: OPAYO-PI-17
MALFORMED = 1000
AUTH_MISSING = 1001
AUTH_FAILED = 1002
MISSING_FIELD = 1003
INVALID_LENGTH = 1004
INVALID_VALUE = 1005
INVALID_TYPE = 1006
DUPLICATE_VENDOR_TX_CODE = 1007
CARD_IDENTIFIER_EXPIRED = 1008
MERCHANT_SESSION_KEY_INVALID = 1009
AMOUNT_EXCEEDS = 1010
NOT_FOUND = 1011
INSTRUCTION_REFUSED = 1012
VENDOR_MISMATCH = 1013


class PiFieldError:
    __slots__ = ("code", "description", "property")

    def __init__(self, property_name: str, description: str, code: int) -> None:
        self.property = property_name
        self.description = description
        self.code = code

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "description": self.description,
            "property": self.property,
            "clientMessage": f"{self.property}: {self.description}",
        }


class PiError(Exception):
    """Raised by the Pi handlers; rendered by `pi_error_response`."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body

    @classmethod
    def invalid(cls, errors: list[PiFieldError]) -> PiError:
        return cls(422, {"errors": [error.as_json() for error in errors]})

    @classmethod
    def field(cls, property_name: str, description: str, code: int = INVALID_VALUE) -> PiError:
        return cls.invalid([PiFieldError(property_name, description, code)])

    @classmethod
    def single(cls, status: int, code: int, description: str) -> PiError:
        return cls(status, {"code": code, "description": description})


# rule: OPAYO-PI-16
def pi_error_response(error: PiError) -> Response:
    return JSONResponse(error.body, error.status)


def pi_fault_response(status: int, code: str, message: str) -> Response:
    """How injected faults (500/503/429) look on the Pi API."""
    return JSONResponse({"code": status * 10, "description": f"{message} ({code})"}, status)
