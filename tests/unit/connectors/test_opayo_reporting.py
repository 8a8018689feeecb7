"""Reporting API answers as Opayo words them, fed through an httpx transport (no network)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from opayo_fba.model.money import Money
from opayo_fba.opayo.credentials import VendorCredentials
from opayo_fba.opayo.errors import OpayoTransactionNotFound, ReportingApiError
from opayo_fba.opayo.pi import refund_vendor_tx_code
from opayo_fba.opayo.reporting import ReportingClient, TransactionDetail
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
        "<txstateid>14</txstateid><status>Successful DEFERRED transaction, awaiting RELEASE."
        "</status><amount>1234.50</amount><currency>GBP</currency>"
        "<started>02/03/2026 08:59:58.120</started><paymentsystem>VISA</paymentsystem>"
        "<batchid></batchid></vspaccess>"
    )
    detail = client(xml(body)).get_transaction_detail(vendor_tx_code="order-1")
    assert detail.transaction_id == "6B4C5C8E-7F43-4C1B-9E3F-1D2A3B4C5D6E"
    assert (detail.tx_state_id, detail.payment_system, detail.batch_id) == ("14", "VISA", "")
    assert detail.instruction_applied("release") is False
    # dd/mm/yyyy: the 2nd of March, read as UTC (Opayo documents no zone).
    assert detail.started == datetime(2026, 3, 2, 8, 59, 58, 120000, tzinfo=UTC)
    assert detail.amount == Money(amount=123450, currency="GBP")


def _detail(transaction_type: str, state: str | None, batch_id: str = "") -> TransactionDetail:
    return TransactionDetail(
        vps_tx_id="{X}",
        vendor_tx_code="o-1",
        transaction_type=transaction_type,
        status="",
        tx_state_id=state,
        amount=None,
        started=None,
        batch_id=batch_id,
    )


@pytest.mark.parametrize(
    ("transaction_type", "state", "batch_id", "instruction", "applied"),
    [
        ("Deferred", "14", "", "release", False),  # awaiting release
        ("Deferred", "16", "", "release", True),  # our assumption: a released Deferred is 16
        ("DEFERRED", "16", "", "release", True),
        ("Deferred", "19", "", "release", False),  # aborted
        ("Deferred", "27", "", "release", False),  # expired
        # The other reading: a released Deferred shows a state we do not know. Unknown...
        ("Deferred", "31", "", "release", None),
        ("Deferred", None, "", "release", None),
        # ...unless it was batched: only captured money settles.
        ("Deferred", "31", "77", "release", True),
        ("Payment", "16", "", "release", False),  # a Payment is never "released"
        ("Payment", "16", "", "abort", False),
        ("Deferred", "14", "", "void", False),
        ("Deferred", "19", "", "abort", True),
        ("Deferred", "14", "", "abort", False),
        ("Deferred", "16", "", "abort", False),
        ("Deferred", "31", "", "abort", None),
        ("Payment", "18", "", "void", True),
        ("Payment", "16", "", "void", False),
        ("Payment", "31", "", "void", None),
    ],
)
def test_txstateid_says_whether_an_instruction_was_applied(
    transaction_type: str, state: str | None, batch_id: str, instruction: str, applied: bool | None
) -> None:
    detail = _detail(transaction_type, state, batch_id)
    assert detail.instruction_applied(instruction) is applied


BATCH_LIST = (
    "<vspaccess><errorcode>0000</errorcode><timestamp>03/03/2026 01:00:00</timestamp><batches>"
    "<batch><batchid>501</batchid><authprocessorname>Elavon</authprocessorname>"
    "<completed>03/03/2026 00:05:12.345</completed><transactiongroups>"
    "<transactiongroup><currency>GBP</currency><paymentnumber>3</paymentnumber>"
    "<paymentvalue>130.00</paymentvalue><refundnumber>1</refundnumber>"
    "<refundvalue>30.00</refundvalue></transactiongroup>"
    "<transactiongroup><currency>EUR</currency><paymentnumber>1</paymentnumber>"
    "<paymentvalue>9.99</paymentvalue><refundvalue>0.00</refundvalue></transactiongroup>"
    "</transactiongroups></batch></batches></vspaccess>"
)


def test_batch_list_is_read_with_the_real_element_names() -> None:
    (batch,) = client(xml(BATCH_LIST)).get_batch_list(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
    )
    assert (batch.batch_id, batch.auth_processor) == ("501", "Elavon")
    assert batch.completed == datetime(2026, 3, 3, 0, 5, 12, 345000, tzinfo=UTC)
    gbp, eur = batch.groups
    assert (gbp.currency, gbp.payment_number, gbp.refund_number) == ("GBP", 3, 1)
    assert (gbp.payment_value, gbp.refund_value) == (
        Money(amount=13000, currency="GBP"),
        Money(amount=3000, currency="GBP"),
    )
    assert (eur.payment_number, eur.refund_number) == (1, 0)  # refundnumber may be absent
    assert batch.expected_rows == 5


def _rows(codes: list[str], card_element: str) -> str:
    return "".join(
        f"<transaction><vendortxcode>{code}</vendortxcode><transactiontype>Payment"
        f"</transactiontype><{card_element}>VISA</{card_element}><currency>GBP</currency>"
        f"<amount>1.00</amount></transaction>"
        for code in codes
    )


def paged(
    codes: list[str], *, limit: int, total_rows: bool, card_element: str = "paymentsystem"
) -> tuple[Callable[[httpx.Request], httpx.Response], list[tuple[int, int]]]:
    """getBatchDetail that answers at most `limit` rows a page, with or without totalrows."""
    asked: list[tuple[int, int]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent = parse_qs(request.content.decode())["XML"][0]
        start = int(sent.split("<startrow>")[1].split("<")[0])
        end = int(sent.split("<endrow>")[1].split("<")[0])
        asked.append((start, end))
        page = codes[start - 1 : min(end, start - 1 + limit)]
        total = f"<totalrows>{len(codes)}</totalrows>" if total_rows else ""
        body = (
            "<vspaccess><errorcode>0000</errorcode><transactions>"
            f"{total}{_rows(page, card_element)}</transactions></vspaccess>"
        )
        return httpx.Response(200, text=body)

    return answer, asked


@pytest.mark.parametrize("total_rows", [True, False])
@pytest.mark.parametrize("card_element", ["paymentsystem", "cardtype"])
def test_batch_detail_pages_until_the_count_from_the_batch_list(
    total_rows: bool, card_element: str
) -> None:
    codes = [f"o-{index}" for index in range(7)]
    answer, asked = paged(codes, limit=3, total_rows=total_rows, card_element=card_element)
    rows = client(answer).get_batch_detail("501", "Elavon", expected_rows=7, page_size=5)
    assert [row.vendor_tx_code for row in rows] == codes
    assert {row.card_scheme for row in rows} == {"VISA"}
    # Opayo gave 3 of the 5 rows asked each time; every page starts after the last row.
    assert asked == [(1, 5), (4, 8), (7, 11)]


def test_batch_detail_without_a_count_stops_at_a_short_page() -> None:
    answer, asked = paged([f"o-{i}" for i in range(4)], limit=10, total_rows=False)
    rows = client(answer).get_batch_detail("501", "Elavon", page_size=3)
    assert len(rows) == 4
    assert asked == [(1, 3), (4, 6)]


def test_batch_detail_that_runs_out_before_the_count_is_an_error() -> None:
    answer, _ = paged(["o-1", "o-2"], limit=10, total_rows=False)
    with pytest.raises(ReportingApiError, match="stopped at row 2 of 3"):
        client(answer).get_batch_detail("501", "Elavon", expected_rows=3)


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
