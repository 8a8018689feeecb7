"""moto's DynamoDB reads sort with its own comparison methods; the local runtime's are keys.

moto's `Table.all_items` (every Query and Scan starts from it) sorts the whole table by its
key attributes, and `Table.sorted_items` (every Query of an index) sorts what matched, both
with the `DynamoType` objects themselves as sort keys, so each comparison runs
`DynamoType.__eq__`/`__lt__` in Python and computes `cast_value` (a property that asks
`is_number`, `is_set`, `is_list`... each time) twice. A Query of the orders' by-account index
with 10,000 orders in one account made about 100,000 such comparisons: 450 ms in moto alone,
more than the console's whole budget for the Orders page.

`faster_sorts()` gives both the same order with plain sort keys: a key attribute is a
string, a number or a binary (DynamoDB's key types), and moto orders it by `cast_value`,
which is the string itself, `Decimal(value)` for a number, and the base64 text for a binary;
here the key is exactly that value, computed once per item. Nothing else of moto's reads
changes (which items match, filters, projections, pages, deep copies of what it returns).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

_MARK = "_opayo_fba_faster_sorts"


def sort_value(value: Any) -> Any:
    """What moto's `DynamoType.__lt__` compares for a key attribute (its `cast_value`)."""
    return Decimal(value.value) if value.type == "N" else value.value


def faster_sorts() -> None:
    """Patch moto's Table.all_items and Table.sorted_items to sort by plain keys
    (idempotent); same order as moto's own."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.all_items, _MARK, False):
        return
    original_all, original_sorted = Table.all_items, Table.sorted_items

    def all_items(self: Any) -> list[Any]:
        items: list[Any] = []
        for hash_set in self.items.values():
            if self.range_key_attr:
                items.extend(hash_set.values())
            else:
                items.append(hash_set)
        if self.range_key_attr:
            items.sort(
                key=lambda x: (
                    (sort_value(x.hash_key), sort_value(x.range_key))
                    if x.range_key
                    else (sort_value(x.hash_key),)
                )
            )
        else:
            items.sort(key=lambda x: sort_value(x.hash_key))
        return items

    def sorted_items(
        self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]
    ) -> list[Any]:
        names = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda x: tuple([sort_value(x.attrs[name]) for name in names]))
        return items

    for name, patched, original in (
        ("all_items", all_items, original_all),
        ("sorted_items", sorted_items, original_sorted),
    ):
        functools.update_wrapper(patched, original)
        setattr(patched, _MARK, True)
        setattr(Table, name, patched)
