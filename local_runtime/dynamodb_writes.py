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

import copy
import functools
import threading
from typing import Any

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_LOCK = threading.RLock()
_MARK = "_opayo_fba_serialised"
_CHEAP_MARK = "_opayo_fba_cheap_backups"


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


class _ItemsBackup:
    """Stands in for the `copy` module inside moto's `transact_write_items`, which backs a
    transaction up with `copy.deepcopy` of each whole table it names: O(table) per write,
    so with every order write a transaction (its daily rollup, store/daily_rollup.py) the
    10,000th order took seconds to store. Here the backup is a shallow copy of the table
    whose item map is new, with deep copies of only the items the transaction names (the
    only ones it can change: moto's update_item changes an item in place). moto restores
    that backup when the transaction is cancelled, as it would its deep copy."""

    def __init__(self, targets: dict[str, set[Any]]) -> None:
        self._targets = targets

    def deepcopy(self, table: Any) -> Any:
        from moto.dynamodb.models.table import Table

        if not isinstance(table, Table):  # an item: update_item keeps its old self
            return copy.deepcopy(table)
        backup = copy.copy(table)
        items = copy.copy(table.items)  # the defaultdict, its values shared...
        for hash_key in self._targets.get(table.name, set()):
            if hash_key in table.items:  # ...but for the items this transaction names
                items[hash_key] = copy.deepcopy(table.items[hash_key])
        backup.items = items
        return backup


def cheap_transaction_backups() -> None:
    """Make moto's TransactWriteItems back up only the items it names (idempotent). Run
    under `serialise()`'s lock, as the runtime does, so nothing else writes meanwhile."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items
    if getattr(original, _CHEAP_MARK, False):
        return

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        targets: dict[str, set[Any]] = {}
        for action in transact_items:
            for op in action.values():
                table = self.tables.get(op.get("TableName"))
                key = op.get("Key") or op.get("Item") or {}
                if table is not None and table.hash_key_attr in key:
                    hash_key = DynamoType(key[table.hash_key_attr])
                    targets.setdefault(table.name, set()).add(hash_key)
        with _LOCK:
            setattr(models, "copy", _ItemsBackup(targets))  # noqa: B010 - moto's own name
            try:
                return original(self, transact_items)
            finally:
                setattr(models, "copy", copy)  # noqa: B010

    functools.update_wrapper(transact, original)
    setattr(transact, _MARK, getattr(original, _MARK, False))
    setattr(transact, _CHEAP_MARK, True)
    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
