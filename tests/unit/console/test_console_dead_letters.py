"""The Dead letters page over HTTP (uvicorn in a thread) on moto's SQS: the stack's DLQs only,
bodies decoded and masked, why a message failed, and redrive (all, or one) that moves
nothing without the confirmation and nothing without the CSRF token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from opayo_fba.console.app import create_app
from opayo_fba.console.backend import StackBackend
from opayo_fba.console.masking import HIDDEN, mask_body, mask_document
from opayo_fba.ops import dlq
from opayo_fba.store.orders import OrderStore
from sandbox.common.server import ThreadedServer
from tests.fixtures.tables import create_orders_table

TOKEN = "t0ken-for-the-tests-only-123456"
STACK = "OpayoFba-dev"
DLQ = f"{STACK}-PaymentEventsDlq.fifo"
SOURCE = f"{STACK}-PaymentEvents.fifo"
CARD = "4929000000006"
POISON = {
    "event_id": "evt-1",
    "vendor": "sandboxvendor",
    "payment": {
        "vendor_tx_code": "SRV-DLQ-1",
        "security_key": "SECRETKEY123",
        "customer_email": "jane@example.com",
        "billing_address": {"first_names": "Jane", "surname": "Doe", "line1": "88 The Road"},
        "note": f"card {CARD} by jane@example.com",
    },
}


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sqs", "eu-west-2")
        dead = client.create_queue(QueueName=DLQ, Attributes={"FifoQueue": "true"})["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
        client.create_queue(
            QueueName=SOURCE, Attributes={"FifoQueue": "true", "RedrivePolicy": policy}
        )
        # Another stack's DLQ: not this console's to show.
        other = client.create_queue(QueueName="Other-Dlq")["QueueUrl"]
        other_arn = client.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        other_policy = json.dumps({"deadLetterTargetArn": other_arn, "maxReceiveCount": 1})
        client.create_queue(QueueName="Other-Queue", Attributes={"RedrivePolicy": other_policy})
        yield client


def _poison(sqs: Any, body: dict[str, Any], group: str, **attributes: str) -> None:
    sqs.send_message(
        QueueUrl=sqs.get_queue_url(QueueName=DLQ)["QueueUrl"],
        MessageBody=json.dumps(body),
        MessageGroupId=group,
        MessageDeduplicationId=group,
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        },
    )


def _depth(sqs: Any, name: str) -> int:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def client(sqs: Any) -> Iterator[httpx.Client]:
    orders = OrderStore(create_orders_table(f"{STACK}-OrdersTable"))
    names = frozenset({DLQ, SOURCE})
    backend = StackBackend(STACK, orders, {"uk-main": []}, sqs=sqs, queue_names=names)
    with (
        ThreadedServer(create_app(backend, TOKEN)) as server,
        httpx.Client(base_url=server.url, follow_redirects=False) as client,
    ):
        assert client.get(f"/?token={TOKEN}").status_code == 303
        yield client


def _row(page: str, name: str) -> str | None:
    """The Dead letters list's row of the queue `name` (its cells), if it has one."""
    found = re.search(rf'<tr data-queue="{re.escape(name)}"[^>]*>(.*?)</tr>', page, re.S)
    return found.group(1) if found else None


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def _origin(client: httpx.Client) -> dict[str, str]:
    return {"origin": str(client.base_url).rstrip("/")}


def test_the_list_shows_this_stacks_dead_letter_queues_with_their_depth(
    sqs: Any, client: httpx.Client
) -> None:
    _poison(sqs, POISON, "tx-1")
    page = client.get("/dead-letters").text
    row = _row(page, DLQ)
    assert row is not None
    assert '<td class="money depth">1</td>' in row
    assert SOURCE in row
    assert "Other-Dlq" not in page


def test_a_queues_messages_are_decoded_and_masked(sqs: Any, client: httpx.Client) -> None:
    _poison(sqs, POISON, "tx-1")
    page = client.get(f"/dead-letters/{DLQ}").text
    assert "SRV-DLQ-1" in page  # what tells an operator which payment it is
    assert "&#34;security_key&#34;: &#34;[hidden]&#34;" in page
    for never in (CARD, "SECRETKEY123", "jane@example.com", "Jane", "Doe", "88 The Road"):
        assert never not in page
    assert "j***@e******.com" in page
    assert "&#34;first_names&#34;: &#34;J***&#34;" in page
    assert "&#34;surname&#34;: &#34;D**&#34;" in page
    assert "[card number removed]" in page
    assert "SQS does not say" in page  # SQS's own redrive leaves no error on it
    assert "<dt>First received (UTC)</dt>" in page


def test_the_error_eventbridge_attached_is_shown_as_why_it_failed(
    sqs: Any, client: httpx.Client
) -> None:
    _poison(sqs, {"x": 1}, "tx-1", ERROR_CODE="Lambda.Throttled", ERROR_MESSAGE="Rate exceeded")
    page = client.get(f"/dead-letters/{DLQ}").text
    assert "Lambda.Throttled: Rate exceeded" in page
    assert "SQS does not say" not in page


def test_redrive_moves_nothing_without_the_confirmation_or_the_csrf_token(
    sqs: Any, client: httpx.Client
) -> None:
    _poison(sqs, POISON, "tx-1")
    token = _csrf(client.get(f"/dead-letters/{DLQ}").text)
    action = f"/dead-letters/{DLQ}/redrive"
    asked = client.post(action, headers=_origin(client), data={"csrf_token": token})
    assert asked.status_code == 200
    assert "Yes, redrive all" in asked.text
    forged = client.post(action, headers=_origin(client), data={"confirm": "yes"})
    assert forged.status_code == 403
    elsewhere = client.post(
        action,
        headers={"origin": "http://evil.example"},
        data={"csrf_token": token, "confirm": "yes"},
    )
    assert elsewhere.status_code == 403
    assert _depth(sqs, DLQ) == 1
    assert _depth(sqs, SOURCE) == 0


def test_redrive_all_after_the_confirmation_moves_them_and_says_how_many(
    sqs: Any, client: httpx.Client
) -> None:
    _poison(sqs, POISON, "tx-1")
    _poison(sqs, {**POISON, "event_id": "evt-2"}, "tx-2")
    confirm = client.get(f"/dead-letters/{DLQ}/redrive")
    assert "about 2" in confirm.text
    done = client.post(
        f"/dead-letters/{DLQ}/redrive",
        headers=_origin(client),
        data={"csrf_token": _csrf(confirm.text), "confirm": "yes"},
    )
    assert done.status_code == 200
    assert f"Moved 2 messages from {DLQ} back to {SOURCE}" in done.text
    assert _depth(sqs, DLQ) == 0
    assert _depth(sqs, SOURCE) == 2


def test_redrive_one_moves_that_message_only(sqs: Any, client: httpx.Client) -> None:
    _poison(sqs, POISON, "tx-1")
    _poison(sqs, {**POISON, "event_id": "evt-2"}, "tx-2")
    queue = dlq.find_dead_letter_queue(sqs, DLQ)
    [wanted] = [x for x in dlq.peek(sqs, queue) if "evt-2" in x.body]
    confirm = client.get(f"/dead-letters/{DLQ}/redrive?message={wanted.message_id}")
    assert "Yes, redrive this message" in confirm.text
    assert "jane@example.com" not in confirm.text
    form = {"csrf_token": _csrf(confirm.text), "confirm": "yes", "message_id": wanted.message_id}
    done = client.post(f"/dead-letters/{DLQ}/redrive", headers=_origin(client), data=form)
    assert f"Moved 1 message from {DLQ}" in done.text
    assert [x.body for x in dlq.peek(sqs, queue)] == [json.dumps(POISON)]
    again = client.post(f"/dead-letters/{DLQ}/redrive", headers=_origin(client), data=form)
    assert again.status_code == 404
    assert "holds no message" in again.text


@pytest.mark.parametrize(
    "path", ["/dead-letters/Other-Dlq", "/dead-letters/nope", "/dead-letters/a%20b"]
)
def test_a_queue_not_of_this_stack_or_not_a_name_is_refused(
    client: httpx.Client, path: str
) -> None:
    assert client.get(path).status_code in (400, 404)


def test_mask_document_hides_secrets_masks_people_and_removes_card_numbers() -> None:
    masked = mask_document(
        {
            "VPSSignature": "ABC",
            "Token": "{T-1}",
            "BuyerInfo": {"BuyerEmail": "bob@x.org", "BuyerName": "Bob Smith"},
            "Message": json.dumps({"CardNumber": CARD, "ShippingAddress": {"City": "Leeds"}}),
            "amount": int(CARD),
            "SellerSKU": "OPF-TEE-M",
            "vendorName": "sandboxvendor",
        }
    )
    assert masked == {
        "VPSSignature": HIDDEN,
        "Token": HIDDEN,
        "BuyerInfo": {"BuyerEmail": "b**@x*.org", "BuyerName": "B** S****"},
        "Message": {"CardNumber": "[card number removed]", "ShippingAddress": {"City": "L****"}},
        "amount": "[card number removed]",
        "SellerSKU": "OPF-TEE-M",
        "vendorName": "sandboxvendor",
    }
    assert mask_body("not json, from bob@x.org") == ("not json, from b**@x*.org", False)


def test_eventbridges_dead_letter_queues_are_listed_from_the_template_without_redrive(
    sqs: Any,
) -> None:
    """No redrive policy names a schedule's DLQ: the template does. Its messages show why
    EventBridge gave up; no redrive is offered, and one asked for moves nothing."""
    from opayo_fba.console.facts import StackFacts

    logical = "SchedulesSchedulesDlqF40FFEF7"
    name = f"{STACK}-{logical}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"sellerAccountId": "uk-main"}),
        MessageAttributes={
            "ERROR_CODE": {"DataType": "String", "StringValue": "Lambda.ThrottlingException"},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Rate exceeded"},
        },
    )
    facts = StackFacts(event_dead_letters={logical: ["schedule orders_poller for uk-main"]})
    backend = StackBackend(
        STACK,
        OrderStore(create_orders_table(f"{STACK}-OrdersTable")),
        {"uk-main": []},
        sqs=sqs,
        queue_names=frozenset({DLQ, SOURCE, name}),
        facts=facts,
    )
    with (
        ThreadedServer(create_app(backend, TOKEN)) as server,
        httpx.Client(base_url=server.url, follow_redirects=False) as http,
    ):
        assert http.get(f"/?token={TOKEN}").status_code == 303
        listing = http.get("/dead-letters").text
        row = _row(listing, name)
        assert row is not None
        assert "EventBridge: schedule orders_poller for uk-main" in row
        assert '<td class="money depth">1</td>' in row
        page = http.get(f"/dead-letters/{name}").text
        assert "Lambda.ThrottlingException: Rate exceeded" in page
        assert "Redrive" not in page
        moved = http.post(
            f"/dead-letters/{name}/redrive",
            data={"csrf_token": _csrf(page), "confirm": "yes"},
            headers=_origin(http),
        )
        assert moved.status_code == 409
        assert _depth(sqs, name) == 1


class _Lambda:
    """A stand-in for AWS Lambda's Invoke: records each payload, and answers as a function
    that took it, or as one that raised (`fail_with`)."""

    def __init__(self) -> None:
        self.invoked: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: str | None = None

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        import io

        assert InvocationType == "RequestResponse"
        self.invoked.append((FunctionName, json.loads(Payload)))
        if self.fail_with is None:
            return {"StatusCode": 200, "Payload": io.BytesIO(b'{"action": "none"}')}
        said = {"errorType": "OpayoUnavailable", "errorMessage": self.fail_with}
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": io.BytesIO(json.dumps(said).encode()),
        }


def test_a_rules_dead_letters_are_replayed_to_its_function_one_or_all(sqs: Any) -> None:
    """The recovery rule's DLQ: each event is given to the recovery function again, and
    deleted once it took it; one it fails on stays, with what it said (masked), and the
    replay stops there. Nothing runs without the confirmation."""
    from opayo_fba.console.facts import StackFacts

    logical, function = "RecoveryRecoveryDlqB5DE0BD4", "RecoverySagaRecoveryFunctionF70E4CC6"
    name = f"{STACK}-{logical}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    events = [
        {"detail-type": "Step Functions Execution Status Change", "detail": {"name": f"E-{n}"}}
        for n in range(3)
    ]
    for event in events:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    facts = StackFacts(
        event_dead_letters={logical: ["rule RecoveryExecutionEndedBadly274FBBE8"]},
        event_replay_targets={logical: function},
    )
    fake = _Lambda()
    backend = StackBackend(
        STACK,
        OrderStore(create_orders_table(f"{STACK}-OrdersTable")),
        {"uk-main": []},
        sqs=sqs,
        queue_names=frozenset({DLQ, SOURCE, name}),
        facts=facts,
        lambda_=fake,
        functions={function: f"{STACK}-{function}"},
    )
    with (
        ThreadedServer(create_app(backend, TOKEN)) as server,
        httpx.Client(base_url=server.url, follow_redirects=False) as http,
    ):
        assert http.get(f"/?token={TOKEN}").status_code == 303
        page = http.get(f"/dead-letters/{name}").text
        assert "Replay all messages" in page
        assert page.count("Replay this message") == 3
        [first, *_] = re.findall(r'data-message-id="([^"]+)"', page)
        token = _csrf(page)
        asked = http.post(
            f"/dead-letters/{name}/redrive",
            data={"csrf_token": token, "message_id": first},
            headers=_origin(http),
        )
        assert "Yes, replay this message" in asked.text
        assert fake.invoked == []
        one = http.post(
            f"/dead-letters/{name}/redrive",
            data={"csrf_token": token, "message_id": first, "confirm": "yes"},
            headers=_origin(http),
        )
        assert one.status_code == 200
        assert "took 1 message" in one.text
        assert len(fake.invoked) == 1
        assert fake.invoked[0][0] == f"{STACK}-{function}"
        assert fake.invoked[0][1] in events
        assert _depth(sqs, name) == 2

        fake.fail_with = "Opayo said no for jane@example.com"
        failed = http.post(
            f"/dead-letters/{name}/redrive",
            data={"csrf_token": token, "confirm": "yes"},
            headers=_origin(http),
        )
        assert failed.status_code == 200
        assert "took 0 messages" in failed.text
        assert "OpayoUnavailable: Opayo said no for j***@e******.com" in failed.text
        assert "jane@example.com" not in failed.text
        assert len(fake.invoked) == 2  # it stopped at the first it failed on
        assert _depth(sqs, name) == 2

        fake.fail_with = None
        rest = http.post(
            f"/dead-letters/{name}/redrive",
            data={"csrf_token": token, "confirm": "yes"},
            headers=_origin(http),
        )
        assert "took 2 messages" in rest.text
        assert _depth(sqs, name) == 0
        assert sorted(json.dumps(e) for _, e in fake.invoked[2:]) == sorted(
            json.dumps(e) for e in events if e != fake.invoked[0][1]
        )


def test_which_queues_are_kept_but_each_page_reads_their_depth_now(
    sqs: Any, client: httpx.Client
) -> None:
    first = _row(client.get("/dead-letters").text, DLQ)
    assert first is not None
    assert '<td class="money depth">0</td>' in first
    _poison(sqs, POISON, "tx-1")
    _poison(sqs, {"x": 2}, "tx-2")
    again = _row(client.get("/dead-letters").text, DLQ)
    assert again is not None
    assert '<td class="money depth">2</td>' in again
    assert '<dd class="depth">2</dd>' in client.get(f"/dead-letters/{DLQ}").text


def test_a_queue_deleted_since_it_was_read_is_read_again_not_an_error(
    sqs: Any, client: httpx.Client
) -> None:
    assert _row(client.get("/dead-letters").text, DLQ) is not None
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=DLQ)["QueueUrl"])
    page = client.get("/dead-letters")
    assert page.status_code == 200
    assert _row(page.text, DLQ) is None
    assert client.get(f"/dead-letters/{DLQ}").status_code == 404
