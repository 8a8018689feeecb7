"""A saga that ended badly, whose recovery kept failing until EventBridge gave up: the event
in the recovery rule's dead-letter queue, replayed from the console's Dead letters page in a
real browser (Playwright driving Chromium) once the cause is gone. The recovery then makes
the order right, judged on Opayo's sandbox: the authorisation aborted.

The failures are made as tests/e2e/test_timeouts_and_crashes.py makes them: the abort step
and the recovery are stopped right after they read the transaction at Opayo, every time, so
the execution fails and each of the rule's deliveries fails; the local runtime retries as the
rule's RetryPolicy says, then sends the event to the rule's DeadLetterConfig queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import boto3
import pytest
from playwright.sync_api import Page, expect

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from local_runtime.lambda_bridge import InProcessLambdas
from tests.e2e.browser import origin, screenshot, sign_in
from tests.fixtures.polling import until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REGION = "eu-west-2"
ORDER_ID = "CONSOLE-REPLAY"
GET_TRANSACTION = r"^/api/v1/transactions/[^/]+$"
T = TypeVar("T")


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture(scope="module")
def lambdas(environment: LocalEnvironment) -> Iterator[InProcessLambdas]:
    runtime = environment.runtime
    assert runtime is not None
    yield runtime.lambdas
    runtime.lambdas.clear_crashes()


@pytest.fixture(scope="module")
def recovery_dlq(demo: DemoContext, lambdas: InProcessLambdas) -> tuple[str, str]:
    """The order's ended-badly event in the recovery rule's DLQ: (queue name, queue URL)."""
    sqs = boto3.client("sqs", REGION)
    [url] = [u for u in sqs.list_queues().get("QueueUrls", []) if "RecoveryDlq" in u]
    assert _depth(sqs, url) == 0
    lambdas.crash_after("saga_abort_payment", "GET", GET_TRANSACTION, times=None)
    lambdas.crash_after("saga_recovery", "GET", GET_TRANSACTION, times=None)
    msk, card = demo.card_identifier()
    reply = demo.submit(
        sample_order(ORDER_ID, sku="OPF-OUT-OF-STOCK", unit=1500, qty=1),
        {
            "type": "pi_card",
            "merchantSessionKey": msk,
            "cardIdentifier": card,
            "strongCustomerAuthentication": BROWSER_DATA,
        },
    )
    assert reply.status_code == 201, reply.text[:300]
    until("the event in the recovery DLQ", lambda: _depth(sqs, url) == 1, seconds=240)
    held = demo.opayo_transaction(f"PAY-{ORDER_ID}")
    assert held["status"] == "Ok"
    assert not held.get("aborted")  # nobody gave the money back: the operator must
    return url.rsplit("/", 1)[-1], url


def test_a_recovery_event_replayed_from_the_console_aborts_the_authorisation(
    page: Page,
    console: str,
    demo: DemoContext,
    lambdas: InProcessLambdas,
    recovery_dlq: tuple[str, str],
    watched: dict[str, list[Any]],
) -> None:
    name, url = recovery_dlq
    sqs = boto3.client("sqs", REGION)
    sign_in(page, console)
    page.goto(f"{origin(console)}/dead-letters/{name}")
    letter = page.locator("article.letter")
    expect(letter).to_have_count(1)
    expect(letter.locator("pre.body")).to_contain_text("Step Functions Execution Status Change")
    expect(page.locator("main")).to_contain_text("SagaRecoveryFunction")

    lambdas.clear_crashes()  # the cause is gone (Opayo answers; the functions run through)
    page.get_by_role("link", name="Replay this message…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Replay one message?")
    assert _depth(sqs, url) == 1  # asking ran nothing
    screenshot(page, "replay-confirm")
    page.get_by_role("button", name="Yes, replay this message").click()
    expect(page.get_by_role("status")).to_contain_text(f"took 1 message of {name}")
    expect(page.locator("dd.depth")).to_have_text("0")
    assert _depth(sqs, url) == 0

    # Judged on Opayo's own record: the authorisation the failed saga held is released.
    assert demo.opayo_transaction(f"PAY-{ORDER_ID}").get("aborted")
    order = demo.order(ORDER_ID)
    assert order["outcome"] == "execution_failed"
    assert "execution_recovered" in [entry["event"] for entry in order["history"]]
