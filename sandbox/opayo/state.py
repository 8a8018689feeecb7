"""The Opayo sandbox's records, kept in the shared StateStore (memory, optionally SQLite).

Kinds: `transaction` (keyed by transactionId), `vendor_tx_code` (uniqueness index),
`merchant_session_key`, `card_identifier`, `notification`, `batch`, `meta` (sequences), and
the indexes `pending_registration` and `pending_notification`. No card number is ever stored:
card records hold type, last four and expiry.
"""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import datetime
from typing import Any

from sandbox.common.store import StateStore

TRANSACTION = "transaction"
VENDOR_TX_CODE = "vendor_tx_code"
MERCHANT_SESSION_KEY = "merchant_session_key"
CARD_IDENTIFIER = "card_identifier"
NOTIFICATION = "notification"
# Small indexes the notification thread scans many times a second, instead of everything.
PENDING_REGISTRATION = "pending_registration"
PENDING_NOTIFICATION = "pending_notification"
BATCH = "batch"
META = "meta"

Record = dict[str, Any]


def new_transaction_id() -> str:
    """Opayo's transaction ids are GUIDs; the Server protocol wraps the same GUID in braces."""
    return str(uuid.uuid4()).upper()


# rule: OPAYO-SRV-03
def vps_tx_id(transaction_id: str) -> str:
    return "{" + transaction_id + "}"


def transaction_id_from_vps(value: str) -> str:
    return value.strip().strip("{}").upper()


# rule: OPAYO-SRV-04
def new_security_key() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10))


def new_token() -> str:
    return str(uuid.uuid4()).upper()


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


class OpayoState:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def transaction(self, transaction_id: str) -> Record | None:
        return self.store.get(TRANSACTION, transaction_id.upper())

    def transaction_by_vendor_tx_code(self, vendor_tx_code: str) -> Record | None:
        index = self.store.get(VENDOR_TX_CODE, vendor_tx_code)
        return self.transaction(index["transactionId"]) if index else None

    def transactions(self) -> list[Record]:
        return sorted(self.store.all(TRANSACTION), key=lambda tx: tx["sequence"])

    def save_transaction(self, record: Record) -> None:
        self.store.put(TRANSACTION, record["transactionId"], record)

    def claim_vendor_tx_code(self, vendor_tx_code: str, transaction_id: str) -> bool:
        """Reserve a vendorTxCode for a new transaction; False when it was used before."""
        with self.store.transaction():
            if self.store.get(VENDOR_TX_CODE, vendor_tx_code) is not None:
                return False
            self.store.put(VENDOR_TX_CODE, vendor_tx_code, {"transactionId": transaction_id})
            return True

    def next_sequence(self, name: str) -> int:
        with self.store.transaction():
            meta = self.store.get(META, "sequences") or {}
            value = int(meta.get(name, 0)) + 1
            meta[name] = value
            self.store.put(META, "sequences", meta)
            return value

    def meta(self, key: str) -> Record:
        return self.store.get(META, key) or {}

    def put_meta(self, key: str, value: Record) -> None:
        self.store.put(META, key, value)
