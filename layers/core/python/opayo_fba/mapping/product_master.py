"""The product master: internal attributes of each SKU (HS code, cost, ledger category...).

Line rules see a line's record as `product`, so a template can extend each OrderLine with
what SP-API has no field for. The master is a CSV export or a DynamoDB table, chosen by
configuration, behind one small interface so the engine never knows which.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from opayo_fba.errors import ConfigurationError, UpstreamError

ProductRecord = Mapping[str, Any]


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal: whole ones become int, others exact text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, list | set):
        return [_plain(item) for item in value]
    return value


class ProductMaster(Protocol):
    def attributes_for(self, skus: Sequence[str]) -> Mapping[str, ProductRecord]:
        """The record of each SKU that the master knows; unknown SKUs are simply absent."""
        ...


class InMemoryProductMaster:
    """A product master from a dict: for tests and for callers that already hold the data."""

    def __init__(self, records: Mapping[str, ProductRecord]) -> None:
        self._records = dict(records)

    def attributes_for(self, skus: Sequence[str]) -> Mapping[str, ProductRecord]:
        return {sku: self._records[sku] for sku in skus if sku in self._records}


class CsvProductMaster(InMemoryProductMaster):
    """A CSV export with a header row; one column holds the SKU. Empty cells are left out."""

    def __init__(self, path: str | Path, *, sku_column: str = "sku") -> None:
        path = Path(path)
        records: dict[str, dict[str, str]] = {}
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                if reader.fieldnames is None or sku_column not in reader.fieldnames:
                    raise ConfigurationError(
                        f"product master {path}: no {sku_column!r} column in the header "
                        f"({', '.join(reader.fieldnames or [])}); pass sku_column=<name>"
                    )
                for row_number, row in enumerate(reader, start=2):
                    sku = (row.get(sku_column) or "").strip()
                    if not sku:
                        raise ConfigurationError(
                            f"product master {path}, row {row_number}: the {sku_column!r} "
                            "cell is empty"
                        )
                    if sku in records:
                        raise ConfigurationError(
                            f"product master {path}, row {row_number}: SKU {sku!r} appears twice"
                        )
                    records[sku] = {
                        name: value.strip()
                        for name, value in row.items()
                        if name is not None and value is not None and value.strip()
                    }
        except OSError as error:
            raise ConfigurationError(f"product master {path} cannot be read: {error}") from None
        super().__init__(records)


class DynamoDbProductMaster:
    """A DynamoDB table keyed by SKU (partition key only), read with BatchGetItem.

    Records are cached for the life of the instance (a Lambda container), so each SKU costs
    one read per cold start; create a new instance to see changes sooner.
    """

    _BATCH = 100  # BatchGetItem's limit
    _ATTEMPTS = 5

    def __init__(self, table_name: str, *, sku_attribute: str = "sku", client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._client = client
        self._table = table_name
        self._key = sku_attribute
        self._cache: dict[str, ProductRecord | None] = {}

    def attributes_for(self, skus: Sequence[str]) -> Mapping[str, ProductRecord]:
        missing = sorted({sku for sku in skus if sku not in self._cache})
        for start in range(0, len(missing), self._BATCH):
            batch = missing[start : start + self._BATCH]
            found = self._fetch(batch)
            for sku in batch:
                self._cache[sku] = found.get(sku)
        return {sku: record for sku in skus if (record := self._cache.get(sku)) is not None}

    def _fetch(self, skus: list[str]) -> dict[str, ProductRecord]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        request: dict[str, Any] = {self._table: {"Keys": [{self._key: {"S": sku}} for sku in skus]}}
        found: dict[str, ProductRecord] = {}
        for _attempt in range(self._ATTEMPTS):
            reply = self._client.batch_get_item(RequestItems=request)
            for item in reply.get("Responses", {}).get(self._table, []):
                record = {
                    name: _plain(deserializer.deserialize(value)) for name, value in item.items()
                }
                found[str(record[self._key])] = record
            request = reply.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise UpstreamError(
            f"product master table {self._table}: DynamoDB left keys unprocessed after "
            f"{self._ATTEMPTS} attempts; retry the order"
        )
