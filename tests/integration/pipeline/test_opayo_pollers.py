"""Opayo batch fetching and Pi status polling against the Opayo sandbox over HTTP, with the
tables, the archive bucket and the saga's state machine in moto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import httpx
import pytest

from opayo_fba.convert.opayo_pi import payment_from_pi
from opayo_fba.jobs.journals import journal_ready_reports
from opayo_fba.jobs.opayo_batches import BATCH_WATERMARK, fetch_opayo_batches
from opayo_fba.jobs.pi_statuses import poll_pi_statuses
from opayo_fba.model import PaymentState, PaymentTransaction
from opayo_fba.opayo.pi import PiClient
from opayo_fba.opayo.reporting import ReportingClient
from opayo_fba.reconcile.config import default_config_path, load_config
from opayo_fba.reconcile.outputs import EVENT_DETAIL_TYPE
from opayo_fba.saga.starter import SagaStarter
from opayo_fba.store.orders import OrderRecord
from opayo_fba.store.payment_queue import SqsPaymentEventQueue
from opayo_fba.store.pending_payments import PendingPaymentsStore
from sandbox.opayo import OpayoSandboxOptions
from sandbox.opayo.browser import answer_challenge
from tests.fixtures.opayo_sandbox import OpayoSandboxHandle
from tests.fixtures.saga_world import make_order
from tests.integration.pipeline.conftest import FAST, Aws, opayo_credentials
from tests.unit.polling.support import REGION, RecordingEvents

pytestmark = pytest.mark.integration


def test_deferred_payments_released_before_midnight_are_fetched_as_a_batch_and_journaled(
    opayo_sandbox: OpayoSandboxHandle, reporting: ReportingClient, aws: Aws
) -> None:
    vendor = opayo_sandbox.options.vendor
    codes = []
    for amount in (2599, 1250, 999):
        code = f"W-{uuid.uuid4().hex[:8]}-P1"
        payment = opayo_sandbox.pay("Deferred", amount, vendor_tx_code=code)
        opayo_sandbox.instruct(payment["transactionId"], "release", amount).raise_for_status()
        codes.append(code)
    unreleased = f"W-{uuid.uuid4().hex[:8]}-P1"
    opayo_sandbox.pay("Deferred", 4000, vendor_tx_code=unreleased)  # never released: not settled
    start = opayo_sandbox.now()
    opayo_sandbox.advance(86400)  # past midnight: yesterday's captures form a batch
    now = opayo_sandbox.now()

    result = fetch_opayo_batches(reporting, aws.ledger, aws.watermarks, aws.archive, vendor, now)
    assert result.batches_listed >= 1
    assert result.failed == ()
    documents = b"".join(aws.archived(key) for key in result.archived)
    for code in codes:
        assert code.encode() in documents
    assert unreleased.encode() not in documents
    # Filed under the day Opayo closed the batch (getBatchList's `completed`).
    settled_day = (start + timedelta(days=1)).strftime("%Y/%m/%d")
    assert all(f"opayo/batches/{vendor}/{settled_day}/" in key for key in result.archived)
    assert aws.watermarks.get(vendor, BATCH_WATERMARK) == now

    again = fetch_opayo_batches(
        reporting, aws.ledger, aws.watermarks, aws.archive, vendor, now + timedelta(hours=1)
    )
    assert again.archived == ()
    assert again.already_known == result.batches_listed

    events = RecordingEvents()
    run = journal_ready_reports(aws.ledger, aws.archive, load_config(default_config_path()), events)
    assert run is not None
    assert set(run.inputs) == set(result.archived)
    [detail] = events.of(EVENT_DETAIL_TYPE)
    assert detail["balanced"] is True
    assert detail["batchIds"]


class TestABatchLargerThanOnePage:
    """The sandbox answers two rows a page and no <totalrows> (OPAYO-RPT-06/07): the pipeline
    pages until getBatchList's count and the journal still ties out to the groups."""

    @pytest.fixture
    def opayo_sandbox_options(
        self, opayo_sandbox_options: OpayoSandboxOptions
    ) -> OpayoSandboxOptions:
        return opayo_sandbox_options.model_copy(
            update={"reporting_page_rows": 2, "batch_detail_totalrows": False}
        )

    def test_every_page_is_fetched(
        self, opayo_sandbox: OpayoSandboxHandle, reporting: ReportingClient, aws: Aws
    ) -> None:
        vendor = opayo_sandbox.options.vendor
        codes = [f"W-{uuid.uuid4().hex[:8]}-P1" for _ in range(5)]
        for index, code in enumerate(codes):
            opayo_sandbox.pay("Payment", 1000 + index, vendor_tx_code=code)
        opayo_sandbox.advance(86400)
        result = fetch_opayo_batches(
            reporting, aws.ledger, aws.watermarks, aws.archive, vendor, opayo_sandbox.now()
        )
        assert result.failed == ()
        (key,) = result.archived
        document = aws.archived(key)
        assert [code.encode() in document for code in codes] == [True] * 5
        assert document.count(b"<transaction>") == 5
        events = RecordingEvents()
        config = load_config(default_config_path())
        assert journal_ready_reports(aws.ledger, aws.archive, config, events) is not None
        [detail] = events.of(EVENT_DETAIL_TYPE)
        assert detail["balanced"] is True
        assert "batch_total_mismatch" not in json.dumps(detail)


@pytest.fixture
def saga(aws: Aws) -> tuple[SagaStarter, Any, str]:
    client = boto3.client("stepfunctions", region_name=REGION)
    arn = client.create_state_machine(
        name="saga",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/saga",
    )["stateMachineArn"]
    return SagaStarter(arn, client), client, arn


def challenged_order(
    sandbox: OpayoSandboxHandle, store: PendingPaymentsStore, order_id: str
) -> PaymentTransaction:
    """An order whose Deferred payment waits for 3-D Secure (the shop created it itself; the
    cardholder name CHALLENGE asks for a challenge)."""
    vendor_tx_code = f"{order_id}-{uuid.uuid4().hex[:6]}"
    response = sandbox.create_transaction(
        sandbox.transaction_body(
            "Deferred", 20202, vendor_tx_code=vendor_tx_code, cardholder_name="CHALLENGE"
        )
    )
    assert response.status_code == 202, response.text
    pending = payment_from_pi(response.json(), vendor_tx_code=vendor_tx_code, order_id=order_id)
    assert pending.state is PaymentState.PENDING
    store.create(
        OrderRecord(
            order=make_order(order_id, total=20202),
            payment=pending,
            vendor=sandbox.options.vendor,
            seller_account="uk-main",
        )
    )
    return pending


def complete_challenge(sandbox: OpayoSandboxHandle, payment: PaymentTransaction) -> None:
    """The shopper passes the bank's challenge; the shop sends the cRes to Opayo."""
    challenge = sandbox.client.get(f"/api/v1/transactions/{payment.transaction_id}").json()
    returned = answer_challenge(challenge["acsUrl"], challenge["cReq"], None)
    sandbox.client.post(
        f"/api/v1/transactions/{payment.transaction_id}/3d-secure-challenge",
        json={"cRes": returned.c_res},
    ).raise_for_status()


@pytest.fixture
def pi(opayo_sandbox: OpayoSandboxHandle) -> Iterator[PiClient]:
    with httpx.Client(timeout=5.0) as http:
        creds = opayo_credentials(opayo_sandbox)
        yield PiClient(
            creds,
            reporting=ReportingClient(
                creds, url=f"{opayo_sandbox.url}/access/access.htm", http_client=http, retry=FAST
            ),
            base_url=opayo_sandbox.pi_url,
            http_client=http,
            retry=FAST,
        )


def test_a_payment_waiting_for_3d_secure_is_followed_until_authorised_then_the_saga_starts(
    opayo_sandbox: OpayoSandboxHandle, aws: Aws, saga: tuple[SagaStarter, Any, str], pi: PiClient
) -> None:
    starter, sfn, arn = saga
    vendor = opayo_sandbox.options.vendor
    store = PendingPaymentsStore(aws.orders_table)
    pending = challenged_order(opayo_sandbox, store, "W-3DS")
    waiting = poll_pi_statuses(store, {vendor: pi}, starter)
    assert (waiting.checked, waiting.still_pending, waiting.sagas_started) == (1, 1, 0)

    complete_challenge(opayo_sandbox, pending)
    decided = poll_pi_statuses(store, {vendor: pi}, starter)
    assert (decided.applied, decided.sagas_started) == (1, 1)
    record = store.get("W-3DS")
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == ["W-3DS"]
    # Nothing is pending any more: the next run reads nothing.
    assert poll_pi_statuses(store, {vendor: pi}, starter).checked == 0


def test_as_deployed_a_decided_payment_is_sent_to_the_payment_events_fifo_queue(
    opayo_sandbox: OpayoSandboxHandle, aws: Aws, pi: PiClient
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="payment-events.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    vendor = opayo_sandbox.options.vendor
    store = PendingPaymentsStore(aws.orders_table)
    pending = challenged_order(opayo_sandbox, store, "W-3DSQ")
    queue = SqsPaymentEventQueue(url, sqs)
    assert poll_pi_statuses(store, {vendor: pi}, None, queue=queue).applied == 0
    complete_challenge(opayo_sandbox, pending)
    assert poll_pi_statuses(store, {vendor: pi}, None, queue=queue).applied == 1

    [message] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"]
    )["Messages"]
    assert message["Attributes"]["MessageGroupId"] == pending.vendor_tx_code
    event = json.loads(message["Body"])
    assert event["event_id"] == f"{pending.transaction_id}:Ok"
    payment = PaymentTransaction.model_validate(event["payment"])
    assert (payment.state, payment.order_id) == (PaymentState.AUTHORISED, "W-3DSQ")
    # The poller's role only reads orders: the table is unchanged until the consumer runs.
    record = store.get("W-3DSQ")
    assert record.payment is not None
    assert record.payment.state is PaymentState.PENDING
