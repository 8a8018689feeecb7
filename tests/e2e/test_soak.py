"""The soak, small: every scenario at once, faults on every mutating call and crashes of our
own functions after their side effects, judged on the sandboxes' records (demo/soak.py).

`bench/soak.py` runs the same thing at 300 orders and prints its figures; this keeps the
invariants in `make test` at a size the suite can afford.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.soak import KINDS, SoakOptions, run_soak


@pytest.mark.e2e
def test_orders_under_fire_end_with_the_money_right_and_no_card_number_kept(
    template_path: Path,
) -> None:
    report = run_soak(
        SoakOptions(template=template_path, orders=24, seed=7, concurrency=8, timeout=600.0)
    )
    assert report.violations == []
    assert report.card_numbers == []
    assert len(report.ended) == 24
    # Every scenario ran, and the faults and crashes did fire (or the test proves nothing).
    assert {o.kind for o in report.orders} == set(KINDS)
    assert sum(v for k, v in report.faults_fired.items() if not k.startswith("crash")) >= 10
    assert any(k.startswith("crash") for k in report.faults_fired)
