"""Opayo's signature primitives: pure functions, no I/O.

Two schemes, both MD5 because Opayo mandates it (not because we would choose it):

- `VPSSignature` on Server-integration notifications: MD5 over a fixed concatenation of the
  notification's fields plus the vendor name and the transaction's SecurityKey, which the
  merchant stored at registration and Opayo never sends again.
- Reporting & Admin API requests: MD5 over the request's XML elements with the password
  element appended; the request is then sent with `<signature>` in place of `<password>`.

Verification is case-insensitive (Opayo sends upper-case hex) and constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

# The order Opayo concatenates notification fields in. `VendorName` and `SecurityKey` are not
# notification fields: the merchant supplies them from its own configuration and records.
VPS_SIGNATURE_ORDER: tuple[str, ...] = (
    "VPSTxId",
    "VendorTxCode",
    "Status",
    "TxAuthNo",
    "VendorName",
    "AVSCV2",
    "Token",
    "SecurityKey",
    "AddressResult",
    "PostCodeResult",
    "CV2Result",
    "GiftAid",
    "3DSecureStatus",
    "CAVV",
    "AddressStatus",
    "PayerStatus",
    "CardType",
    "Last4Digits",
    "DeclineCode",
    "ExpiryDate",
    "FraudResponse",
    "BankAuthCode",
    "ACSTransID",
    "DSTransID",
    "SchemeTraceID",
)

REPORTING_HEADER_ELEMENTS: tuple[str, ...] = ("command", "vendor", "user")


def vps_signature_base(fields: Mapping[str, str], *, vendor_name: str, security_key: str) -> str:
    """The exact string Opayo hashes for a notification's VPSSignature.

    A missing field counts as the empty string; `Token` counts only when TxType is TOKEN;
    the vendor name is lower-cased; VPSTxId keeps its braces. A successful TOKEN registration
    (TxType TOKEN, Status OK) is signed differently (omnipay-sagepay's ServerNotifyTrait):
    VPSTxId without its braces, and nothing after the SecurityKey.
    """
    token_ok = fields.get("TxType") == "TOKEN" and fields.get("Status") == "OK"
    parts: list[str] = []
    for name in VPS_SIGNATURE_ORDER:
        if name == "VendorName":
            parts.append(vendor_name.lower())
        elif name == "SecurityKey":
            parts.append(security_key)
            if token_ok:
                break
        elif name == "VPSTxId" and token_ok:
            parts.append(fields.get("VPSTxId", "").replace("{", "").replace("}", ""))
        elif name == "Token":
            parts.append(fields.get("Token", "") if fields.get("TxType") == "TOKEN" else "")
        else:
            parts.append(fields.get(name, ""))
    return "".join(parts)


def compute_vps_signature(fields: Mapping[str, str], *, vendor_name: str, security_key: str) -> str:
    """The VPSSignature Opayo would send for these notification fields (upper-case hex)."""
    base = vps_signature_base(fields, vendor_name=vendor_name, security_key=security_key)
    return hashlib.md5(base.encode("utf-8")).hexdigest().upper()


def signatures_match(expected: str, received: str) -> bool:
    """Constant-time, case-insensitive comparison of two hex digests."""
    return hmac.compare_digest(
        expected.strip().upper().encode("utf-8"), received.strip().upper().encode("utf-8")
    )


def verify_vps_signature(fields: Mapping[str, str], *, vendor_name: str, security_key: str) -> bool:
    """True when `fields["VPSSignature"]` is the signature of the other fields."""
    received = fields.get("VPSSignature", "")
    if not received:
        return False
    expected = compute_vps_signature(fields, vendor_name=vendor_name, security_key=security_key)
    return signatures_match(expected, received)


def escape_xml_text(value: str) -> str:
    """`&`, `<` and `>` as XML entities, `&` first: what `xml.sax.saxutils.escape` does,
    without importing xml.sax (and with it urllib.request and http.client) at cold start."""
    return value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _element(name: str, value: str) -> str:
    return f"<{name}>{escape_xml_text(value)}</{name}>"


def reporting_signature_base(
    *,
    command: str,
    vendor: str,
    user: str,
    parameters: Sequence[tuple[str, str]],
    password: str,
) -> str:
    """`<command>..</command><vendor>..</vendor><user>..</user>` + parameters + `<password>`.

    Values are XML-escaped exactly as they are sent, so signer and verifier hash the same bytes.
    """
    head = _element("command", command) + _element("vendor", vendor) + _element("user", user)
    body = "".join(_element(name, value) for name, value in parameters)
    return head + body + _element("password", password)


def compute_reporting_signature(
    *,
    command: str,
    vendor: str,
    user: str,
    parameters: Sequence[tuple[str, str]],
    password: str,
) -> str:
    """The MD5 signature of a Reporting & Admin API request (lower-case hex)."""
    base = reporting_signature_base(
        command=command, vendor=vendor, user=user, parameters=parameters, password=password
    )
    return hashlib.md5(base.encode("utf-8")).hexdigest()


def build_reporting_request(
    *,
    command: str,
    vendor: str,
    user: str,
    parameters: Sequence[tuple[str, str]],
    password: str,
) -> str:
    """The `<vspaccess>` document to send as the form field `XML`, signed, without password."""
    for name, _ in parameters:
        if not name.isalnum() or name.lower() in (*REPORTING_HEADER_ELEMENTS, "password"):
            raise ValueError(f"invalid Reporting API parameter name: {name!r}")
    signature = compute_reporting_signature(
        command=command, vendor=vendor, user=user, parameters=parameters, password=password
    )
    head = _element("command", command) + _element("vendor", vendor) + _element("user", user)
    body = "".join(_element(name, value) for name, value in parameters)
    return f"<vspaccess>{head}{body}{_element('signature', signature)}</vspaccess>"


def verify_reporting_signature(
    *,
    command: str,
    vendor: str,
    user: str,
    parameters: Sequence[tuple[str, str]],
    password: str,
    signature: str,
) -> bool:
    """True when `signature` signs this request with `password` (constant-time)."""
    expected = compute_reporting_signature(
        command=command, vendor=vendor, user=user, parameters=parameters, password=password
    )
    return signatures_match(expected, signature)
