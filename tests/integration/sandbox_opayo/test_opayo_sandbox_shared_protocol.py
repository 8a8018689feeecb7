"""The Server & Direct Shared Protocol over real HTTP (release.vsp, abort.vsp, refund.vsp,
void.vsp), the vendor's Valid IPs, txstateid, TOKEN registrations and ISO-8859-1 bodies:
one test per rule of docs/sandbox-opayo.md, judged on the sandbox's own records."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from sandbox.opayo.signing import sign_notification
from tests.fixtures.opayo_sandbox import VISA, MerchantEndpoint, OpayoSandboxHandle, wait_until
from tests.integration.sandbox_opayo.test_opayo_sandbox_server import _lines, _register

pytestmark = pytest.mark.integration


def _completed(
    sandbox: OpayoSandboxHandle, merchant: MerchantEndpoint, code: str = "srv-1", **change: str
) -> dict[str, str]:
    """A Server transaction registered, paid, and its notification answered OK."""
    reply = _register(sandbox, merchant.url, VendorTxCode=code, **change)
    done = sandbox.client.post(
        f"/_sandbox/server/{reply['VPSTxId']}/complete", json={"card": VISA, "outcome": "OK"}
    )
    assert done.status_code == 200, done.text
    wait_until(lambda: sandbox.notifications(code)[0]["delivered"])
    fields = next(f for f in merchant.snapshot() if f["VendorTxCode"] == code)
    return {**reply, "TxAuthNo": fields["TxAuthNo"], "VendorTxCode": code}


def _post(sandbox: OpayoSandboxHandle, verb: str, form: dict[str, str]) -> dict[str, str]:
    return _lines(sandbox.client.post(f"/gateway/service/{verb}.vsp", data=form))


def _form(tx: dict[str, str], tx_type: str, **extra: str) -> dict[str, str]:
    return {
        "VPSProtocol": "4.00",
        "TxType": tx_type,
        "Vendor": "sandbox",
        "VendorTxCode": tx["VendorTxCode"],
        "VPSTxId": tx["VPSTxId"],
        "SecurityKey": tx["SecurityKey"],
        "TxAuthNo": tx["TxAuthNo"],
        **extra,
    }


def _refund_form(tx: dict[str, str], code: str, amount: str) -> dict[str, str]:
    return {
        "VPSProtocol": "4.00",
        "TxType": "REFUND",
        "Vendor": "sandbox",
        "VendorTxCode": code,
        "Amount": amount,
        "Currency": "GBP",
        "Description": "Refund",
        "RelatedVPSTxId": tx["VPSTxId"],
        "RelatedVendorTxCode": tx["VendorTxCode"],
        "RelatedSecurityKey": tx["SecurityKey"],
        "RelatedTxAuthNo": tx["TxAuthNo"],
    }


def _detail(sandbox: OpayoSandboxHandle, vendor_tx_code: str) -> dict[str, str]:
    """getTransactionDetail's elements, as the Reporting API answers them."""
    from defusedxml.ElementTree import fromstring

    from opayo_fba.opayo.signatures import build_reporting_request

    xml = build_reporting_request(
        command="getTransactionDetail",
        vendor="sandbox",
        user=sandbox.options.reporting_user,
        parameters=[("vendortxcode", vendor_tx_code)],
        password=sandbox.options.reporting_password,
    )
    root = fromstring(sandbox.client.post("/access/access.htm", data={"XML": xml}).content)
    return {child.tag: (child.text or "") for child in root.iter() if not len(child)}


def test_release_once_with_a_decimal_amount_then_refund_through_refund_vsp(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    tx = _completed(opayo_sandbox, opayo_merchant)
    assert _detail(opayo_sandbox, "srv-1")["txstateid"] == "14"
    released = _post(opayo_sandbox, "release", _form(tx, "RELEASE", ReleaseAmount="40.00"))
    assert released["Status"] == "OK", released
    assert released["VPSProtocol"] == "4.00"
    assert _detail(opayo_sandbox, "srv-1")["txstateid"] == "16"
    again = _post(opayo_sandbox, "release", _form(tx, "RELEASE", ReleaseAmount="40.00"))
    assert again["Status"] == "INVALID"
    assert "released once" in again["StatusDetail"]
    state = opayo_sandbox.sandbox_transaction("srv-1")
    assert (state["capturedAmount"], state["captureCount"]) == (4000, 1)

    too_much = _post(opayo_sandbox, "refund", _refund_form(tx, "srv-1-r1", "40.01"))
    assert too_much["Status"] == "INVALID"
    refunded = _post(opayo_sandbox, "refund", _refund_form(tx, "srv-1-r1", "15.50"))
    assert refunded["Status"] == "OK", refunded
    assert refunded["VPSTxId"].startswith("{")
    assert refunded["TxAuthNo"]
    reused = _post(opayo_sandbox, "refund", _refund_form(tx, "srv-1-r1", "1.00"))
    assert reused["Status"] == "INVALID"
    assert reused["StatusDetail"].startswith("4042")
    state = opayo_sandbox.sandbox_transaction("srv-1")
    assert (state["refundedAmount"], state["refundCount"]) == (1550, 1)
    refund = opayo_sandbox.sandbox_transaction("srv-1-r1")
    assert (refund["transactionType"], refund["amount"]) == ("Refund", 1550)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("VPSTxId", "{00000000-0000-0000-0000-000000000000}", "4004"),
        ("VendorTxCode", "someone-else", "4005"),
        ("SecurityKey", "WRONGKEY00", "4006"),
        ("TxAuthNo", "1", "4007"),
    ],
)
def test_each_reference_field_is_checked_and_a_refusal_changes_nothing(
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
    field: str,
    value: str,
    code: str,
) -> None:
    tx = _completed(opayo_sandbox, opayo_merchant)
    form = _form(tx, "RELEASE", ReleaseAmount="49.99")
    form[field] = value
    refused = _post(opayo_sandbox, "release", form)
    assert refused["Status"] == "INVALID"
    assert refused["StatusDetail"].startswith(code)
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 0


@pytest.mark.parametrize(
    ("change", "status", "names"),
    [
        ({"ReleaseAmount": "12.345"}, "INVALID", "ReleaseAmount"),
        ({"ReleaseAmount": "1200"}, "INVALID", "exceeds"),  # 1200.00 > 49.99 authorised
        ({"ReleaseAmount": ""}, "MALFORMED", "ReleaseAmount"),
        ({"TxType": "ABORT"}, "INVALID", "TxType"),
        ({"Vendor": "other"}, "INVALID", "Vendor"),
        ({"VPSProtocol": "2.23"}, "INVALID", "VPSProtocol"),
    ],
)
def test_bad_release_posts_are_refused_naming_why(
    opayo_sandbox: OpayoSandboxHandle,
    opayo_merchant: MerchantEndpoint,
    change: dict[str, str],
    status: str,
    names: str,
) -> None:
    tx = _completed(opayo_sandbox, opayo_merchant)
    refused = _post(
        opayo_sandbox, "release", {**_form(tx, "RELEASE", ReleaseAmount="49.99"), **change}
    )
    assert refused["Status"] == status
    assert names in refused["StatusDetail"]
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 0


def test_abort_before_release_only_and_void_of_a_payment(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    tx = _completed(opayo_sandbox, opayo_merchant)
    assert _post(opayo_sandbox, "abort", _form(tx, "ABORT"))["Status"] == "OK"
    assert _detail(opayo_sandbox, "srv-1")["txstateid"] == "19"
    after = _post(opayo_sandbox, "release", _form(tx, "RELEASE", ReleaseAmount="1.00"))
    assert after["Status"] == "INVALID"
    assert opayo_sandbox.sandbox_transaction("srv-1")["aborted"] is True

    payment = _completed(opayo_sandbox, opayo_merchant, "srv-2", TxType="PAYMENT")
    not_deferred = _post(opayo_sandbox, "abort", _form(payment, "ABORT"))
    assert not_deferred["Status"] == "INVALID"
    assert _post(opayo_sandbox, "void", _form(payment, "VOID"))["Status"] == "OK"
    assert _detail(opayo_sandbox, "srv-2")["txstateid"] == "18"
    assert opayo_sandbox.sandbox_transaction("srv-2")["voided"] is True


def test_a_post_from_an_address_not_on_valid_ips_is_refused_with_4020(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    tx = _completed(opayo_sandbox, opayo_merchant)
    assert opayo_sandbox.client.get("/_sandbox/valid-ips").json()["ips"] == ["127.0.0.1", "::1"]
    set_to = opayo_sandbox.client.post("/_sandbox/valid-ips", json={"ips": ["203.0.113.10"]})
    assert set_to.json()["ips"] == ["203.0.113.10"]
    for verb, tx_type in (("release", "RELEASE"), ("abort", "ABORT"), ("void", "VOID")):
        refused = _post(opayo_sandbox, verb, _form(tx, tx_type, ReleaseAmount="49.99"))
        assert refused == {
            "VPSProtocol": "4.00",
            "Status": "INVALID",
            "StatusDetail": "4020 : Information received from an Invalid IP address.",
        }
    registration = _register(opayo_sandbox, opayo_merchant.url, VendorTxCode="srv-3")
    assert registration["StatusDetail"].startswith("4020")
    state = opayo_sandbox.sandbox_transaction("srv-1")
    assert (state["captureCount"], state["aborted"]) == (0, False)
    bad = opayo_sandbox.client.post("/_sandbox/valid-ips", json={"ips": ["not an ip"]})
    assert bad.status_code == 400


def test_txstateid_7_until_the_notification_is_answered_and_instructions_show_through(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    opayo_sandbox.set_notification_faults({"hold": True})
    reply = _register(opayo_sandbox, opayo_merchant.url)
    opayo_sandbox.client.post(
        f"/_sandbox/server/{reply['VPSTxId']}/complete", json={"card": VISA, "outcome": "OK"}
    )
    assert _detail(opayo_sandbox, "srv-1")["txstateid"] == "7"
    auth_no = str(opayo_sandbox.sandbox_transaction("srv-1")["retrievalReference"])
    tx = {**reply, "TxAuthNo": auth_no, "VendorTxCode": "srv-1"}
    released = _post(opayo_sandbox, "release", _form(tx, "RELEASE", ReleaseAmount="49.99"))
    assert released["Status"] == "OK"  # our assumption: nothing public says it is refused
    assert _detail(opayo_sandbox, "srv-1")["txstateid"] == "16"


def test_a_transaction_cancelled_by_an_invalid_reply_takes_no_instruction(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    opayo_merchant.replies = ["INVALID"]
    reply = _register(opayo_sandbox, opayo_merchant.url)
    opayo_sandbox.client.post(
        f"/_sandbox/server/{reply['VPSTxId']}/complete", json={"card": VISA, "outcome": "OK"}
    )
    wait_until(lambda: opayo_sandbox.notifications("srv-1")[0].get("cancelledByVendor"))
    assert _detail(opayo_sandbox, "srv-1")["txstateid"] == "9"
    fields = opayo_merchant.snapshot()[0]
    tx = {**reply, "TxAuthNo": fields["TxAuthNo"], "VendorTxCode": "srv-1"}
    refused = _post(opayo_sandbox, "release", _form(tx, "RELEASE", ReleaseAmount="49.99"))
    assert refused["Status"] == "INVALID"
    assert "cancelled" in refused["StatusDetail"]
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 0


def test_a_lost_release_response_is_committed(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    tx = _completed(opayo_sandbox, opayo_merchant)
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "shared-release", "kind": "lost_response", "times": 1}]}
    )
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{opayo_sandbox.url}/gateway/service/release.vsp",
            data=_form(tx, "RELEASE", ReleaseAmount="49.99"),
            timeout=0.5,
        )
    assert _detail(opayo_sandbox, "srv-1")["txstateid"] == "16"
    assert opayo_sandbox.sandbox_transaction("srv-1")["captureCount"] == 1


def test_token_registration_is_signed_the_token_way(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    form = {
        "VPSProtocol": "4.00",
        "TxType": "TOKEN",
        "Vendor": "sandbox",
        "VendorTxCode": "tok-1",
        "Currency": "GBP",
        "NotificationURL": opayo_merchant.url,
    }
    reply = _lines(opayo_sandbox.client.post("/gateway/service/token.vsp", data=form))
    assert reply["Status"] == "OK", reply
    done = opayo_sandbox.client.post(
        f"/_sandbox/server/{reply['VPSTxId']}/complete", json={"card": VISA, "outcome": "OK"}
    )
    assert done.status_code == 200
    fields = wait_until(opayo_merchant.snapshot)[0]
    assert (fields["TxType"], fields["Status"]) == ("TOKEN", "OK")
    assert fields["Token"]
    # omnipay-sagepay ServerNotifyTrait: VPSTxId without braces, nothing after SecurityKey.
    base = (
        reply["VPSTxId"].strip("{}")
        + "tok-1OK"
        + fields["TxAuthNo"]
        + "sandbox"
        + fields["AVSCV2"]
        + fields["Token"]
        + reply["SecurityKey"]
    )
    assert fields["VPSSignature"] == hashlib.md5(base.encode()).hexdigest().upper()
    wait_until(lambda: opayo_sandbox.notifications("tok-1")[0]["delivered"])
    assert _detail(opayo_sandbox, "tok-1")["txstateid"] == "25"


def test_an_aborted_token_registration_is_signed_as_a_transaction() -> None:
    fields: dict[str, Any] = {"TxType": "TOKEN", "Status": "ABORT", "VPSTxId": "{A-B}"}
    as_transaction = sign_notification(
        {**fields, "TxType": "DEFERRED"}, vendor="V", security_key="K"
    )
    token_fields = {**fields, "Token": "T"}
    expected = hashlib.md5(("{A-B}" + "ABORT" + "v" + "T" + "K").encode()).hexdigest().upper()
    assert sign_notification(token_fields, vendor="V", security_key="K") == expected
    assert as_transaction != expected


def test_notification_bodies_are_iso_8859_1(
    opayo_sandbox: OpayoSandboxHandle, opayo_merchant: MerchantEndpoint
) -> None:
    reply = _register(opayo_sandbox, opayo_merchant.url)
    opayo_sandbox.client.post(
        f"/_sandbox/server/{reply['VPSTxId']}/complete",
        json={"card": VISA, "outcome": "NOTAUTHED", "statusDetail": "Refusé par la banque"},
    )
    wait_until(opayo_merchant.snapshot)
    raw = opayo_merchant.raw[0]
    assert b"Refus%E9" in raw  # the Latin-1 byte, percent-encoded: not UTF-8's %C3%A9
    assert b"%C3%A9" not in raw
    assert opayo_merchant.snapshot()[0]["StatusDetail"] == "2000 : Refusé par la banque"
