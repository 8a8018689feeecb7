"""DynamoDB's conditional writes are atomic per item; moto's are not under threads.

moto's `put_item`, `update_item`, `delete_item`, `transact_write_items` and
`batch_write_item` read the item, evaluate the condition and store the new one in plain
Python, so a thread switch between the check and the store lets two writers that read the
same version both succeed: a lost update that DynamoDB never allows. With many execution
environments writing one table through the runtime's moto server at once, that happens (the
soak saw an order's recorded outcome overwritten by a version-checked write that had read the
item before it). `serialise()` makes every DynamoDB write of this process's moto backends run
one at a time, which is what DynamoDB guarantees for the writes we rely on.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_LOCK = threading.RLock()
_MARK = "_opayo_fba_serialised"


def serialise() -> None:
    """Wrap moto's DynamoDB backend writes in one lock (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, _MARK, False):
            continue

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _LOCK:
                return _original(self, *args, **kwargs)

        functools.update_wrapper(locked, original)
        setattr(locked, _MARK, True)
        setattr(DynamoDBBackend, name, locked)
