"""SKU mapping both ways, with errors that name the SKU."""

from __future__ import annotations

import pytest

from opayo_fba.convert.sku import SkuMapping, SkuMappingError, SkuMappingRow, UnknownSkuError

CSV = """internal_sku,seller_sku,asin
WIDGET-RED,AMZ-WIDGET-RED,B00551Q3CS
WIDGET-BLUE,AMZ-WIDGET-BLUE,
"""


def test_both_directions_from_csv() -> None:
    mapping = SkuMapping.from_csv(CSV)
    assert len(mapping) == 2
    assert mapping.seller_sku("WIDGET-RED") == "AMZ-WIDGET-RED"
    assert mapping.internal_sku("AMZ-WIDGET-BLUE") == "WIDGET-BLUE"
    assert mapping.asin("WIDGET-RED") == "B00551Q3CS"
    assert mapping.asin("WIDGET-BLUE") is None
    assert mapping.missing(["WIDGET-RED", "GADGET", "GADGET", "X"]) == ["GADGET", "X"]
    assert mapping.internal_skus_for_asin("b00551q3cs") == ["WIDGET-RED"]
    with pytest.raises(UnknownSkuError, match="unknown ASIN 'B000000000'"):
        mapping.internal_skus_for_asin("B000000000")


def test_one_asin_may_have_several_skus() -> None:
    mapping = SkuMapping.from_csv(
        "internal_sku,seller_sku,asin\nA-NEW,AMZ-A-NEW,B00551Q3CS\nA-USED,AMZ-A-USED,B00551Q3CS\n"
    )
    assert mapping.internal_skus_for_asin("B00551Q3CS") == ["A-NEW", "A-USED"]


def test_unknown_sku_error_names_the_sku() -> None:
    mapping = SkuMapping.from_pairs({"A": "AMZ-A"})
    with pytest.raises(UnknownSkuError, match="unknown internal SKU 'GADGET-9'") as info:
        mapping.seller_sku("GADGET-9")
    assert info.value.sku == "GADGET-9"
    assert str(info.value) == "unknown internal SKU 'GADGET-9': add it to the SKU mapping table"
    with pytest.raises(UnknownSkuError, match="unknown Amazon seller SKU 'A'"):
        mapping.internal_sku("A")


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ({"A": "X", "B": "X"}, "seller_sku 'X' appears twice"),
    ],
)
def test_mapping_must_be_one_to_one(rows: dict[str, str], reason: str) -> None:
    with pytest.raises(SkuMappingError, match=reason):
        SkuMapping.from_pairs(rows)
    with pytest.raises(SkuMappingError, match="internal_sku 'A' appears twice"):
        SkuMapping(
            [
                SkuMappingRow(internal_sku="A", seller_sku="X"),
                SkuMappingRow(internal_sku="A", seller_sku="Y"),
            ]
        )


def test_bad_csv_names_the_problem() -> None:
    with pytest.raises(SkuMappingError, match="lacks column"):
        SkuMapping.from_csv("sku,amazon\nA,B\n")
    with pytest.raises(SkuMappingError, match="line 3"):
        SkuMapping.from_csv("internal_sku,seller_sku,asin\nA,B,\nC,D,not-an-asin\n")
    with pytest.raises(SkuMappingError, match="line 2"):
        SkuMapping.from_csv("internal_sku,seller_sku\n," + "x" * 60 + "\n")
