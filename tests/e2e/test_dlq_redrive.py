"""A payment event that cannot be processed lands in the dead-letter queue, and after the
cause is fixed and the queue is redriven it is processed exactly once.

The cause here is an outage an operator can fix: the state machine is missing (as after a
botched deployment), so starting the saga fails. Nothing of our code is patched: the outage is
made through the AWS API (moto), and the redrive is what `opayo-fba dlq redrive` does locally.
"""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest

from demo.scenarios import DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from opayo_fba.ops import dlq
from tests.fixtures.polling import until

REGION = "eu-west-2"


def _submit_server_order(demo: DemoContext, order_id: str, vendor_tx_code: str) -> str:
    """A one-T-shirt order paid through Opayo Server, submitted by the shop: its VPSTxId."""
    vps_tx_id, key = demo.register_server(vendor_tx_code, 1850)
    reply = demo.submit(
        sample_order(order_id, sku="OPF-TEE-M", unit=1850, qty=1),
        {
            "type": "server",
            "vendorTxCode": vendor_tx_code,
            "vpsTxId": vps_tx_id,
            "securityKey": key,
        },
    )
    assert reply.status_code == 201, reply.text
    return vps_tx_id


@pytest.mark.e2e
def test_poison_payment_event_is_dead_lettered_then_processed_once_after_redrive(
    environment: LocalEnvironment, demo: DemoContext
) -> None:
    runtime = environment.runtime
    assert runtime is not None
    sfn = boto3.client("stepfunctions", REGION)
    sqs = boto3.client("sqs", REGION)
    machine_arn = next(iter(runtime.provisioned.state_machines.values()))
    machine = sfn.describe_state_machine(stateMachineArn=machine_arn)
    sfn.delete_state_machine(stateMachineArn=machine_arn)  # the outage

    order_id, vendor_tx_code = "E2E-REDRIVE", "SRV-E2E-REDRIVE"
    vps_tx_id = _submit_server_order(demo, order_id, vendor_tx_code)
    demo.complete_server(vps_tx_id)  # Opayo notifies the webhook; the event is queued

    def dead_letters() -> int:
        return sum(q.messages for q in dlq.list_dead_letter_queues(sqs))

    until("the event in a dead-letter queue", dead_letters)
    [queue] = [q for q in dlq.list_dead_letter_queues(sqs) if q.messages]
    [letter] = dlq.peek(sqs, queue, 10)
    assert vendor_tx_code in letter.body
    assert demo.order(order_id)["status"] == "payment_authorised"  # applied, not yet started

    sfn.create_state_machine(  # the fix: the same state machine, deployed again
        name=machine["name"], definition=machine["definition"], roleArn=machine["roleArn"]
    )
    assert dlq.redrive(sqs, queue, server_side=False).moved == 1

    order = until(
        "the order to ship", lambda: (o := demo.order(order_id)).get("status") == "shipped" and o
    )
    assert order["payment"]["state"] == "captured"
    assert demo.opayo_transaction(vendor_tx_code)["captureCount"] == 1
    assert demo.amazon_fulfillment_orders(order_id) == 1
    assert dead_letters() == 0


@pytest.mark.e2e
def test_status_shows_an_order_the_shop_submitted(
    environment: LocalEnvironment, demo: DemoContext
) -> None:
    """`opayo-fba status --json` against the running local runtime counts a submitted order."""
    runtime = environment.runtime
    assert runtime is not None
    order_id, vendor_tx_code = "E2E-STATUS", "SRV-E2E-STATUS"
    _submit_server_order(demo, order_id, vendor_tx_code)

    def uk_orders() -> int:
        # A process of its own: the in-process functions log to this process's stdout.
        command = [sys.executable, "-m", "opayo_fba.cli.main", "status", "--json"]
        result = subprocess.run(  # noqa: S603 (our own CLI, our own arguments)
            [*command, "--endpoint-url", runtime.moto_url, "--region", REGION],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["stack"] == "OpayoFba-dev"
        return sum(o["total"] for o in document["orders"] if o["sellerAccount"] == "uk-main")

    until("the order in opayo-fba status", uk_orders, seconds=20)
