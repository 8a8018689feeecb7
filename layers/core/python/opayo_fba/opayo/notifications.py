"""Opayo Server notifications: parse the form body, verify VPSSignature, build the reply.

Verification follows docs/reference/opayo.md exactly (field order, lower-cased vendor
name, Token only for TOKEN, braces kept on VPSTxId) through `opayo_fba.opayo.signatures`,
compared case-insensitively in constant time. Every rejection says why, naming the field or
the signature mismatch, so an operator can debug it (`opayo-fba opayo verify-notification`);
the reason never contains the security key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from opayo_fba.card_numbers import mask_card_numbers, quote_input
from opayo_fba.opayo.signatures import compute_vps_signature, signatures_match

REQUIRED_FIELDS: tuple[str, ...] = ("VPSProtocol", "TxType", "VendorTxCode", "VPSTxId", "Status")
STATUSES = frozenset(
    {"OK", "NOTAUTHED", "ABORT", "REJECTED", "AUTHENTICATED", "REGISTERED", "ERROR", "PENDING"}
)
TX_TYPES = frozenset({"PAYMENT", "DEFERRED", "AUTHENTICATE", "TOKEN"})
_MD5_HEX = re.compile(r"^[0-9A-Fa-f]{32}$")
_VPS_TX_ID = re.compile(r"^\{[0-9A-Fa-f-]{36}\}$")

ReplyStatus = Literal["OK", "INVALID", "ERROR"]
MAX_NOTIFICATION_BYTES = 16 * 1024
"""A notification is a few hundred bytes of form fields; anything over 16 KiB is not one (our
assumption: Opayo publishes no maximum)."""


class NotificationFormatError(ValueError):
    """The body is not a form-encoded notification."""


@dataclass(frozen=True)
class NotificationCheck:
    valid: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.valid


def decode_notification(body: bytes) -> str:
    """UTF-8, or else ISO-8859-1: Opayo's gateway is Latin-1 underneath, and the signed
    fields are ASCII either way (docs/reference/opayo.md, "Smaller points")."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def parse_notification(body: bytes | str) -> dict[str, str]:
    """Form-urlencoded body -> fields. A field sent twice is refused (which one is signed?)."""
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationFormatError(
            f"the notification is {len(body)} long; at most {MAX_NOTIFICATION_BYTES} are accepted"
        )
    text = decode_notification(body) if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        raise NotificationFormatError("the notification body is empty")
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError as error:
        raise NotificationFormatError(f"the body is not form-urlencoded: {error}") from None
    for name, value in pairs:
        if name in fields:
            raise NotificationFormatError(f"field {name} appears more than once")
        fields[name] = value
    return fields


def check_notification(
    fields: dict[str, str], *, vendor_name: str, security_key: str
) -> NotificationCheck:
    """Valid only if every required field is present and well-formed and the signature matches."""
    if not vendor_name:
        raise ValueError("vendor_name is required to verify a notification")
    if not security_key:
        raise ValueError("the transaction's security key is required to verify a notification")
    for name in (*REQUIRED_FIELDS, "VPSSignature"):
        if not fields.get(name):
            return NotificationCheck(False, f"missing field {name}")
    if fields["Status"] not in STATUSES:
        return NotificationCheck(
            False, f"field Status has an unknown value {quote_input(fields['Status'], 20)}"
        )
    if fields["TxType"] not in TX_TYPES:
        return NotificationCheck(
            False, f"field TxType has an unknown value {quote_input(fields['TxType'], 20)}"
        )
    if not _VPS_TX_ID.match(fields["VPSTxId"]):
        return NotificationCheck(False, "field VPSTxId is not a {GUID} in braces")
    if not _MD5_HEX.match(fields["VPSSignature"].strip()):
        return NotificationCheck(False, "field VPSSignature is not a 32-character MD5 hex digest")
    expected = compute_vps_signature(fields, vendor_name=vendor_name, security_key=security_key)
    if not signatures_match(expected, fields["VPSSignature"]):
        return NotificationCheck(
            False,
            "signature mismatch: VPSSignature does not sign these fields with this vendor "
            "name and security key (a field was altered, or the vendor/key is wrong)",
        )
    return NotificationCheck(True)


def build_reply(status: ReplyStatus, redirect_url: str, detail: str | None = None) -> str:
    """The plain-text body Opayo expects (HTTP 200), lines separated by CRLF."""
    if status not in ("OK", "INVALID", "ERROR"):
        raise ValueError(f"reply status must be OK, INVALID or ERROR, not {status!r}")
    if not redirect_url:
        raise ValueError("redirect_url is required in a notification reply")
    lines = [f"Status={status}", f"RedirectURL={_one_line(redirect_url)}"]
    if detail:
        lines.append(f"StatusDetail={mask_card_numbers(_one_line(detail))[:255]}")
    return "\r\n".join(lines) + "\r\n"


def _one_line(value: str) -> str:
    """No CR/LF may reach the reply: they would let a value inject a field."""
    return re.sub(r"[\r\n]+", " ", value).strip()
