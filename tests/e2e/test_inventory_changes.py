"""Stock the shop can trust, through the synthesized template on the local runtime: the daily
report (a Cp1252 document with EU names), the inventory poller and the SP-API inventory
notification each reach the ERP's bus as InventoryLevelChanged with the merchant's SKU (from
the configured SKU mapping), and one change is announced once. Judged on what the bus
delivered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_runtime.environment import EnvironmentOptions, LocalEnvironment
from tests.fixtures.bus import check_canonical, subscribe_to_bus

REGION = "eu-west-2"
ROOT = Path(__file__).resolve().parents[2]
SKU_MAPPING = ROOT / "config" / "sku-mapping.example.csv"
ACCOUNT = "uk-main"
TIME_FACTOR = 600.0
INVENTORY_NOTIFICATION = "FBA_INVENTORY_AVAILABILITY_CHANGES"


@pytest.fixture(scope="module")
def environment(template_path: Path) -> Iterator[LocalEnvironment]:
    # The mapping is configuration: SKU_MAPPINGS is what cdk.json's sellerAccounts[].skuMapping
    # becomes, pointing here at the example CSV instead of an S3 object.
    options = EnvironmentOptions(
        template=template_path,
        time_factor=TIME_FACTOR,
        run_schedules=False,
        function_environment={"SKU_MAPPINGS": json.dumps({ACCOUNT: str(SKU_MAPPING)})},
    )
    with LocalEnvironment(options) as running:
        yield running


@pytest.fixture(scope="module")
def bus(environment: LocalEnvironment) -> Any:
    """An SQS queue subscribed to the canonical bus: what the ERP would receive."""
    return subscribe_to_bus(
        environment,
        "erp-inventory",
        {"source": ["opayo-fba"], "detail-type": ["InventoryLevelChanged"]},
    )


def received(bus: Any, *, expect: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """InventoryLevelChanged details the bus delivered: at least `expect` of them (bounded
    wait), and then whatever else arrives within a short quiet spell."""
    sqs, url = bus
    details: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    quiet_until = None
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in batch:
            event = json.loads(message["Body"])
            assert event["detail-type"] == "InventoryLevelChanged"
            check_canonical(event)
            details.append(event["detail"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(details) >= expect:
            quiet_until = quiet_until or time.monotonic() + 1.0
            if time.monotonic() >= quiet_until:
                return details
        if not batch:
            time.sleep(0.05)
    raise AssertionError(f"expected {expect} InventoryLevelChanged, the bus delivered {details}")


def _amazon(environment: LocalEnvironment) -> httpx.Client:
    return httpx.Client(base_url=environment.urls()["amazon"], timeout=10.0)


def _invoke(environment: LocalEnvironment, module: str) -> Any:
    assert environment.runtime is not None
    event = json.loads((ROOT / "events" / f"{module}.json").read_text("utf-8"))
    invocation = environment.runtime.invoke(module, event)
    assert invocation.error_type is None, invocation.error_message
    return invocation.payload


def _inventory_notifications(amazon: httpx.Client, *, on: bool) -> None:
    """Stop or restart the sandbox sending the inventory notification to our queue."""
    config = amazon.get("/_sandbox/notifications").json()
    for target in config["targets"]:
        kinds = [k for k in target["notification_types"] if k != INVENTORY_NOTIFICATION]
        target["notification_types"] = [*kinds, INVENTORY_NOTIFICATION] if on else kinds
    amazon.post(
        "/_sandbox/notifications",
        json={"targets": config["targets"], "duplicate_rate": config["duplicate_rate"]},
    ).raise_for_status()


def _set_stock(amazon: httpx.Client, sku: str, quantity: int) -> None:
    amazon.post("/_sandbox/inventory", json={"sku": sku, "quantity": quantity}).raise_for_status()


@pytest.mark.e2e
def test_a_cp1252_report_reaches_the_bus_with_accented_names_and_shop_skus(
    environment: LocalEnvironment, bus: Any
) -> None:
    _invoke(environment, "report_scheduler")
    with _amazon(environment) as amazon:
        amazon.post("/_sandbox/clock/advance", json={"seconds": 120}).raise_for_status()
    _invoke(environment, "report_poller")
    by_sku = {d["sku"]: d for d in received(bus, expect=3)}
    # The unsuppressed report lists the three SKUs in stock, under the shop's SKUs.
    assert set(by_sku) == {"SHOP-MUG-BLUE", "SHOP-TEE-M", "SHOP-CAP-RED"}
    assert by_sku["SHOP-MUG-BLUE"]["sellerSku"] == "OPF-MUG-BLUE"
    assert by_sku["SHOP-MUG-BLUE"]["productName"] == "Tasse émaillée bleue – Enamel mug™"
    assert by_sku["SHOP-TEE-M"]["productName"] == "T-Shirt aus Bio-Baumwolle, Größe M"
    assert {d["source"] for d in by_sku.values()} == {"report"}


@pytest.mark.e2e
def test_the_inventory_poller_announces_a_change_once_under_the_shop_sku(
    environment: LocalEnvironment, bus: Any
) -> None:
    with _amazon(environment) as amazon:
        _inventory_notifications(amazon, on=False)  # so only the poller can see this one
        try:
            _set_stock(amazon, "OPF-TEE-M", 41)
            _invoke(environment, "inventory_poller")
        finally:
            _inventory_notifications(amazon, on=True)
    details = received(bus, expect=1)
    (change,) = [d for d in details if d["sku"] == "SHOP-TEE-M"]
    assert (change["sellerSku"], change["fulfillable"], change["source"]) == (
        "OPF-TEE-M",
        41,
        "inventory-summaries",
    )
    assert change["previousFulfillable"] == 50
    # The first run also announces SKUs it had no level for (after the report: the sold-out
    # lantern, which the unsuppressed report leaves out); never under Amazon's SKU.
    assert all(d["sku"].startswith("SHOP-") for d in details)
    assert {d["source"] for d in details} == {"inventory-summaries"}
    # The next run reads the same change again (the overlap) and announces nothing.
    _invoke(environment, "inventory_poller")
    assert _more(bus) == []


@pytest.mark.e2e
def test_the_inventory_notification_announces_a_change_and_the_poller_does_not_repeat_it(
    environment: LocalEnvironment, bus: Any
) -> None:
    with _amazon(environment) as amazon:
        _set_stock(amazon, "OPF-CAP-RED", 9)
    (change,) = received(bus, expect=1)
    assert (change["sku"], change["sellerSku"], change["fulfillable"]) == (
        "SHOP-CAP-RED",
        "OPF-CAP-RED",
        9,
    )
    assert change["source"] == "notification"
    assert change["eventId"].startswith(f"{ACCOUNT}#SHOP-CAP-RED#")
    # The poller then reads the same change (same lastUpdatedTime): nothing new about it.
    _invoke(environment, "inventory_poller")
    assert [d for d in _more(bus) if d["sku"] == "SHOP-CAP-RED"] == []


def _more(bus: Any, seconds: float = 2.0) -> list[dict[str, Any]]:
    """Whatever else the bus delivers within `seconds`."""
    sqs, url = bus
    details = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            details.append(json.loads(message["Body"])["detail"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.1)
    return details
