"""How the sandbox signs its Server notifications, written from the public sources on its own
(not imported from the connector it tests, so a mistake on one side shows on the other).

Order of the signed fields: docs/reference/opayo.md and omnipay-sagepay's
`src/Traits/ServerNotifyTrait.php` (`buildSignature`). A successful TOKEN registration
(`TxType=TOKEN`, `Status=OK`) is signed differently (same file): the VPSTxId without its
braces, and nothing after the SecurityKey. An aborted TOKEN registration is signed as a
transaction is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

_HEAD = ("VPSTxId", "VendorTxCode", "Status", "TxAuthNo")
_TAIL = (
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


# rule: OPAYO-NTF-10
def sign_notification(fields: Mapping[str, str], *, vendor: str, security_key: str) -> str:
    """The VPSSignature Opayo sends with `fields` (upper-case MD5 hex)."""
    token_ok = fields.get("TxType") == "TOKEN" and fields.get("Status") == "OK"
    head = [fields.get(name, "") for name in _HEAD]
    # rule: OPAYO-NTF-11
    if token_ok:
        head[0] = head[0].replace("{", "").replace("}", "")
    parts = [
        *head,
        vendor.lower(),
        fields.get("AVSCV2", ""),
        fields.get("Token", "") if fields.get("TxType") == "TOKEN" else "",
        security_key,
    ]
    if not token_ok:
        parts.extend(fields.get(name, "") for name in _TAIL)
    # Every signed field is ASCII; Latin-1 keeps a stray accent from failing the sandbox.
    return hashlib.md5("".join(parts).encode("latin-1", "replace")).hexdigest().upper()
