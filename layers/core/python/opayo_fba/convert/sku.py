"""SKU mapping: our internal SKU <-> Amazon seller SKU (and ASIN), from a mapping table.

The table is data the merchant owns (a CSV exported from the ERP, or rows from the store);
this module only validates it and answers lookups in both directions. An unknown SKU is an
error that names the SKU, never a silent pass-through: sending Amazon a SKU it does not know
fails the fulfillment order much later and much less clearly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from opayo_fba.errors import InvalidInputError, NotFoundError
from opayo_fba.model.common import Asin, Sku


class UnknownSkuError(NotFoundError, KeyError):
    """A SKU (internal or seller) is not in the mapping table."""

    def __init__(self, kind: str, sku: str) -> None:
        self.kind = kind
        self.sku = sku
        super().__init__(f"unknown {kind} {sku!r}: add it to the SKU mapping table")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class SkuMappingError(InvalidInputError, ValueError):
    """The mapping table itself is inconsistent (duplicates, missing columns)."""


class SkuMappingRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    internal_sku: Sku
    seller_sku: Sku
    asin: Asin | None = None


class SkuMapping:
    """A validated, bidirectional SKU mapping. Both directions must be one-to-one."""

    def __init__(self, rows: Iterable[SkuMappingRow]) -> None:
        self._to_seller: dict[str, SkuMappingRow] = {}
        self._to_internal: dict[str, SkuMappingRow] = {}
        self._by_asin: dict[str, list[SkuMappingRow]] = {}
        for row in rows:
            for index, key, kind in (
                (self._to_seller, row.internal_sku, "internal_sku"),
                (self._to_internal, row.seller_sku, "seller_sku"),
            ):
                if key in index:
                    raise SkuMappingError(f"{kind} {key!r} appears twice in the SKU mapping")
                index[key] = row
            if row.asin is not None:
                self._by_asin.setdefault(row.asin, []).append(row)

    @classmethod
    def from_pairs(cls, pairs: dict[str, str]) -> SkuMapping:
        """From {internal_sku: seller_sku}."""
        return cls(SkuMappingRow(internal_sku=k, seller_sku=v) for k, v in pairs.items())

    @classmethod
    def from_csv(cls, text: str) -> SkuMapping:
        """From CSV with a header row: internal_sku, seller_sku and optionally asin."""
        reader = csv.DictReader(io.StringIO(text))
        missing = {"internal_sku", "seller_sku"} - set(reader.fieldnames or ())
        if missing:
            raise SkuMappingError(
                f"SKU mapping CSV lacks column(s) {', '.join(sorted(missing))}; "
                "the header must be internal_sku,seller_sku[,asin]"
            )
        rows = []
        for number, record in enumerate(reader, start=2):
            try:
                rows.append(
                    SkuMappingRow(
                        internal_sku=record["internal_sku"],
                        seller_sku=record["seller_sku"],
                        asin=record.get("asin") or None,
                    )
                )
            except ValueError as error:
                raise SkuMappingError(f"SKU mapping CSV line {number}: {error}") from error
        return cls(rows)

    def __len__(self) -> int:
        return len(self._to_seller)

    def seller_sku(self, internal_sku: str) -> str:
        return self.row_for_internal(internal_sku).seller_sku

    def internal_sku(self, seller_sku: str) -> str:
        return self.row_for_seller(seller_sku).internal_sku

    def asin(self, internal_sku: str) -> str | None:
        return self.row_for_internal(internal_sku).asin

    def internal_skus_for_asin(self, asin: str) -> list[str]:
        """Every internal SKU listed under `asin`, in table order. One ASIN may carry several
        seller SKUs (conditions, bundles), so this is a list; an unknown ASIN raises."""
        rows = self._by_asin.get(asin.strip().upper())
        if not rows:
            raise UnknownSkuError("ASIN", asin)
        return [row.internal_sku for row in rows]

    def row_for_internal(self, internal_sku: str) -> SkuMappingRow:
        try:
            return self._to_seller[internal_sku]
        except KeyError:
            raise UnknownSkuError("internal SKU", internal_sku) from None

    def row_for_seller(self, seller_sku: str) -> SkuMappingRow:
        try:
            return self._to_internal[seller_sku]
        except KeyError:
            raise UnknownSkuError("Amazon seller SKU", seller_sku) from None

    def missing(self, internal_skus: Iterable[str]) -> list[str]:
        """The internal SKUs of `internal_skus` that have no mapping, in order, once each."""
        return list(dict.fromkeys(s for s in internal_skus if s not in self._to_seller))
