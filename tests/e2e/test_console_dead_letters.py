"""The console's Dead letters page in a real browser (Playwright driving Chromium) against
the local runtime: a payment event dead-lettered for real, its queue's depth and its body
masked, the CSRF rule on the redrive form, and a confirmed redrive after which the depth is
0 and the order ships. The screenshots go to docs/console/.

The dead letter is made as tests/e2e/test_dlq_redrive.py makes it: the state machine is
deleted through the AWS API (moto), so starting the saga fails until it is deployed again.
A second, hand-made dead letter in the Amazon notifications' DLQ carries a buyer's name,
e-mail and a card number, so the masking is seen on personal data too.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import boto3
import pytest
from playwright.sync_api import Page, expect

from demo.scenarios import DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from opayo_fba.ops import dlq
from tests.e2e.browser import origin, screenshot, sign_in
from tests.fixtures.polling import until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REGION = "eu-west-2"
ORDER_ID, VENDOR_TX_CODE = "CONSOLE-DLQ", "SRV-CONSOLE-DLQ"
CARD = "4929000000006"
NOTIFICATION = {
    "NotificationType": "FULFILLMENT_ORDER_STATUS",
    "Payload": {
        "FulfillmentOrderStatusNotification": {
            "SellerFulfillmentOrderId": "CONSOLE-DLQ-X",
            "BuyerName": "Jane Doe",
            "BuyerEmail": "jane@example.com",
            "Comment": f"paid with {CARD}",
        }
    },
}
T = TypeVar("T")


@pytest.fixture(scope="module")
def sqs() -> Any:
    return boto3.client("sqs", REGION)


def _queue(sqs: Any, named: str) -> dlq.DeadLetterQueue:
    [queue] = [q for q in dlq.list_dead_letter_queues(sqs) if named in q.name]
    return queue


@pytest.fixture(scope="module")
def dead_lettered(environment: LocalEnvironment, demo: DemoContext, sqs: Any) -> Any:
    """A Server payment whose event is dead-lettered (the state machine is gone); yields the
    function that deploys the state machine again."""
    runtime = environment.runtime
    assert runtime is not None
    sfn = boto3.client("stepfunctions", REGION)
    machine_arn = next(iter(runtime.provisioned.state_machines.values()))
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn)
    sfn.delete_state_machine(stateMachineArn=machine_arn)  # the outage
    vps_tx_id, key = demo.register_server(VENDOR_TX_CODE, 1850)
    reply = demo.submit(
        sample_order(ORDER_ID, sku="OPF-TEE-M", unit=1850, qty=1),
        {
            "type": "server",
            "vendorTxCode": VENDOR_TX_CODE,
            "vpsTxId": vps_tx_id,
            "securityKey": key,
        },
    )
    assert reply.status_code == 201, reply.text
    demo.complete_server(vps_tx_id)
    until("the event in the dead-letter queue", lambda: _queue(sqs, "PaymentEvents").messages)
    notifications = _queue(sqs, "AmazonNotifications")
    sqs.send_message(QueueUrl=notifications.url, MessageBody=json.dumps(NOTIFICATION))

    def fix() -> None:
        sfn.create_state_machine(
            name=machine["name"], definition=machine["definition"], roleArn=machine["roleArn"]
        )

    return fix


def test_a_dead_letter_shows_with_its_depth_and_its_body_masked(
    page: Page, console: str, dead_lettered: Any, sqs: Any, watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Dead letters").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dead letters")
    payments = _queue(sqs, "PaymentEvents")
    row = page.locator(f'tr[data-queue="{payments.name}"]')
    expect(row.locator(".depth")).to_have_text("1")
    notifications = _queue(sqs, "AmazonNotifications")
    expect(page.locator(f'tr[data-queue="{notifications.name}"]')).to_be_visible()
    screenshot(page, "dead-letters")

    page.get_by_role("link", name=notifications.name).click()
    letter = page.locator("article.letter")
    expect(letter).to_have_count(1)
    expect(letter).to_contain_text("CONSOLE-DLQ-X")
    expect(letter).to_contain_text("j***@e******.com")
    expect(letter).to_contain_text('"BuyerName": "J*** D**"')
    expect(letter).to_contain_text("[card number removed]")
    main = page.locator("main")
    for never in ("jane@example.com", "Jane Doe", CARD):
        expect(main).not_to_contain_text(never)

    page.goto(f"{origin(console)}/dead-letters/{payments.name}")
    letter = page.locator("article.letter")
    expect(letter).to_have_count(1)
    expect(letter).to_contain_text(VENDOR_TX_CODE)  # the event, decoded
    expect(letter).to_contain_text("SQS does not say")  # SQS's own redrive records no error
    expect(letter.locator("pre.body")).to_contain_text('"vendor_tx_code"')
    expect(page.locator("main")).not_to_contain_text("4929")
    screenshot(page, "dead-letter-queue")


def test_redrive_without_the_csrf_token_is_refused_and_moves_nothing(
    page: Page, console: str, dead_lettered: Any, sqs: Any, watched: dict[str, list[Any]]
) -> None:
    sign_in(page, console)
    payments = _queue(sqs, "PaymentEvents")
    page.goto(f"{origin(console)}/dead-letters/{payments.name}")
    page.get_by_role("link", name="Redrive all messages…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Redrive {payments.name}?")
    page.locator("form.confirm input[name=csrf_token]").evaluate("field => field.remove()")
    page.get_by_role("button", name="Yes, redrive all").click()
    expect(page.locator("main")).to_contain_text("CSRF token is missing or wrong")
    assert _queue(sqs, "PaymentEvents").messages == 1


def test_a_confirmed_redrive_empties_the_queue_and_the_order_ships(
    page: Page,
    console: str,
    dead_lettered: Any,
    demo: DemoContext,
    sqs: Any,
    watched: dict[str, list[Any]],
) -> None:
    dead_lettered()  # the fix first: the state machine deployed again
    sign_in(page, console)
    payments = _queue(sqs, "PaymentEvents")
    page.goto(f"{origin(console)}/dead-letters/{payments.name}")
    page.get_by_role("link", name="Redrive all messages…").click()
    expect(page.locator(".confirm-question")).to_contain_text("about 1")
    screenshot(page, "redrive-confirm")
    assert _queue(sqs, "PaymentEvents").messages == 1  # asking moved nothing
    page.get_by_role("button", name="Yes, redrive all").click()
    expect(page.get_by_role("status")).to_contain_text(f"Moved 1 message from {payments.name}")
    expect(page.locator("dd.depth")).to_have_text("0")
    page.get_by_role("link", name="« Dead letters").click()
    expect(page.locator(f'tr[data-queue="{payments.name}"] .depth')).to_have_text("0")
    order = until(
        "the order to ship", lambda: (o := demo.order(ORDER_ID)).get("status") == "shipped" and o
    )
    assert order["payment"]["state"] == "captured"
    assert demo.opayo_transaction(VENDOR_TX_CODE)["captureCount"] == 1
