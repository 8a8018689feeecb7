"""The demo's driver polls each order in short slices: an order that ships between two looks
still gets its nudge (the return asked for) before its scenario counts as ended. A slow look
used to let the slice's last fetch see the order shipped, call it finished, and never ask
for the return (the keep-up e2e test caught it on a loaded machine)."""

from __future__ import annotations

from typing import Any

from demo.scenarios import Expectation, Scenario, settled, wait_for


class _Orders:
    """Stands in for the API: the order reads as placed until `ships_after` looks."""

    def __init__(self, ships_after: int) -> None:
        self.looks = 0
        self.ships_after = ships_after

    def order(self, order_id: str) -> dict[str, Any]:
        self.looks += 1
        shipped = self.looks > self.ships_after
        history = [{"event": "shipped"}] if shipped else []
        return {"id": order_id, "status": "shipped" if shipped else "placed", "history": history}


def _scenario(nudges: list[str]) -> Scenario:
    def nudge(_ctx: Any, s: Scenario, order: dict[str, Any]) -> bool:
        if order["status"] != "shipped":
            return False
        nudges.append(s.order_id)
        return True

    return Scenario(
        "return",
        "DEMO-RETURN",
        Expectation("returned", None, captures=1, refunds=1, fulfillment_orders=1),
        start=lambda _ctx, _s: None,
        nudge=nudge,
    )


def test_an_order_shipping_at_the_slices_end_is_nudged_before_it_counts_as_ended() -> None:
    nudges: list[str] = []
    scenario = _scenario(nudges)
    orders = _Orders(ships_after=1)
    nudged: set[str] = set()
    # The deadline has passed: each call looks once. The first look sees it placed.
    first = wait_for(orders, scenario, 0.0, nudged)  # type: ignore[arg-type]
    assert not settled(scenario, first, nudged)
    second = wait_for(orders, scenario, 0.0, nudged)  # type: ignore[arg-type]
    assert nudges == ["DEMO-RETURN"]
    assert settled(scenario, second, nudged)


def test_a_nudge_that_has_done_its_work_is_not_repeated_across_slices() -> None:
    nudges: list[str] = []
    scenario = _scenario(nudges)
    orders = _Orders(ships_after=0)
    nudged: set[str] = set()
    for _ in range(3):
        wait_for(orders, scenario, 0.0, nudged)  # type: ignore[arg-type]
    assert nudges == ["DEMO-RETURN"]


def test_a_shipped_order_whose_nudge_has_not_run_has_not_ended_its_scenario() -> None:
    scenario = _scenario([])
    shipped = {"status": "shipped", "history": [{"event": "shipped"}]}
    assert not settled(scenario, shipped, set())
    assert settled(scenario, shipped, {"DEMO-RETURN"})
