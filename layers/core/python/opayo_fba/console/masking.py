"""Personal data as lists show it: enough to tell two orders apart, not enough to read it.

An order's own page shows its customer in full (it is where support looks); every list,
and anything a list's screenshot could carry, shows these masks instead. Documents the
console did not write (a dead letter's body) are masked whole (`mask_document`, `mask_body`):
secrets hidden, personal fields masked, card numbers removed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from opayo_fba.card_numbers import mask_card_numbers, mask_value


def mask_word(word: str) -> str:
    """`Jane` -> `J***`: the first letter and a star for each other (at least one)."""
    if not word:
        return ""
    return word[0] + "*" * max(1, len(word) - 1)


def mask_name(name: str | None) -> str:
    """`Jane Doe` -> `J*** D**`."""
    if not name:
        return ""
    return " ".join(mask_word(part) for part in name.split())


def mask_email(email: str | None) -> str:
    """`jane@example.com` -> `j***@e******.com`: the first letter of the mailbox and of the
    domain, and the top-level domain."""
    if not email or "@" not in email:
        return mask_word(email or "")
    mailbox, _, domain = email.rpartition("@")
    host, dot, tld = domain.rpartition(".")
    if not dot:
        return f"{mask_word(mailbox)}@{mask_word(domain)}"
    return f"{mask_word(mailbox)}@{mask_word(host)}.{tld}"


# A message's fields whose values are never shown (keys compared lowercase, without - and _):
# signatures, keys and tokens of any kind.
_SECRET_KEYS = (
    "secret", "password", "token", "signature", "securitykey", "sessionkey", "cardidentifier",
    "authorization", "apikey", "sealed", "credential", "cvv", "cv2",
)  # fmt: skip
# Fields that hold a person's data: everything under them is masked word by word.
_PERSON_KEYS = (
    "name", "email", "address", "street", "line1", "line2", "line3", "city", "postcode",
    "postalcode", "zip", "phone", "mobile", "telephone", "county", "recipient", "buyer",
    "customer", "shopper", "billing", "delivery", "shipping",
)  # fmt: skip
# ... except these, which name things, not people.
_NOT_PERSONS = frozenset(
    {"vendorname", "eventname", "queuename", "rulename", "schedulename", "statename",
     "notificationname", "marketplacename", "shippingspeedcategory", "deliverywindow",
     "shippingmethod", "displayableordercomment"}
)  # fmt: skip
HIDDEN = "[hidden]"
_EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[A-Za-z]{2,}")


def _key(name: object) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def mask_text(text: str) -> str:
    """Free text: card numbers removed, e-mail addresses masked (names in prose cannot be
    told from other words; the fields that hold names are masked by `mask_document`)."""
    return _EMAIL.sub(lambda found: mask_email(found.group()), mask_card_numbers(text))


def _mask_person(value: Any) -> Any:
    if isinstance(value, str):
        return mask_email(value) if "@" in value else mask_name(mask_card_numbers(value))
    if isinstance(value, dict):
        return {str(k): _mask_person(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_person(v) for v in value]
    return mask_value(value)


def mask_document(value: Any) -> Any:
    """A copy of a decoded JSON document fit for a list: secret fields hidden, personal
    fields masked (at any depth), card numbers removed and e-mails masked everywhere else.
    A string that is itself a JSON object or array (an SNS or EventBridge envelope's) is
    decoded and masked the same way."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            key = _key(name)
            label = mask_text(str(name))
            if any(secret in key for secret in _SECRET_KEYS):
                out[label] = HIDDEN if item not in (None, "") else item
            elif key not in _NOT_PERSONS and any(person in key for person in _PERSON_KEYS):
                out[label] = _mask_person(item)
            else:
                out[label] = mask_document(item)
        return out
    if isinstance(value, list):
        return [mask_document(item) for item in value]
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                return mask_document(json.loads(stripped))
            except ValueError:
                pass
        return mask_text(value)
    return mask_value(value)


def mask_body(body: str) -> tuple[str, bool]:
    """A message body as a list shows it: JSON pretty-printed and masked by `mask_document`,
    anything else masked as free text. And whether it was JSON."""
    try:
        document = json.loads(body)
    except ValueError:
        return mask_text(body), False
    return json.dumps(mask_document(document), indent=2, ensure_ascii=False, sort_keys=False), True
