"""Scheduled jobs: each does what its name says, and a function runs a follow-up step (the
journal) after its job, with one reply holding both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from opayo_fba import lambda_support
from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import journal_ready
from opayo_fba.settings import VARIABLES, Settings, forget_settings
from opayo_fba.wiring import Wiring


@dataclass
class _Context:
    function_name: str = "report_poller"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:111111111111:function:report_poller"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture(autouse=True)
def _plain_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    forget_settings()
    lambda_support.wiring.cache_clear()
    yield
    forget_settings()
    lambda_support.wiring.cache_clear()


def test_the_journal_step_is_skipped_without_a_chart_of_accounts() -> None:
    assert journal_ready(Wiring(Settings())) == {
        "journal": "skipped: no chart of accounts (set chartOfAccounts in cdk.json)"
    }


def test_a_follow_up_step_runs_after_the_job_on_the_same_wiring() -> None:
    seen: list[tuple[str, Wiring]] = []

    def poll(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
        seen.append(("poll", w))
        return {"archived": 2}

    def journal(w: Wiring) -> dict[str, Any]:
        seen.append(("journal", w))
        return {"journal": "written"}

    handler = scheduled_handler(poll, Settings, then=journal)
    assert handler({"sellerAccountId": "uk-main"}, _Context()) == {
        "archived": 2,
        "journal": "written",
    }
    assert [step for step, _ in seen] == ["poll", "journal"]
    assert seen[0][1] is seen[1][1]
    assert handler.__name__ == "poll_handler"


def test_a_job_without_a_follow_up_replies_with_its_own_summary() -> None:
    def poll(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
        return {"archived": 0}

    assert scheduled_handler(poll, Settings)({}, _Context()) == {"archived": 0}
