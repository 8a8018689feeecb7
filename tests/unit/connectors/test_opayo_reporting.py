"""Reporting API answers as Opayo words them, fed through an httpx transport (no network)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from opayo_fba.model.money import Money
from opayo_fba.opayo.credentials import VendorCredentials
from opayo_fba.opayo.errors import OpayoTransactionNotFound, ReportingApiError
from opayo_fba.opayo.pi import refund_vendor_tx_code
from opayo_fba.opayo.reporting import ReportingClient
from opayo_fba.opayo.signatures import compute_reporting_signature

CREDENTIALS = VendorCredentials(
    vendor_name="shop",
    integration_key="k",
    integration_password="p",
    reporting_user="reporter",
    reporting_password="secret-password",
)


def client(answer: Callable[[httpx.Request], httpx.Response]) -> ReportingClient:
    return ReportingClient(
        CREDENTIALS,
        url="https://reporting.test/access/access.htm",
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )


def xml(body: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "application/xml"})

    return answer


def test_requests_are_signed_and_never_carry_the_password() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(parse_qs(request.content.decode())["XML"][0])
        return httpx.Response(200, text="<vspaccess><errorcode>0043</errorcode></vspaccess>")

    assert client(answer).find_transaction("order-1") is None
    sent = seen[0]
    assert "secret-password" not in sent
    assert "<password>" not in sent
    signature = compute_reporting_signature(
        command="getTransactionDetail",
        vendor="shop",
        user="reporter",
        parameters=[("vendortxcode", "order-1")],
        password="secret-password",
    )
    assert f"<signature>{signature}</signature>" in sent


def test_a_flat_transaction_detail_is_read_with_amounts_in_minor_units() -> None:
    body = (
        "<vspaccess><errorcode>0000</errorcode><timestamp>02/03/2026 09:00:00</timestamp>"
        "<vpstxid>{6B4C5C8E-7F43-4C1B-9E3F-1D2A3B4C5D6E}</vpstxid>"
        "<vendortxcode>order-1</vendortxcode><transactiontype>Deferred</transactiontype>"
        "<txstateid>14</txstateid><status>OK</status><amount>1234.50</amount>"
        "<currency>GBP</currency><started>02/03/2026 08:59:58.120</started>"
        "<released>YES</released><releasedamount>1000.00</releasedamount></vspaccess>"
    )
    detail = client(xml(body)).get_transaction_detail(vendor_tx_code="order-1")
    assert detail.transaction_id == "6B4C5C8E-7F43-4C1B-9E3F-1D2A3B4C5D6E"
    assert detail.released is True
    assert detail.released_amount == Money(amount=100000, currency="GBP")
    assert detail.aborted is None  # Opayo did not say
    assert detail.started is not None
    assert detail.started.tzinfo is not None
    assert detail.amount == Money(amount=123450, currency="GBP")


def test_error_codes_are_checked_first() -> None:
    not_found = client(xml("<vspaccess><errorcode>0048</errorcode><error>No</error></vspaccess>"))
    with pytest.raises(OpayoTransactionNotFound):
        not_found.get_transaction_detail(vps_tx_id="6B4C5C8E-7F43-4C1B-9E3F-1D2A3B4C5D6E")
    with pytest.raises(ReportingApiError, match=r"0004.*startdate"):
        client(
            xml("<vspaccess><errorcode>0004</errorcode><error>bad startdate</error></vspaccess>")
        ).command("getBatchList")


def test_entity_tricks_are_refused_not_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<vspaccess><errorcode>0000</errorcode><status>&b;</status></vspaccess>"
    )
    with pytest.raises(ReportingApiError, match="Unparseable"):
        client(xml(bomb)).command("getTransactionDetail", [("vendortxcode", "x")])


def test_refund_vendor_tx_codes_are_deterministic_and_within_opayo_limits() -> None:
    assert refund_vendor_tx_code("R-1") == refund_vendor_tx_code("R-1") == "RFND-R-1"
    long_id = "refund/" + "x" * 80
    code = refund_vendor_tx_code(long_id)
    assert code == refund_vendor_tx_code(long_id)
    assert code.startswith("RFNH-")
    assert len(code) <= 40
    assert refund_vendor_tx_code("R-2") != refund_vendor_tx_code("R-1")
