"""Field-level encryption for per-order secrets (an Opayo Server SecurityKey).

The orders table is encrypted at rest, but every function that reads orders could read a
SecurityKey there, and a SecurityKey is all it takes to forge a notification. So it is sealed
with its own KMS key: the order intake may only encrypt; the webhook (to verify
notifications) and the saga's capture, abort and refund steps (the Shared Protocol quotes the
key) may decrypt, and no other function. The order id is the encryption context, so a
ciphertext copied onto another order does not open.
"""

from __future__ import annotations

import base64
from typing import Any


class KmsSealer:
    def __init__(self, key_id: str, client: Any = None) -> None:
        if not key_id:
            raise ValueError("a KMS key id or ARN is required")
        if client is None:
            import boto3

            client = boto3.client("kms")
        self._client = client
        self._key_id = key_id

    def seal(self, plaintext: str, order_id: str) -> str:
        blob = self._client.encrypt(
            KeyId=self._key_id,
            Plaintext=plaintext.encode("utf-8"),
            EncryptionContext={"orderId": order_id},
        )["CiphertextBlob"]
        return base64.b64encode(blob).decode("ascii")

    def unseal(self, sealed: str, order_id: str) -> str:
        plaintext: bytes = self._client.decrypt(
            KeyId=self._key_id,
            CiphertextBlob=base64.b64decode(sealed),
            EncryptionContext={"orderId": order_id},
        )["Plaintext"]
        return plaintext.decode("utf-8")
