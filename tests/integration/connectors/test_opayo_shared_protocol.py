"""The Shared Protocol client against the Opayo sandbox over HTTP: release, abort, refund,
void of Server transactions, refusals mapped to typed errors, and lost responses resolved
from Reporting's txstateid before anything is sent again. Judged on the sandbox's records
(`/_sandbox/transactions`, `/_sandbox/shared-protocol`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from opayo_fba.model.money import Money
from opayo_fba.opayo.errors import OpayoInstructionRefused, OpayoUnavailable
from opayo_fba.opayo.reporting import ReportingClient
from opayo_fba.opayo.shared_protocol import (
    ServerTransaction,
    SharedProtocolClient,
    SourceAddressRefused,
)
from tests.fixtures.opayo_sandbox import VISA, MerchantEndpoint, OpayoSandboxHandle, wait_until
from tests.integration.connectors.test_opayo_connector import (
    FAST_RETRIES,
    TIMEOUT,
    credentials,
)
from tests.integration.sandbox_opayo.test_opayo_sandbox_server import _register

pytestmark = pytest.mark.integration
GBP = "GBP"


@pytest.fixture
def shared(opayo_sandbox: OpayoSandboxHandle) -> Iterator[SharedProtocolClient]:
    creds = credentials(opayo_sandbox)
    with httpx.Client(timeout=TIMEOUT) as http:
        reporting = ReportingClient(
            creds,
            url=f"{opayo_sandbox.url}/access/access.htm",
            http_client=http,
            timeout=TIMEOUT,
            retry=FAST_RETRIES,
        )
        yield SharedProtocolClient(
            creds,
            reporting=reporting,
            base_url=f"{opayo_sandbox.url}/gateway/service",
            http_client=http,
            timeout=TIMEOUT,
            retry=FAST_RETRIES,
        )


def _server_transaction(
    sandbox: OpayoSandboxHandle, merchant: MerchantEndpoint, code: str = "srv-1", **change: str
) -> ServerTransaction:
    reply = _register(sandbox, merchant.url, VendorTxCode=code, **change)
    done = sandbox.client.post(
        f"/_sandbox/server/{reply['VPSTxId']}/complete", json={"card": VISA, "outcome": "OK"}
    )
    assert done.status_code == 200
    wait_until(lambda: sandbox.notifications(code)[0]["delivered"])
    fields = next(f for f in merchant.snapshot() if f["VendorTxCode"] == code)
    return ServerTransaction(
        vendor_tx_code=code,
        vps_tx_id=reply["VPSTxId"],
        security_key=reply["SecurityKey"],
        tx_auth_no=fields["TxAuthNo"],
    )


def _posts(sandbox: OpayoSandboxHandle, code: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sandbox.client.get(
        "/_sandbox/shared-protocol", params={"vendorTxCode": code}
    ).json()["posts"]
    return found


def test_release_then_refund(
    shared: SharedProtocolClient,
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
) -> None:
    tx = _server_transaction(opayo_sandbox, opayo_merchant)
    released = shared.release(tx, Money(amount=4000, currency=GBP))
    assert released.succeeded
    assert not released.recovered
    # Asked again (a retried step): Reporting says it is done, so nothing is posted.
    again = shared.release(tx, Money(amount=4000, currency=GBP))
    assert again.succeeded
    assert again.recovered
    assert [p["amount"] for p in _posts(opayo_sandbox, "srv-1") if p["txType"] == "RELEASE"] == [
        "40.00"
    ]
    refund = shared.refund(
        tx, Money(amount=1250, currency=GBP), refund_vendor_tx_code="RFND-1", description="Refund"
    )
    assert refund.succeeded
    assert refund.transaction_id.startswith("{")
    repeated = shared.refund(
        tx, Money(amount=1250, currency=GBP), refund_vendor_tx_code="RFND-1", description="Refund"
    )
    assert repeated.recovered
    assert repeated.transaction_id == refund.transaction_id
    state = opayo_sandbox.sandbox_transaction("srv-1")
    assert (state["capturedAmount"], state["refundedAmount"], state["refundCount"]) == (
        4000,
        1250,
        1,
    )
    assert len([p for p in _posts(opayo_sandbox, "srv-1") if p["txType"] == "REFUND"]) == 1


def test_abort_and_void(
    shared: SharedProtocolClient,
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
) -> None:
    deferred = _server_transaction(opayo_sandbox, opayo_merchant)
    assert shared.abort(deferred).succeeded
    assert opayo_sandbox.sandbox_transaction("srv-1")["aborted"] is True
    with pytest.raises(OpayoInstructionRefused, match="txstateid 19"):
        shared.release(deferred, Money(amount=100, currency=GBP))
    payment = _server_transaction(opayo_sandbox, opayo_merchant, "srv-2", TxType="PAYMENT")
    assert shared.void(payment).succeeded
    assert opayo_sandbox.sandbox_transaction("srv-2")["voided"] is True


def test_refusals_are_typed_and_name_opayos_reason(
    shared: SharedProtocolClient,
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
) -> None:
    tx = _server_transaction(opayo_sandbox, opayo_merchant)
    wrong_key = ServerTransaction(
        vendor_tx_code=tx.vendor_tx_code,
        vps_tx_id=tx.vps_tx_id,
        security_key="WRONGKEY00",
        tx_auth_no=tx.tx_auth_no,
    )
    with pytest.raises(OpayoInstructionRefused, match="SecurityKey") as refused:
        shared.release(wrong_key, Money(amount=100, currency=GBP))
    assert refused.value.code == "4006"
    with pytest.raises(OpayoInstructionRefused, match="exceeds"):
        shared.release(tx, Money(amount=999999, currency=GBP))
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 0


def test_a_post_from_an_unregistered_address_is_refused_clearly(
    shared: SharedProtocolClient,
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
) -> None:
    tx = _server_transaction(opayo_sandbox, opayo_merchant)
    opayo_sandbox.client.post("/_sandbox/valid-ips", json={"ips": ["203.0.113.10"]})
    with pytest.raises(SourceAddressRefused, match="Valid IPs") as refused:
        shared.release(tx, Money(amount=4999, currency=GBP))
    assert refused.value.code == "4020"
    assert "Invalid IP address" in str(refused.value)
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 0
    [post] = _posts(opayo_sandbox, "srv-1")
    assert post["statusDetail"].startswith("4020")


def test_a_lost_release_response_is_resolved_from_txstateid_and_never_sent_twice(
    shared: SharedProtocolClient,
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
) -> None:
    tx = _server_transaction(opayo_sandbox, opayo_merchant)
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "shared-release", "kind": "lost_response", "times": 1}]}
    )
    released = shared.release(tx, Money(amount=4999, currency=GBP))
    assert released.succeeded
    assert released.recovered
    assert "txstateid 16" in released.status_detail
    posts = [p for p in _posts(opayo_sandbox, "srv-1") if p["txType"] == "RELEASE"]
    assert len(posts) == 1
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 1


def test_a_release_that_did_not_land_is_sent_again_only_after_checking(
    shared: SharedProtocolClient,
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
) -> None:
    tx = _server_transaction(opayo_sandbox, opayo_merchant)
    # A 503 changes nothing at the sandbox: txstateid still 14, so sending again is safe.
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "shared-release", "kind": "unavailable", "times": 1}]}
    )
    released = shared.release(tx, Money(amount=4999, currency=GBP))
    assert released.succeeded
    assert not released.recovered
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 1
    opayo_sandbox.set_faults({"rules": [{"operation": "reporting", "kind": "unavailable"}]})
    with pytest.raises(OpayoUnavailable):
        shared.abort(tx)  # the state cannot be read: nothing is sent blind
    assert [p["txType"] for p in _posts(opayo_sandbox, "srv-1")] == ["RELEASE"]


def test_a_lost_refund_response_is_found_by_its_vendor_tx_code(
    shared: SharedProtocolClient,
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
) -> None:
    tx = _server_transaction(opayo_sandbox, opayo_merchant, TxType="PAYMENT")
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "shared-refund", "kind": "lost_response", "times": 1}]}
    )
    refund = shared.refund(
        tx, Money(amount=999, currency=GBP), refund_vendor_tx_code="RFND-L", description="Refund"
    )
    assert refund.succeeded
    assert refund.recovered
    assert opayo_sandbox.sandbox_transaction("srv-1")["refundCount"] == 1
    assert len([p for p in _posts(opayo_sandbox, "srv-1") if p["txType"] == "REFUND"]) == 1
