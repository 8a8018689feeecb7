"""Reporting & Admin API over real HTTP: signatures, the four commands, daily settlement into
batches per acquiring bank, and the fee schedule."""

from __future__ import annotations

from decimal import Decimal
from xml.etree.ElementTree import Element

import httpx
import pytest
from defusedxml.ElementTree import fromstring

from opayo_fba.opayo.signatures import build_reporting_request, compute_reporting_signature
from sandbox.opayo import OpayoSandboxOptions
from sandbox.opayo.options import DEFAULT_REPORTING_PASSWORD, FeeRule
from tests.fixtures.opayo_sandbox import AMEX, VISA, OpayoSandboxHandle

pytestmark = pytest.mark.integration
# The fixture clock starts at 09:00 UTC on 2 March 2026; this is the next midnight.
TO_MIDNIGHT = 15 * 3600
DAY_RANGE = [("startdate", "01/03/2026 00:00:00"), ("enddate", "10/03/2026 00:00:00")]


def _post_xml(sandbox: OpayoSandboxHandle, xml: str) -> dict[str, str]:
    response = httpx.post(f"{sandbox.url}/access/access.htm", data={"XML": xml})
    assert response.status_code == 200
    root = fromstring(response.text)
    assert root.tag == "vspaccess"
    return {child.tag: child.text or "" for child in root if not len(child)}


def _command(
    sandbox: OpayoSandboxHandle,
    command: str,
    parameters: list[tuple[str, str]],
    *,
    password: str = DEFAULT_REPORTING_PASSWORD,
    user: str = "sandbox-user",
) -> httpx.Response:
    xml = build_reporting_request(
        command=command, vendor="sandbox", user=user, parameters=parameters, password=password
    )
    response = httpx.post(f"{sandbox.url}/access/access.htm", data={"XML": xml})
    assert response.status_code == 200
    return response


def _ok(sandbox: OpayoSandboxHandle, command: str, parameters: list[tuple[str, str]]) -> Element:
    root = fromstring(_command(sandbox, command, parameters).text)
    assert root.findtext("errorcode") == "0000", root.findtext("error")
    return root


def test_wrong_password_signature_is_rejected(opayo_sandbox: OpayoSandboxHandle) -> None:
    root = fromstring(_command(opayo_sandbox, "getBatchList", DAY_RANGE, password="guess").text)
    assert root.findtext("errorcode") == "0011"
    assert "signature" in (root.findtext("error") or "")
    assert root.find("batches") is None


def test_unknown_user_is_rejected(opayo_sandbox: OpayoSandboxHandle) -> None:
    root = fromstring(_command(opayo_sandbox, "getBatchList", DAY_RANGE, user="mallory").text)
    assert root.findtext("errorcode") == "0010"


def test_tampered_parameters_fail_the_signature(opayo_sandbox: OpayoSandboxHandle) -> None:
    xml = build_reporting_request(
        command="getTransactionDetail",
        vendor="sandbox",
        user="sandbox-user",
        parameters=[("vendortxcode", "order-1")],
        password="sandbox-password",
    )
    tampered = xml.replace("order-1", "order-2")
    assert _post_xml(opayo_sandbox, tampered)["errorcode"] == "0011"


def test_signature_is_case_insensitive(opayo_sandbox: OpayoSandboxHandle) -> None:
    opayo_sandbox.pay(vendor_tx_code="order-1")
    signature = compute_reporting_signature(
        command="getTransactionDetail",
        vendor="sandbox",
        user="sandbox-user",
        parameters=[("vendortxcode", "order-1")],
        password="sandbox-password",
    ).upper()
    xml = (
        "<vspaccess><command>getTransactionDetail</command><vendor>sandbox</vendor>"
        "<user>sandbox-user</user><vendortxcode>order-1</vendortxcode>"
        f"<signature>{signature}</signature></vspaccess>"
    )
    assert _post_xml(opayo_sandbox, xml)["errorcode"] == "0000"


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        ("", "0001"),
        ("<vspaccess><command>getBatchList", "0001"),
        ("<other/>", "0001"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            "<vspaccess><command>&b;</command></vspaccess>",
            "0001",
        ),
        (
            "<vspaccess><command>getBatchList</command><vendor>sandbox</vendor>"
            "<user>sandbox-user</user><password>sandbox-password</password></vspaccess>",
            "0012",
        ),
    ],
)
def test_malformed_requests(opayo_sandbox: OpayoSandboxHandle, xml: str, code: str) -> None:
    answer = _post_xml(opayo_sandbox, xml)
    assert answer["errorcode"] == code
    assert answer["error"]


def test_unknown_command(opayo_sandbox: OpayoSandboxHandle) -> None:
    root = fromstring(_command(opayo_sandbox, "deleteEverything", []).text)
    assert root.findtext("errorcode") == "0008"


def test_get_transaction_detail(opayo_sandbox: OpayoSandboxHandle) -> None:
    payment = opayo_sandbox.pay("Deferred", 12345, vendor_tx_code="order-7")
    opayo_sandbox.instruct(payment["transactionId"], "release", 10000)
    by_code = _ok(opayo_sandbox, "getTransactionDetail", [("vendortxcode", "order-7")])
    transaction = by_code.find("transaction")
    assert transaction is not None
    assert transaction.findtext("vpstxid") == "{" + payment["transactionId"] + "}"
    assert transaction.findtext("amount") == "123.45"
    assert transaction.findtext("currency") == "GBP"
    assert transaction.findtext("started") == "02/03/2026 09:00:00.000"
    # Only the elements Opayo has: the state is txstateid, the card scheme paymentsystem.
    assert transaction.findtext("txstateid") == "16"  # released (our assumption, OPAYO-RPT-03)
    assert transaction.findtext("paymentsystem") == "VISA"
    for invented in ("released", "releasedamount", "aborted", "voided", "cardtype"):
        assert transaction.find(invented) is None, invented
    by_id = _ok(
        opayo_sandbox, "getTransactionDetail", [("vpstxid", "{" + payment["transactionId"] + "}")]
    )
    assert by_id.findtext("transaction/vendortxcode") == "order-7"
    missing = fromstring(
        _command(opayo_sandbox, "getTransactionDetail", [("vendortxcode", "nope")]).text
    )
    assert missing.findtext("errorcode") == "0043"
    missing_id = fromstring(
        _command(opayo_sandbox, "getTransactionDetail", [("vpstxid", "{NOPE}")]).text
    )
    assert missing_id.findtext("errorcode") == "0048"


def _state(sandbox: OpayoSandboxHandle, vendor_tx_code: str) -> str | None:
    root = _ok(sandbox, "getTransactionDetail", [("vendortxcode", vendor_tx_code)])
    return root.findtext("transaction/txstateid")


def test_txstateid_follows_the_transaction(opayo_sandbox: OpayoSandboxHandle) -> None:
    """OPAYO-RPT-03: the Reporting API's transaction states (Stack Overflow 40176413)."""
    deferred = opayo_sandbox.pay("Deferred", 1000, vendor_tx_code="st-deferred")
    assert _state(opayo_sandbox, "st-deferred") == "14"  # awaiting release
    opayo_sandbox.instruct(deferred["transactionId"], "abort")
    assert _state(opayo_sandbox, "st-deferred") == "19"  # aborted by the vendor
    payment = opayo_sandbox.pay("Payment", 1000, vendor_tx_code="st-payment")
    assert _state(opayo_sandbox, "st-payment") == "16"
    opayo_sandbox.instruct(payment["transactionId"], "void")
    assert _state(opayo_sandbox, "st-payment") == "18"
    declined = opayo_sandbox.transaction_body("Payment", 40300)
    declined["vendorTxCode"] = "st-declined"
    assert opayo_sandbox.create_transaction(declined).status_code == 403
    assert _state(opayo_sandbox, "st-declined") == "12"
    opayo_sandbox.pay("Deferred", 1000, vendor_tx_code="st-expired")
    opayo_sandbox.advance(31 * 24 * 3600)
    assert _state(opayo_sandbox, "st-expired") == "27"


def test_a_refund_names_its_payment(opayo_sandbox: OpayoSandboxHandle) -> None:
    """OPAYO-RPT-04: relatedtransactionid / relatedvendortxcode on a refund."""
    payment = opayo_sandbox.pay("Payment", 1000, vendor_tx_code="rel-payment")
    refund = opayo_sandbox.create_transaction(
        {
            "transactionType": "Refund",
            "referenceTransactionId": payment["transactionId"],
            "vendorTxCode": "rel-refund",
            "amount": 400,
            "currency": "GBP",
            "description": "Part refund",
        }
    )
    assert refund.status_code == 201
    root = _ok(opayo_sandbox, "getTransactionDetail", [("vendortxcode", "rel-refund")])
    assert root.findtext("transaction/relatedvendortxcode") == "rel-payment"
    assert root.findtext("transaction/relatedtransactionid") == "{" + payment["transactionId"] + "}"
    original = _ok(opayo_sandbox, "getTransactionDetail", [("vendortxcode", "rel-payment")])
    assert original.findtext("transaction/refunded") == "YES"


def test_get_transaction_list_pages(opayo_sandbox: OpayoSandboxHandle) -> None:
    for index in range(3):
        opayo_sandbox.pay(vendor_tx_code=f"list-{index}")
    root = _ok(
        opayo_sandbox, "getTransactionList", [*DAY_RANGE, ("startrow", "2"), ("endrow", "3")]
    )
    assert root.findtext("transactions/totalrows") == "3"
    codes = [t.findtext("vendortxcode") for t in root.iter("transaction")]
    assert codes == ["list-1", "list-2"]
    bad = fromstring(
        _command(opayo_sandbox, "getTransactionList", [("startdate", "2026-03-01")]).text
    )
    assert bad.findtext("errorcode") == "0004"
    assert "startdate" in (bad.findtext("error") or "")


def test_daily_settlement_batches_per_bank_with_fees(opayo_sandbox: OpayoSandboxHandle) -> None:
    visa = opayo_sandbox.pay("Payment", 10000, card=VISA, vendor_tx_code="s-visa")
    opayo_sandbox.pay("Payment", 10000, card=AMEX, vendor_tx_code="s-amex")
    deferred = opayo_sandbox.pay("Deferred", 8000, card=VISA, vendor_tx_code="s-deferred")
    opayo_sandbox.pay("Deferred", 8000, card=VISA, vendor_tx_code="s-unreleased")
    voided = opayo_sandbox.pay("Payment", 5000, card=VISA, vendor_tx_code="s-voided")
    declined = opayo_sandbox.create_transaction(opayo_sandbox.transaction_body("Payment", 40300))
    assert declined.status_code == 403
    opayo_sandbox.instruct(deferred["transactionId"], "release", 6000)
    opayo_sandbox.instruct(voided["transactionId"], "void")
    refund = opayo_sandbox.create_transaction(
        {
            "transactionType": "Refund",
            "referenceTransactionId": visa["transactionId"],
            "vendorTxCode": "s-refund",
            "amount": 3000,
            "currency": "GBP",
            "description": "Returned one",
        }
    )
    assert refund.status_code == 201
    assert opayo_sandbox.batches() == []
    assert _ok(opayo_sandbox, "getBatchList", DAY_RANGE).find("batches/batch") is None

    opayo_sandbox.advance(TO_MIDNIGHT - 1)
    assert opayo_sandbox.batches() == []
    opayo_sandbox.advance(1)
    batches = {b["authProcessor"]: b for b in opayo_sandbox.batches()}
    assert set(batches) == {"Elavon", "American Express"}
    elavon = batches["Elavon"]
    assert elavon["businessDate"] == "2026-03-02"
    items = {item["vendorTxCode"]: item for item in elavon["items"]}
    assert set(items) == {"s-visa", "s-deferred", "s-refund"}
    # Default VISA terms: 2 minor units + 1.20 %, rounded half up.
    assert (items["s-visa"]["amount"], items["s-visa"]["fee"]) == (10000, 122)
    assert (items["s-deferred"]["amount"], items["s-deferred"]["fee"]) == (6000, 74)
    assert (items["s-refund"]["amount"], items["s-refund"]["fee"], items["s-refund"]["net"]) == (
        -3000,
        38,
        -3038,
    )
    assert elavon["totals"]["GBP"] == {"count": 3, "gross": 13000, "fees": 234, "net": 12766}
    assert batches["American Express"]["items"][0]["fee"] == 250

    listed = _ok(opayo_sandbox, "getBatchList", DAY_RANGE)
    summary = {b.findtext("authprocessorname"): b for b in listed.iter("batch")}
    assert set(summary) == {"Elavon", "American Express"}
    assert summary["Elavon"].findtext("completed") == "03/03/2026 00:00:00.000"
    (group,) = summary["Elavon"].iter("transactiongroup")
    assert {child.tag: child.text for child in group} == {
        "currency": "GBP",
        "paymentnumber": "2",
        "paymentvalue": "160.00",
        "refundnumber": "1",
        "refundvalue": "30.00",
    }
    for invented in ("authprocessor", "businessdate", "settledate", "totals", "totalrows"):
        assert summary["Elavon"].find(invented) is None, invented
    detail = _ok(
        opayo_sandbox,
        "getBatchDetail",
        [("batchid", str(elavon["batchId"])), ("authprocessor", "Elavon")],
    )
    assert detail.find("transactions/totalrows") is None  # not confirmed to exist: left out
    rows = {t.findtext("vendortxcode"): t for t in detail.iter("transaction")}
    assert rows["s-refund"].findtext("amount") == "-30.00"
    assert rows["s-visa"].findtext("paymentsystem") == "VISA"
    assert rows["s-visa"].findtext("started") == "02/03/2026 09:00:00.000"
    assert rows["s-visa"].find("fee") is None  # Opayo reports no fees (merchant terms)
    wrong_bank = fromstring(
        _command(
            opayo_sandbox,
            "getBatchDetail",
            [("batchid", str(elavon["batchId"])), ("authprocessor", "American Express")],
        ).text
    )
    assert wrong_bank.findtext("errorcode") == "0050"
    # Settled transactions say so, and can no longer be voided.
    state = opayo_sandbox.sandbox_transaction("s-visa")
    assert state["batchId"] == elavon["batchId"]
    assert opayo_sandbox.instruct(visa["transactionId"], "void").status_code == 403
    # A batch once formed never changes: a later day gets a new batch.
    opayo_sandbox.instruct(
        opayo_sandbox.sandbox_transaction("s-unreleased")["transactionId"], "release"
    )
    opayo_sandbox.advance(24 * 3600)
    later = [b for b in opayo_sandbox.batches() if b["businessDate"] == "2026-03-03"]
    assert [[i["vendorTxCode"] for i in b["items"]] for b in later] == [["s-unreleased"]]
    assert {b["batchId"]: b for b in opayo_sandbox.batches()}[elavon["batchId"]] == elavon


class TestConfiguredFees:
    @pytest.fixture
    def opayo_sandbox_options(
        self, opayo_sandbox_options: OpayoSandboxOptions
    ) -> OpayoSandboxOptions:
        return opayo_sandbox_options.model_copy(
            update={
                "fees": {
                    "VISA": FeeRule(fixed_minor=20, percent=Decimal("2.5")),
                    "*": FeeRule(fixed_minor=0, percent=Decimal("0")),
                },
                "acquirers": {"*": "Barclaycard"},
            }
        )

    def test_fee_schedule_is_configurable(self, opayo_sandbox: OpayoSandboxHandle) -> None:
        opayo_sandbox.pay("Payment", 1001, card=VISA, vendor_tx_code="f-visa")
        opayo_sandbox.pay("Payment", 1001, card=AMEX, vendor_tx_code="f-amex")
        opayo_sandbox.advance(TO_MIDNIGHT)
        (batch,) = opayo_sandbox.batches()
        assert batch["authProcessor"] == "Barclaycard"
        fees = {item["vendorTxCode"]: item["fee"] for item in batch["items"]}
        # 20 + 2.5 % of 1001 = 20 + 25.025 -> 45; AMEX falls back to "*": free.
        assert fees == {"f-visa": 45, "f-amex": 0}


def test_server_payments_settle_too(opayo_sandbox: OpayoSandboxHandle) -> None:
    form = {
        "VPSProtocol": "4.00",
        "TxType": "PAYMENT",
        "Vendor": "sandbox",
        "VendorTxCode": "srv-pay",
        "Amount": "20.00",
        "Currency": "GBP",
        "Description": "Hosted page order",
        "NotificationURL": "http://127.0.0.1:9/unreachable",
        **dict.fromkeys(("BillingSurname", "BillingFirstnames", "DeliverySurname"), "Jones"),
        **dict.fromkeys(("BillingAddress1", "DeliveryAddress1", "DeliveryFirstnames"), "Sam"),
        **dict.fromkeys(("BillingCity", "DeliveryCity"), "London"),
        **dict.fromkeys(("BillingCountry", "DeliveryCountry"), "GB"),
    }
    registered = opayo_sandbox.client.post("/gateway/service/vspserver-register.vsp", data=form)
    vps_tx_id = dict(line.split("=", 1) for line in registered.text.split("\r\n") if line)[
        "VPSTxId"
    ]
    done = opayo_sandbox.client.post(
        f"/_sandbox/server/{vps_tx_id}/complete", json={"card": VISA, "outcome": "OK"}
    )
    assert done.status_code == 200
    opayo_sandbox.advance(TO_MIDNIGHT)
    (batch,) = opayo_sandbox.batches()
    (item,) = batch["items"]
    assert (item["vpsTxId"], item["amount"], item["fee"]) == (vps_tx_id, 2000, 26)


class TestBatchesLargerThanOnePage:
    """OPAYO-RPT-06/07/08: getBatchDetail pages by startrow/endrow; a page holds at most
    `reporting_page_rows`; totalrows and the card-scheme element follow the options."""

    @pytest.fixture
    def opayo_sandbox_options(
        self, opayo_sandbox_options: OpayoSandboxOptions
    ) -> OpayoSandboxOptions:
        return opayo_sandbox_options.model_copy(
            update={
                "reporting_page_rows": 2,
                "batch_detail_totalrows": True,
                "batch_detail_card_element": "cardtype",
            }
        )

    def test_pages(self, opayo_sandbox: OpayoSandboxHandle) -> None:
        for index in range(5):
            opayo_sandbox.pay("Payment", 1000 + index, vendor_tx_code=f"big-{index}")
        opayo_sandbox.advance(TO_MIDNIGHT)
        (batch,) = opayo_sandbox.batches()
        parameters = [("batchid", str(batch["batchId"])), ("authprocessor", "Elavon")]
        seen: list[str | None] = []
        for start in (1, 3, 5):
            page = _ok(
                opayo_sandbox,
                "getBatchDetail",
                [*parameters, ("startrow", str(start)), ("endrow", str(start + 9))],
            )
            assert page.findtext("transactions/totalrows") == "5"
            assert page.findtext("transactions/startrow") == str(start)
            rows = list(page.iter("transaction"))
            assert len(rows) == (2 if start < 5 else 1)  # cut to the page size
            assert {row.findtext("cardtype") for row in rows} == {"VISA"}
            assert all(row.find("paymentsystem") is None for row in rows)
            seen += [row.findtext("vendortxcode") for row in rows]
        assert seen == [f"big-{index}" for index in range(5)]
        without_processor = fromstring(
            _command(opayo_sandbox, "getBatchDetail", parameters[:1]).text
        )
        assert without_processor.findtext("errorcode") == "0004"
