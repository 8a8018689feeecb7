"""Reports 2021-06-30 and settlement reports through python-amazon-sp-api."""

from __future__ import annotations

import csv
import gzip
import io

import httpx
import pytest
from sp_api.api import FulfillmentOutbound, Reports
from sp_api.base.exceptions import SellingApiBadRequestException, SellingApiNotFoundException

from sandbox.amazon.fulfillment import COMPLETE_AFTER
from sandbox.amazon.reports import DONE_AFTER, IN_PROGRESS_AFTER, SETTLEMENT_REPORT_TYPE
from sandbox.amazon.settlement import COLUMNS
from tests.fixtures.amazon_sandbox import AmazonSandboxHandle, mcf_order_body

pytestmark = pytest.mark.integration

INVENTORY = "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA"


@pytest.fixture
def reports(amazon_sandbox: AmazonSandboxHandle) -> Reports:
    return amazon_sandbox.sp_api_client(Reports)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def test_inventory_report_moves_in_queue_in_progress_done(
    amazon_sandbox: AmazonSandboxHandle, reports: Reports
) -> None:
    created = reports.create_report(reportType=INVENTORY, marketplaceIds=["A1F83G8C2ARO7P"])
    report_id = created.payload["reportId"]
    assert reports.get_report(report_id).payload["processingStatus"] == "IN_QUEUE"
    amazon_sandbox.advance(IN_PROGRESS_AFTER)
    assert reports.get_report(report_id).payload["processingStatus"] == "IN_PROGRESS"
    amazon_sandbox.advance(DONE_AFTER - IN_PROGRESS_AFTER)
    done = reports.get_report(report_id).payload
    assert done["processingStatus"] == "DONE"
    document = reports.get_report_document(done["reportDocumentId"], download=True).payload
    assert document["compressionAlgorithm"] == "GZIP"
    rows = {row["sku"]: row for row in _rows(document["document"])}
    assert rows["OPF-MUG-BLUE"]["afn-fulfillable-quantity"] == "100"
    assert "OPF-OUT-OF-STOCK" not in rows  # unsuppressed inventory only


def test_document_url_serves_gzip_and_expires(
    amazon_sandbox: AmazonSandboxHandle, reports: Reports
) -> None:
    report_id = reports.create_report(
        reportType="GET_AFN_INVENTORY_DATA", marketplaceIds=["A1F83G8C2ARO7P"]
    ).payload["reportId"]
    amazon_sandbox.advance(DONE_AFTER)
    document_id = reports.get_report(report_id).payload["reportDocumentId"]
    url = reports.get_report_document(document_id).payload["url"]
    raw = httpx.get(url)
    assert raw.status_code == 200
    text = gzip.decompress(raw.content).decode("cp1252")
    assert text.startswith("seller-sku\t")
    amazon_sandbox.advance(301)
    assert httpx.get(url).status_code == 403
    assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403


def test_documents_are_cp1252_and_say_so(
    amazon_sandbox: AmazonSandboxHandle, reports: Reports
) -> None:
    report_id = reports.create_report(
        reportType=INVENTORY, marketplaceIds=["A1F83G8C2ARO7P"]
    ).payload["reportId"]
    amazon_sandbox.advance(DONE_AFTER)
    document_id = reports.get_report(report_id).payload["reportDocumentId"]
    raw = httpx.get(reports.get_report_document(document_id).payload["url"])
    assert raw.headers["content-type"] == "text/plain;charset=Cp1252"
    content = gzip.decompress(raw.content)
    assert "Tasse émaillée bleue – Enamel mug™".encode("cp1252") in content
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")


def test_settlement_cannot_be_requested_and_unknown_types_are_rejected(reports: Reports) -> None:
    for report_type in (SETTLEMENT_REPORT_TYPE, "GET_MERCHANT_LISTINGS_ALL_DATA"):
        with pytest.raises(SellingApiBadRequestException) as raised:
            reports.create_report(reportType=report_type, marketplaceIds=["A1F83G8C2ARO7P"])
        assert "reportType" in raised.value.error[0].get("details", "")
    with pytest.raises(SellingApiBadRequestException):
        reports.create_report(marketplaceIds=["A1F83G8C2ARO7P"])  # no reportType
    with pytest.raises(SellingApiNotFoundException):
        reports.get_report("404")


def test_get_reports_filters_and_pages(
    amazon_sandbox: AmazonSandboxHandle, reports: Reports
) -> None:
    ids = [
        reports.create_report(reportType=INVENTORY, marketplaceIds=["A1F83G8C2ARO7P"]).payload[
            "reportId"
        ]
        for _ in range(3)
    ]
    amazon_sandbox.advance(DONE_AFTER)
    reports.create_report(reportType=INVENTORY, marketplaceIds=["A1F83G8C2ARO7P"])
    done = reports.get_reports(reportTypes=[INVENTORY], processingStatuses=["DONE"], pageSize=2)
    first_page = [r["reportId"] for r in done.payload["reports"]]
    assert len(first_page) == 2
    rest = reports.get_reports(nextToken=done.next_token)
    assert sorted(first_page + [r["reportId"] for r in rest.payload["reports"]]) == sorted(ids)
    with pytest.raises(SellingApiBadRequestException) as raised:
        reports.get_reports(processingStatuses=["DONE"])
    assert "reportTypes" in raised.value.message


def test_settlement_report_charges_mcf_fees_for_completed_orders(
    amazon_sandbox: AmazonSandboxHandle, reports: Reports
) -> None:
    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    fba.create_fulfillment_order(**mcf_order_body("SET-1", quantity=2))
    fba.create_fulfillment_order(**mcf_order_body("SET-2", sku="OPF-TEE-M"))
    fba.create_fulfillment_order(**mcf_order_body("SET-HOLD", fulfillmentAction="Hold"))
    amazon_sandbox.advance(COMPLETE_AFTER)
    closed = amazon_sandbox.close_settlement()
    listed = reports.get_reports(reportTypes=[SETTLEMENT_REPORT_TYPE]).payload["reports"]
    assert [r["reportId"] for r in listed] == [closed["reportId"]]
    text = reports.get_report_document(listed[0]["reportDocumentId"], download=True).payload[
        "document"
    ]
    header = text.splitlines()[0]
    assert tuple(header.split("\t")) == COLUMNS
    summary, *rows = _rows(text)
    assert summary["transaction-type"] == ""
    assert summary["currency"] == "GBP"
    fees = [r for r in rows if r["amount-description"] == "FBAPerUnitFulfillmentFee"]
    assert {(r["merchant-order-id"], r["sku"], r["amount"]) for r in fees} == {
        ("SET-1", "OPF-MUG-BLUE", "-5.70"),
        ("SET-2", "OPF-TEE-M", "-3.25"),
    }
    assert all(r["settlement-id"] == summary["settlement-id"] for r in rows)
    total_minor = sum(int(r["amount"].replace(".", "")) for r in rows)
    assert int(summary["total-amount"].replace(".", "")) == total_minor
    # Orders are settled once: the next settlement has only the storage fee.
    amazon_sandbox.advance(60)
    again = amazon_sandbox.close_settlement()
    second = reports.get_report_document(again["reportDocumentId"], download=True).payload
    assert "SET-1" not in second["document"]


def test_settlements_close_on_their_own_schedule(
    amazon_sandbox: AmazonSandboxHandle, reports: Reports
) -> None:
    amazon_sandbox.advance(14 * 86400)
    listed = reports.get_reports(reportTypes=[SETTLEMENT_REPORT_TYPE]).payload["reports"]
    assert len(listed) == 1
    assert listed[0]["dataEndTime"] == "2026-03-16T09:00:00Z"


def test_settlement_file_reads_with_the_reconciliation_parser(
    amazon_sandbox: AmazonSandboxHandle, reports: Reports
) -> None:
    from opayo_fba.reconcile.amazon import SettlementParser

    fba = amazon_sandbox.sp_api_client(FulfillmentOutbound)
    fba.create_fulfillment_order(**mcf_order_body("PARSE-1", quantity=3))
    amazon_sandbox.advance(COMPLETE_AFTER)
    closed = amazon_sandbox.close_settlement()
    text = reports.get_report_document(closed["reportDocumentId"], download=True).payload[
        "document"
    ]
    parser = SettlementParser(io.StringIO(text), source="sandbox")
    rows = list(parser.rows())
    assert parser.summary.currency == "GBP"
    assert parser.summary.total_minor == sum(row.amount_minor for row in rows)
    (fee,) = [row for row in rows if row.merchant_order_id == "PARSE-1"]
    assert fee.amount_minor == -3 * 285
    assert fee.quantity_purchased == 3
