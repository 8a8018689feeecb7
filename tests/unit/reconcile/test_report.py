from __future__ import annotations

import re

from defusedxml.ElementTree import fromstring

from opayo_fba.reconcile.report import bar_chart


def test_bars_are_scaled_escaped_and_negative_ones_extend_left() -> None:
    svg = bar_chart(
        "Fees <GBP>",
        [("<script>alert(1)</script>", -50, "-0.50 GBP"), ("sales & more", 100, "1.00 GBP")],
    )
    root = fromstring(svg)  # well-formed XML: every label was escaped
    assert "<script>" not in svg
    rects = [el for el in root.iter() if el.tag.endswith("rect")]
    negative, positive = ((int(r.get("x", "0")), int(r.get("width", "0"))) for r in rects)
    assert positive[1] == 2 * negative[1]
    assert negative[0] + negative[1] == positive[0]  # both start from the zero line
    assert re.search(r"fill=\"#c62828\"", svg)


def test_an_empty_chart_says_so() -> None:
    assert "nothing to show" in bar_chart("Nothing", [])


def test_all_negative_bars_use_the_whole_width_and_alerts_stand_out() -> None:
    svg = bar_chart("Fees", [("a", -10, "x"), ("b", -5, "y")], alert=frozenset({"b"}))
    rects = [el for el in fromstring(svg).iter() if el.tag.endswith("rect")]
    ends = {int(r.get("x", "0")) + int(r.get("width", "0")) for r in rects}
    assert len(ends) == 1  # both end at the zero line on the right
    widths = [int(r.get("width", "0")) for r in rects]
    assert widths[0] == 2 * widths[1]
    assert [r.get("fill") for r in rects] == ["#c62828", "#b54708"]
