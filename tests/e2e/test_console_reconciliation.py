"""The console's Reconciliation page in a real browser (Playwright driving Chromium) against
the local runtime: two orders are paid and shipped through the API, finance uploads the
Amazon settlement and the Opayo batch that cover them (the second captured under a mistyped
vendorTxCode), the run's journal balances and ties out, its journal downloads as the archive
holds it, and the suggested match of the mistyped capture is accepted and recorded. Judged
on the archive (moto's S3), not on the page alone. The screenshots go to docs/console/.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import boto3
import pytest
from playwright.sync_api import Page, expect

from demo.scenarios import BROWSER_DATA, DemoContext, sample_order
from local_runtime.environment import LocalEnvironment
from opayo_fba.convert.fba_outbound import seller_fulfillment_order_id
from opayo_fba.reconcile.amounts import format_minor
from tests.e2e.browser import screenshot, sign_in
from tests.unit.reconcile.builders import batch_xml, order_fee, settlement_lines, transaction

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REGION = "eu-west-2"
MATCHED, MISTYPED = "CONSOLE-RECON-1", "CONSOLE-RECON-2"
SHIPPED_WITHIN_S = 120.0


@pytest.fixture(scope="module")
def shipped(demo: DemoContext) -> dict[str, dict[str, Any]]:
    """Orders paid by card through the API and shipped by Amazon: id -> its view."""
    for order_id in (MATCHED, MISTYPED):
        msk, card = demo.card_identifier()
        reply = demo.submit(
            sample_order(order_id),
            {
                "type": "pi_card",
                "merchantSessionKey": msk,
                "cardIdentifier": card,
                "strongCustomerAuthentication": BROWSER_DATA,
            },
        )
        assert reply.status_code in (200, 201), reply.text
    views: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + SHIPPED_WITHIN_S
    while len(views) < 2 and time.monotonic() < deadline:
        for order_id in (MATCHED, MISTYPED):
            order = demo.order(order_id)
            if any(entry["event"] == "shipped" for entry in order.get("history") or []):
                views[order_id] = order
        time.sleep(0.2)
    if len(views) < 2:
        pytest.fail(f"the orders did not ship in {SHIPPED_WITHIN_S} s: {sorted(views)}")
    return views


def _mistyped(order: dict[str, Any]) -> str:
    return str(order["payment"]["vendor_tx_code"]) + "X"


@pytest.fixture(scope="module")
def s3(environment: LocalEnvironment) -> Any:
    runtime = environment.runtime
    assert runtime is not None
    return boto3.client("s3", REGION, endpoint_url=runtime.moto_url)


def _files(orders: dict[str, dict[str, Any]]) -> tuple[bytes, bytes]:
    """The settlement of both orders' fulfilment fees, and the batch of their captures: the
    first under its own vendorTxCode, the second under a mistyped one."""
    amounts = {
        order_id: format_minor(int(order["payment"]["amount"]["amount"]), 2)
        for order_id, order in orders.items()
    }
    settlement = settlement_lines(
        [
            order_fee(seller_fulfillment_order_id(MATCHED), "-2.00"),
            order_fee(seller_fulfillment_order_id(MISTYPED), "-1.50"),
        ],
        total="-3.50",
    )
    batch = batch_xml(
        [
            transaction(orders[MATCHED]["payment"]["vendor_tx_code"], amounts[MATCHED]),
            transaction(_mistyped(orders[MISTYPED]), amounts[MISTYPED]),
        ]
    )
    return "".join(settlement).encode(), batch.encode()


def _bucket(s3: Any) -> str:
    [name] = [b["Name"] for b in s3.list_buckets()["Buckets"] if "reportsbucket" in b["Name"]]
    return str(name)


def _object(s3: Any, suffix: str) -> bytes:
    bucket = _bucket(s3)
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"].endswith(suffix)
    ]
    assert len(keys) == 1, keys
    return bytes(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())


def test_finance_runs_a_reconciliation_downloads_the_journal_and_decides_an_exception(
    page: Page,
    console: str,
    shipped: dict[str, dict[str, Any]],
    s3: Any,
    watched: dict[str, list[Any]],
) -> None:
    settlement, batch = _files(shipped)
    sign_in(page, console)
    page.get_by_role("link", name="Reconciliation").click()
    expect(page.get_by_role("heading", name="Reconciliation", exact=True)).to_be_visible()
    page.get_by_label(re.compile("^Amazon settlement files")).set_input_files(
        {"name": "settlement-24601.txt", "mimeType": "text/plain", "buffer": settlement}
    )
    page.get_by_label(re.compile("^Opayo batch files")).set_input_files(
        {"name": "batch-501.xml", "mimeType": "application/xml", "buffer": batch}
    )
    screenshot(page, "reconciliation-upload")
    page.get_by_role("button", name="Reconcile these files").click()

    expect(page.get_by_role("heading", name=re.compile("^Journal run"))).to_be_visible()
    run_id = page.url.rsplit("/", 1)[-1]
    ready = json.loads(_object(s3, f"{run_id}/journal-entries-ready.json"))
    assert ready["balanced"] is True
    assert ready["tiesOut"] is True
    assert ready["matchedOrders"] == 1  # the shipped order: captured once, settled, its total
    expect(page.locator('[data-figure="balanced"]')).to_have_text("yes")
    expect(page.locator('[data-figure="ties-out"]')).to_have_text("yes")
    expect(page.locator('[data-figure="matched"]')).to_have_text("1")
    expect(page.locator("figure.report-chart svg")).not_to_have_count(0)

    with page.expect_download() as downloading:
        page.locator('a[data-download="journal.csv"]').click()
    download = downloading.value
    assert download.suggested_filename == f"{run_id}-journal.csv"
    path = download.path()
    assert path is not None
    assert path.read_bytes() == _object(s3, f"{run_id}/journal.csv")

    # The mistyped capture names no order; the order it was for was settled, not captured.
    typo = _mistyped(shipped[MISTYPED])
    unknown = page.locator('tr[data-reason="unknown_order"]')
    expect(unknown).to_contain_text(typo)
    expect(unknown).to_contain_text(MISTYPED)  # its suggested match
    settled = page.locator('tr[data-reason="fulfilled_not_captured"]')
    expect(settled).to_contain_text(MISTYPED)
    screenshot(page, "reconciliation-run")
    unknown.get_by_role("link", name=re.compile("^Decide")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("unknown order")
    page.get_by_label(re.compile(re.escape(MISTYPED))).check()
    page.get_by_label(re.compile("^Note")).fill("keyed with an X at the till")
    screenshot(page, "reconciliation-exception")
    page.get_by_role("button", name="Accept").click()

    expect(unknown.locator(".decision")).to_contain_text("accepted")
    number = int(str(unknown.get_attribute("data-exception")))
    decision = json.loads(_object(s3, f"{run_id}/decisions/{number}.json"))
    assert decision["decision"] == "accepted"
    assert decision["note"] == "keyed with an X at the till"
    assert decision["match"] == int(str(settled.get_attribute("data-exception")))

    page.get_by_role("link", name="« Reconciliation").click()
    expect(page.locator(f'tr[data-run="{run_id}"]')).to_be_visible()
    screenshot(page, "reconciliation")


def test_a_file_that_cannot_be_read_is_refused_with_its_line_and_nothing_is_run(
    page: Page, console: str, s3: Any, watched: dict[str, list[Any]]
) -> None:
    before = _keys(s3)
    sign_in(page, console)
    page.get_by_role("link", name="Reconciliation").click()
    broken = "".join(settlement_lines([order_fee("W-1", "two pounds")], total="-2.00"))
    page.get_by_label(re.compile("^Amazon settlement files")).set_input_files(
        {"name": "november.txt", "mimeType": "text/plain", "buffer": broken.encode()}
    )
    page.get_by_role("button", name="Reconcile these files").click()
    expect(page.locator("main")).to_contain_text("november.txt, line 3")
    assert _keys(s3) == before


def _keys(s3: Any) -> list[str]:
    bucket = _bucket(s3)
    return [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
