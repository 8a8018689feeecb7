"""3-D Secure 2 on the Pi API, over real HTTP: the strongCustomerAuthentication object, the
cardholder-name magic, the stand-in ACS and the 3d-secure-challenge call, abandoned
challenges, and Refunds with or without a currency (docs/sandbox-opayo.md, "3-D Secure 2")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.opayo.browser import answer_challenge
from sandbox.opayo.three_d_secure import decode_message
from tests.fixtures.opayo_sandbox import BROWSER_DATA, OpayoSandboxHandle

pytestmark = pytest.mark.integration


def _challenged(sandbox: OpayoSandboxHandle, kind: str = "Deferred") -> tuple[dict[str, Any], str]:
    body = sandbox.transaction_body(kind, cardholder_name="CHALLENGE")
    response = sandbox.create_transaction(body)
    assert response.status_code == 202, response.text
    return response.json(), body["vendorTxCode"]


def _complete(sandbox: OpayoSandboxHandle, transaction_id: str, c_res: str) -> httpx.Response:
    return sandbox.client.post(
        f"/api/v1/transactions/{transaction_id}/3d-secure-challenge",
        json={"cRes": c_res, "threeDSSessionData": "T1JERVItMQ"},
    )


@pytest.mark.parametrize("kind", ["Payment", "Deferred"])
def test_an_ecommerce_transaction_without_browser_data_is_refused(
    opayo_sandbox: OpayoSandboxHandle, kind: str
) -> None:
    body = opayo_sandbox.transaction_body(kind)
    del body["strongCustomerAuthentication"]
    refused = opayo_sandbox.create_transaction(body)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["property"] == "strongCustomerAuthentication"
    # A refusal changes nothing: the vendorTxCode is still free.
    assert (
        opayo_sandbox.client.get(f"/_sandbox/transactions/{body['vendorTxCode']}").status_code
        == 404
    )
    # An absent entryMethod is Ecommerce, too.
    del body["entryMethod"]
    body["paymentMethod"]["card"] = dict(
        zip(("merchantSessionKey", "cardIdentifier"), opayo_sandbox.card_identifier(), strict=True)
    )
    assert opayo_sandbox.create_transaction(body).status_code == 422


def test_a_telephone_order_needs_no_browser_data(opayo_sandbox: OpayoSandboxHandle) -> None:
    body = opayo_sandbox.transaction_body(entryMethod="TelephoneOrder")
    del body["strongCustomerAuthentication"]
    created = opayo_sandbox.create_transaction(body)
    assert created.status_code == 201, created.text
    assert created.json()["3DSecure"]["status"] == "NotChecked"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("notificationURL", "not a url"),
        ("notificationURL", None),
        ("browserIP", "999.1.1.1"),
        ("browserAcceptHeader", "x" * 2049),
        ("browserJavascriptEnabled", "yes"),
        ("browserLanguage", None),
        ("browserUserAgent", None),
        ("challengeWindowSize", "Huge"),
        ("transType", "Gift"),
        ("browserColorDepth", "23"),
        ("browserScreenHeight", None),
        ("browserScreenWidth", "wide"),
        ("browserTZ", None),
    ],
)
def test_each_browser_field_is_checked_naming_it(
    opayo_sandbox: OpayoSandboxHandle, field: str, value: Any
) -> None:
    body = opayo_sandbox.transaction_body()
    if value is None:
        del body["strongCustomerAuthentication"][field]
    else:
        body["strongCustomerAuthentication"][field] = value
    refused = opayo_sandbox.create_transaction(body)
    assert refused.status_code == 422
    properties = [e["property"] for e in refused.json()["errors"]]
    assert properties == [f"strongCustomerAuthentication.{field}"]


def test_without_javascript_the_screen_fields_are_not_needed(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    sca = {
        k: v
        for k, v in BROWSER_DATA.items()
        if k not in ("browserColorDepth", "browserScreenHeight", "browserScreenWidth", "browserTZ")
    }
    sca["browserJavascriptEnabled"] = False
    body = opayo_sandbox.transaction_body(strongCustomerAuthentication=sca)
    assert opayo_sandbox.create_transaction(body).status_code == 201


def test_frictionless_names_pass_or_fail_without_a_challenge(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    passed = opayo_sandbox.create_transaction(
        opayo_sandbox.transaction_body("Deferred", cardholder_name="SUCCESSFUL")
    )
    assert passed.status_code == 201
    assert (passed.json()["status"], passed.json()["3DSecure"]["status"]) == ("Ok", "Authenticated")
    failed = opayo_sandbox.create_transaction(
        opayo_sandbox.transaction_body("Deferred", cardholder_name="NOTAUTH")
    )
    assert failed.status_code == 403
    assert failed.json()["status"] == "Rejected"
    assert failed.json()["statusCode"] == "4026"
    assert failed.json()["3DSecure"]["status"] == "NotAuthenticated"


def test_challenge_through_the_acs_completes_the_payment(opayo_sandbox: OpayoSandboxHandle) -> None:
    challenged, vendor_tx_code = _challenged(opayo_sandbox)
    assert (challenged["status"], challenged["statusCode"]) == ("3DAuth", "2021")
    assert challenged["acsUrl"].startswith(opayo_sandbox.url)
    creq = decode_message(challenged["cReq"])
    assert creq is not None
    assert creq["messageType"] == "CReq"
    # A GET shows the same challenge while it waits.
    again = opayo_sandbox.client.get(f"/api/v1/transactions/{challenged['transactionId']}")
    assert again.json()["acsUrl"] == challenged["acsUrl"]

    returned = answer_challenge(challenged["acsUrl"], challenged["cReq"], "T1JERVItMQ")
    assert returned.notification_url == BROWSER_DATA["notificationURL"]
    assert returned.three_ds_session_data == "T1JERVItMQ"
    done = _complete(opayo_sandbox, challenged["transactionId"], returned.c_res)
    assert done.status_code == 201, done.text
    assert (done.json()["status"], done.json()["3DSecure"]["status"]) == ("Ok", "Authenticated")
    # Completed once: a second completion is refused and changes nothing.
    assert _complete(opayo_sandbox, challenged["transactionId"], returned.c_res).status_code == 403
    record = opayo_sandbox.sandbox_transaction(vendor_tx_code)
    assert (record["status"], record["captureCount"]) == ("Ok", 0)  # a Deferred, not captured


def test_a_failed_challenge_rejects_the_payment(opayo_sandbox: OpayoSandboxHandle) -> None:
    challenged, _ = _challenged(opayo_sandbox, "Payment")
    returned = answer_challenge(challenged["acsUrl"], challenged["cReq"], None, authenticate=False)
    assert returned.three_ds_session_data is None
    refused = _complete(opayo_sandbox, challenged["transactionId"], returned.c_res)
    assert refused.status_code == 403
    assert (refused.json()["status"], refused.json()["statusCode"]) == ("Rejected", "4026")


@pytest.mark.parametrize("c_res", ["Y", "N", "bm90IGpzb24"])
def test_a_cres_the_acs_did_not_issue_is_refused(
    opayo_sandbox: OpayoSandboxHandle, c_res: str
) -> None:
    challenged, vendor_tx_code = _challenged(opayo_sandbox)
    refused = _complete(opayo_sandbox, challenged["transactionId"], c_res)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["property"] == "cRes"
    assert opayo_sandbox.sandbox_transaction(vendor_tx_code)["status"] == "3DAuth"


def test_another_transactions_cres_is_refused(opayo_sandbox: OpayoSandboxHandle) -> None:
    first, _ = _challenged(opayo_sandbox)
    second, _ = _challenged(opayo_sandbox)
    returned = answer_challenge(first["acsUrl"], first["cReq"], None)
    assert _complete(opayo_sandbox, second["transactionId"], returned.c_res).status_code == 422


def test_an_abandoned_challenge_is_cancelled_after_15_minutes(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    challenged, vendor_tx_code = _challenged(opayo_sandbox)
    opayo_sandbox.advance(14 * 60)
    assert opayo_sandbox.sandbox_transaction(vendor_tx_code)["status"] == "3DAuth"
    opayo_sandbox.advance(61)
    record = opayo_sandbox.sandbox_transaction(vendor_tx_code)
    assert (record["status"], record["threeDSecureStatus"]) == ("Rejected", "Incomplete")
    assert record["captureCount"] == 0
    read = opayo_sandbox.client.get(f"/api/v1/transactions/{challenged['transactionId']}")
    assert read.json()["status"] == "Rejected"
    assert "acsUrl" not in read.json()
    # The shopper who comes back late finds no challenge, and Pi takes no result for it.
    late = httpx.post(challenged["acsUrl"], data={"creq": challenged["cReq"]})
    assert late.status_code == 404
    assert _complete(opayo_sandbox, challenged["transactionId"], "Y").status_code == 403


def test_the_acs_refuses_a_missing_creq_and_a_bad_outcome(
    opayo_sandbox: OpayoSandboxHandle,
) -> None:
    challenged, _ = _challenged(opayo_sandbox)
    assert httpx.post(challenged["acsUrl"], data={}).status_code == 400
    creq = decode_message(challenged["cReq"])
    assert creq is not None
    result_url = f"{opayo_sandbox.url}/_sandbox/acs/{creq['acsTransID']}"
    assert httpx.post(result_url, data={"outcome": "maybe"}).status_code == 400


@pytest.mark.parametrize("with_currency", [True, False])
def test_a_refund_is_accepted_with_or_without_currency(
    opayo_sandbox: OpayoSandboxHandle, with_currency: bool
) -> None:
    payment = opayo_sandbox.pay("Payment", 1500)
    body: dict[str, Any] = {
        "transactionType": "Refund",
        "referenceTransactionId": payment["transactionId"],
        "vendorTxCode": f"refund-{with_currency}",
        "amount": 500,
        "description": "Refund",
    }
    if with_currency:
        body["currency"] = "GBP"
    refunded = opayo_sandbox.create_transaction(body)
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["currency"] == "GBP"
    wrong = dict(body, vendorTxCode=f"refund-eur-{with_currency}", currency="EUR")
    assert opayo_sandbox.create_transaction(wrong).status_code == 422
