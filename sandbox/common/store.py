"""The sandboxes' state: in memory, optionally written through to a SQLite file.

Values are JSON documents grouped by kind ("fulfillment_order", "transaction", ...). One lock
serialises writes, which is what a single-process stand-in needs and keeps state changes
atomic with respect to each other.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class StateStore:
    def __init__(self, sqlite_path: str | None = None) -> None:
        self.lock = threading.RLock()
        self._data: dict[str, dict[str, dict[str, Any]]] = {}
        self._db: sqlite3.Connection | None = None
        if sqlite_path:
            self._db = sqlite3.connect(sqlite_path, check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS state ("
                " kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
                " PRIMARY KEY (kind, key))"
            )
            self._db.commit()
            for kind, key, value in self._db.execute("SELECT kind, key, value FROM state"):
                self._data.setdefault(kind, {})[key] = json.loads(value)

    @contextmanager
    def transaction(self) -> Iterator[StateStore]:
        """Hold the lock across a read-modify-write."""
        with self.lock:
            yield self

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self.lock:
            value = self._data.get(kind, {}).get(key)
            return json.loads(json.dumps(value)) if value is not None else None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        encoded = json.dumps(value, sort_keys=True, default=str)
        with self.lock:
            self._data.setdefault(kind, {})[key] = json.loads(encoded)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO state (kind, key, value) VALUES (?, ?, ?)",
                    (kind, key, encoded),
                )
                self._db.commit()

    def delete(self, kind: str, key: str) -> None:
        with self.lock:
            self._data.get(kind, {}).pop(key, None)
            if self._db is not None:
                self._db.execute("DELETE FROM state WHERE kind = ? AND key = ?", (kind, key))
                self._db.commit()

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(json.dumps(v)) for v in self._data.get(kind, {}).values()]

    def keys(self, kind: str) -> list[str]:
        with self.lock:
            return list(self._data.get(kind, {}))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
