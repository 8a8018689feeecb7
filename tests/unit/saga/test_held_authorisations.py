"""Deferred authorisations held too long: found by an index Query, alarmed, aborted by policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opayo_fba.model import Money, PaymentState
from opayo_fba.saga import steps
from opayo_fba.saga.held_authorisations import check_held_authorisations
from tests.fixtures.saga_world import World, authorised_payment, make_order

NOW = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)


def _held(world: World, order_id: str, days: float) -> None:
    payment = authorised_payment(order_id).model_copy(
        update={"created_at": NOW - timedelta(days=days)}
    )
    world.add_order(make_order(order_id), payment)


def _check(world: World, abort_days: int | None = None):  # type: ignore[no-untyped-def]
    return check_held_authorisations(
        "sandbox",
        world.deps,
        now=NOW,
        alarm_after=timedelta(days=6),
        abort_after=None if abort_days is None else timedelta(days=abort_days),
    )


def test_only_authorisations_held_past_the_alarm_age_are_counted(world: World) -> None:
    _held(world, "YOUNG", 2)
    _held(world, "OLD", 7)
    _held(world, "OLDER", 12)
    _held(world, "CAPTURED", 9)
    state = steps.create_fulfillment_order(
        steps.validate_and_map({"orderId": "CAPTURED"}, world.deps), world.deps
    )
    steps.capture_payment(state, world.deps)  # no longer held: leaves the index
    result = _check(world)
    assert (result.held_too_long, result.aborted, result.oldest_order_id) == (2, 0, "OLDER")
    assert world.opayo.aborts == []  # without a policy, it only alarms
    assert result.held_by_account == {"uk-main": 2}  # for HeldAuthorisations-<account>


def test_the_policy_aborts_only_those_past_its_limit(world: World) -> None:
    _held(world, "OLD", 7)
    _held(world, "OLDER", 26)
    result = _check(world, abort_days=25)
    assert (result.held_too_long, result.aborted) == (2, 1)
    assert world.opayo.aborts == ["TX-OLDER"]
    record = world.store.get("OLDER")
    assert record.payment.state is PaymentState.ABORTED
    assert record.outcome == "authorisation_expired"
    assert _check(world, abort_days=25).held_too_long == 1  # an aborted one leaves the index


def test_a_capture_opayo_made_is_recorded_not_aborted(world: World) -> None:
    _held(world, "OLDER", 26)
    world.opayo.releases.append(("TX-OLDER", 2500))
    result = _check(world, abort_days=25)
    assert (result.aborted, result.already_settled) == (0, 1)
    assert world.opayo.aborts == []
    assert world.store.get("OLDER").captured == Money(amount=2500, currency="GBP")


def test_a_policy_at_or_past_opayos_30_days_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="30 days"):
        _check(world, abort_days=30)


def test_the_check_queries_the_index_and_never_scans(world: World) -> None:
    _held(world, "OLD", 7)
    table = world.store.table
    calls: list[str] = []
    original_query, original_scan = table.query, table.scan
    table.query = lambda **kw: calls.append("query") or original_query(**kw)  # type: ignore[method-assign]
    table.scan = lambda **kw: calls.append("scan") or original_scan(**kw)  # type: ignore[method-assign]
    assert _check(world).held_too_long == 1
    assert calls == ["query"]
