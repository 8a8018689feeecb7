"""events/: a realistic sample event for every function, checked against what reads it.

API Gateway events parse with Powertools and their bodies are what the domain accepts; the
Opayo notification is signed with the documented test SecurityKey; SQS bodies are what the
producers send (PaymentEvent, an official SP-API notification); saga events are the states
the state machine passes; scheduled events are the schedules' inputs. No event holds a card
number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, SQSEvent

from infra.constants import (
    ALL_FUNCTIONS,
    ERROR_CAPTURE_FAILED,
    ERROR_FULFILLMENT_REJECTED,
    ERROR_MERCHANT_CANCELLED,
    ERROR_PAYMENT_DECLINED,
    SAGA_FUNCTIONS,
    SCHEDULED_FUNCTIONS,
)
from opayo_fba.amazon.spapi_models import validate_notification
from opayo_fba.errors import InvalidInputError
from opayo_fba.intake.amazon_events import notification_id
from opayo_fba.intake.orders import (
    OrderSubmission,
    PiCardReference,
    PiTransactionReference,
    ServerReference,
    refuse_card_numbers,
)
from opayo_fba.intake.three_d_secure import ChallengeCompletion, session_data_for
from opayo_fba.intake.webhook import PaymentEvent, notification_event_id
from opayo_fba.model import PaymentTransaction
from opayo_fba.opayo.notifications import check_notification, parse_notification

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
README = EVENTS / "README.md"
# The test SecurityKey the sample Server order registers and the sample notification is
# signed with (documented in events/README.md); not a secret of any real transaction.
DOCUMENTED_SECURITY_KEY = "NOTASECRET"

API_EVENTS = {
    "order_intake.json": ("POST", "/orders"),
    "order_intake.server.json": ("POST", "/orders"),
    "order_intake.pi_transaction.json": ("POST", "/orders"),
    "order_status.json": ("GET", "/orders/{orderId}"),
    "order_cancel.json": ("POST", "/orders/{orderId}/cancel"),
    "order_refund.json": ("POST", "/orders/{orderId}/refunds"),
    "order_return.json": ("POST", "/orders/{orderId}/returns"),
    "order_resubmit.json": ("POST", "/orders/{orderId}/resubmit"),
    "order_3ds_challenge.json": ("POST", "/orders/{orderId}/3ds-challenge"),
    "opayo_webhook.json": ("POST", "/webhooks/opayo/{vendor}"),
    "opayo_webhook.forged.json": ("POST", "/webhooks/opayo/{vendor}"),
}
SAGA_ERRORS = {
    ERROR_PAYMENT_DECLINED,
    ERROR_FULFILLMENT_REJECTED,
    ERROR_CAPTURE_FAILED,
    ERROR_MERCHANT_CANCELLED,
}
SAGA_OUTCOMES = {
    "payment_declined",
    "fulfillment_rejected",
    "merchant_cancelled",
    "capture_failed",
    "release_failed",
    "fulfillment_lost",
    "validation_failed",
    "fulfillment_failed",
}


def event_files() -> list[Path]:
    return sorted(EVENTS.glob("*.json"))


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dev_environment() -> dict[str, Any]:
    """The dev environment of cdk.json: the vendors and seller accounts events must name."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    environments: dict[str, Any] = context["opayo-fba:environments"]
    return dict(environments[context["opayo-fba:environment"]])


# ---- every function has a sample, every sample is listed ----------------------------------


@pytest.mark.parametrize("module", [spec.module for spec in ALL_FUNCTIONS])
def test_every_function_has_a_sample_event(module: str) -> None:
    path = EVENTS / f"{module}.json"
    assert path.is_file(), f"no sample event for function {module}: add events/{module}.json"
    json.loads(path.read_text(encoding="utf-8"))


def test_readme_lists_every_event_and_the_invoke_command() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [p.name for p in event_files() if f"`{p.name}`" not in readme]
    assert not missing, f"events/README.md does not list {missing}"
    assert "opayo-fba local invoke order_intake events/order_intake.json" in readme
    assert DOCUMENTED_SECURITY_KEY in readme


@pytest.mark.parametrize("path", event_files(), ids=lambda p: p.name)
def test_no_event_holds_a_card_number(path: Path) -> None:
    # Nested JSON (an SQS body, a proxy body) is checked as written, escapes and all.
    refuse_card_numbers(path.read_text(encoding="utf-8"))


def test_the_card_number_check_can_fail() -> None:
    with pytest.raises(InvalidInputError, match="card number"):
        refuse_card_numbers(json.dumps({"body": '{"pan": "4929000000006"}'}))


# ---- API Gateway (REST proxy) --------------------------------------------------------------


@pytest.mark.parametrize(("name", "route"), API_EVENTS.items())
def test_api_events_parse_as_rest_proxy_events(name: str, route: tuple[str, str]) -> None:
    event = APIGatewayProxyEvent(load(name))
    method, resource = route
    assert event.http_method == method
    assert event.resource == resource
    assert event.request_context.resource_path == resource
    assert event.request_context.request_id
    expected_path = resource
    for param, value in (event.path_parameters or {}).items():
        expected_path = expected_path.replace("{" + param + "}", value)
    assert "{" not in expected_path, f"{name}: a path parameter of {resource} is missing"
    assert event.path == expected_path
    assert event.headers == {k: v[-1] for k, v in event.multi_value_headers.items()}
    if method == "GET" or resource.endswith("/cancel"):
        assert event.body is None
    else:
        assert event.decoded_body


def template_routes(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, resource path) of every API Gateway method in a synthesized template."""
    resources = template["Resources"]

    def path_of(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        parent = properties["ParentId"]
        prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{properties['PathPart']}"

    routes = set()
    for resource in resources.values():
        if resource["Type"] == "AWS::ApiGateway::Method":
            target = resource["Properties"]["ResourceId"]
            path = path_of(target["Ref"]) if "Ref" in target else "/"
            routes.add((resource["Properties"]["HttpMethod"], path))
    return routes


def test_api_events_use_routes_the_template_has(template_path: Path) -> None:
    routes = template_routes(json.loads(template_path.read_text(encoding="utf-8")))
    assert set(API_EVENTS.values()) <= routes, f"the template's routes are {sorted(routes)}"


def submission(name: str) -> OrderSubmission:
    event = APIGatewayProxyEvent(load(name))
    assert event.headers["Content-Type"] == "application/json"
    body = event.decoded_body or ""
    refuse_card_numbers(body)
    return OrderSubmission.model_validate_json(body)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("order_intake.json", PiCardReference),
        ("order_intake.server.json", ServerReference),
        ("order_intake.pi_transaction.json", PiTransactionReference),
    ],
)
def test_order_bodies_are_valid_submissions(
    name: str, reference: type, dev_environment: dict[str, Any]
) -> None:
    order = submission(name)
    assert isinstance(order.payment, reference)
    assert order.vendor in {v["name"] for v in dev_environment["opayoVendors"]}
    assert order.seller_account in {s["id"] for s in dev_environment["sellerAccounts"]}
    assert order.order.amount_due().amount > 0
    assert order.order.goods_total().amount + 399 == order.order.amount_due().amount


def test_the_card_order_sends_browser_data_and_the_challenge_body_is_valid() -> None:
    reference = submission("order_intake.json").payment
    assert isinstance(reference, PiCardReference)
    assert reference.strong_customer_authentication.browser_javascript_enabled
    body = APIGatewayProxyEvent(load("order_3ds_challenge.json")).decoded_body or ""
    completion = ChallengeCompletion.model_validate_json(body)
    order_id = str(submission("order_intake.json").order.order_id)
    assert completion.three_ds_session_data == session_data_for(order_id)


def test_order_events_point_at_the_pi_card_order() -> None:
    order_id = str(submission("order_intake.json").order.order_id)
    for name in (
        "order_status.json",
        "order_cancel.json",
        "order_refund.json",
        "order_return.json",
        "order_resubmit.json",
        "order_3ds_challenge.json",
    ):
        assert APIGatewayProxyEvent(load(name)).path_parameters == {"orderId": order_id}


def notification(name: str) -> tuple[str, dict[str, str]]:
    event = APIGatewayProxyEvent(load(name))
    assert event.headers["Content-Type"] == "application/x-www-form-urlencoded"
    vendor = (event.path_parameters or {})["vendor"]
    return vendor, parse_notification(event.decoded_body or "")


def test_webhook_notification_verifies_with_the_documented_key(
    dev_environment: dict[str, Any],
) -> None:
    vendor, fields = notification("opayo_webhook.json")
    assert vendor in {v["name"] for v in dev_environment["opayoVendors"]}
    check = check_notification(fields, vendor_name=vendor, security_key=DOCUMENTED_SECURITY_KEY)
    assert check.valid, check.reason
    assert "SecurityKey" not in fields
    # It is the notification for the sample Server order, registered with the same key.
    server = submission("order_intake.server.json").payment
    assert isinstance(server, ServerReference)
    assert fields["VendorTxCode"] == server.vendor_tx_code
    assert fields["VPSTxId"] == server.vps_tx_id
    assert server.security_key.get_secret_value() == DOCUMENTED_SECURITY_KEY
    assert not check_notification(fields, vendor_name=vendor, security_key="WRONGKEY00").valid


def test_forged_notification_fails_the_signature_check() -> None:
    vendor, fields = notification("opayo_webhook.forged.json")
    check = check_notification(fields, vendor_name=vendor, security_key=DOCUMENTED_SECURITY_KEY)
    assert not check.valid
    assert "signature mismatch" in (check.reason or "")


# ---- SQS ------------------------------------------------------------------------------------


def sqs_records(name: str) -> list[Any]:
    records = list(SQSEvent(load(name)).records)
    assert records, f"{name} has no records"
    for record in records:
        assert record.event_source == "aws:sqs"
        assert record.md5_of_body == hashlib.md5(record.body.encode()).hexdigest()
        assert record.message_id
        assert record.receipt_handle
    return records


@pytest.mark.parametrize("name", [p.name for p in sorted(EVENTS.glob("payment_events*.json"))])
def test_payment_events_are_fifo_records_of_payment_events(name: str) -> None:
    for record in sqs_records(name):
        assert record.event_source_arn.endswith(".fifo")
        body = json.loads(record.body)
        assert set(body) == {f.name for f in dataclasses.fields(PaymentEvent)}
        event = PaymentEvent(**body)
        payment = PaymentTransaction.model_validate(event.payment)
        assert record.attributes.message_group_id == payment.vendor_tx_code
        assert event.event_id == f"{payment.transaction_id}:{payment.status}"
        assert record.attributes.message_deduplication_id == (
            hashlib.sha256(event.event_id.encode()).hexdigest()
        )


def test_payment_event_is_what_the_sample_notification_queues() -> None:
    _, fields = notification("opayo_webhook.json")
    [record] = sqs_records("payment_events.json")
    body = json.loads(record.body)
    assert body["event_id"] == notification_event_id(fields)
    payment = PaymentTransaction.model_validate(body["payment"])
    server_order = submission("order_intake.server.json").order
    assert payment.order_id == server_order.order_id
    assert payment.amount == server_order.amount_due()


def test_pi_poll_payment_event_is_for_the_pi_transaction_order() -> None:
    [record] = sqs_records("payment_events.pi_poll.json")
    body = json.loads(record.body)
    assert body["source"] == "opayo-pi-poll"
    reference = submission("order_intake.pi_transaction.json").payment
    assert isinstance(reference, PiTransactionReference)
    payment = PaymentTransaction.model_validate(body["payment"])
    assert (payment.transaction_id, payment.vendor_tx_code) == (
        reference.transaction_id,
        reference.vendor_tx_code,
    )


def test_amazon_notifications_validate_against_the_official_schema() -> None:
    kinds = {}
    for path in sorted(EVENTS.glob("amazon_notifications*.json")):
        for record in sqs_records(path.name):
            assert not record.event_source_arn.endswith(".fifo")
            message = json.loads(record.body)
            # REPORT_PROCESSING_FINISHED spells its keys in lower camel case.
            kind = message.get("NotificationType") or message["notificationType"]
            kinds[kind] = path.name
            validate_notification(kind, message)
            assert notification_id(message)
    assert kinds["FULFILLMENT_ORDER_STATUS"] == "amazon_notifications.json"
    assert set(kinds) == {
        "FULFILLMENT_ORDER_STATUS",
        "ORDER_CHANGE",
        "REPORT_PROCESSING_FINISHED",
        "FBA_INVENTORY_AVAILABILITY_CHANGES",
    }


# ---- saga states ----------------------------------------------------------------------------

FORWARD = [
    "saga_validate_and_map",
    "saga_create_fulfillment_order",
    "saga_capture_payment",
    "saga_release_fulfillment_order",
    "saga_check_fulfillment_status",
    "saga_mark_shipped",
]


@pytest.mark.parametrize("module", [spec.module for spec in SAGA_FUNCTIONS])
def test_saga_events_are_states_of_one_order(module: str) -> None:
    state = load(f"{module}.json")
    assert isinstance(state, dict)
    assert state["orderId"] == str(submission("order_intake.json").order.order_id)
    if "error" in state:
        assert set(state["error"]) == {"Error", "Cause"}
        assert state["error"]["Error"] in SAGA_ERRORS
        json.loads(state["error"]["Cause"])  # Lambda's error object, as Step Functions keeps it
    if "compensationReason" in state:
        assert state["compensationReason"]["outcome"] in SAGA_OUTCOMES
    if "captured" in state:
        assert set(state["captured"]) == {"amount", "currency"}
        assert isinstance(state["captured"]["amount"], int)


def test_forward_states_only_grow() -> None:
    """Each forward step passes on what it was given (the state machine's ResultPath)."""
    states = [load(f"{module}.json") for module in FORWARD]
    for before, after in pairwise(states):
        # Only CheckFulfillmentStatus's own result ($.fulfillment) is replaced as it loops.
        kept = {k: v for k, v in before.items() if k != "fulfillment"}
        assert kept.items() <= after.items()
    assert states[0] == {"orderId": states[0]["orderId"]}
    assert states[-1]["fulfillment"]["status"] in ("Complete", "CompletePartialled")


def test_compensation_states_name_why_they_run() -> None:
    for module in ("saga_abort_payment", "saga_cancel_fulfillment_order", "saga_refund_payment"):
        assert "compensationReason" in load(f"{module}.json"), module
    assert "compensation" in load("saga_record_outcome.json")


# ---- schedules ------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [spec.module for spec in SCHEDULED_FUNCTIONS])
def test_scheduled_events_are_the_schedules_input(
    module: str, dev_environment: dict[str, Any]
) -> None:
    event = load(f"{module}.json")
    sellers = {s["id"] for s in dev_environment["sellerAccounts"]}
    vendors = {v["name"] for v in dev_environment["opayoVendors"]}
    if module == "held_authorisations_check":  # the vendor's policy travels with it
        assert event["vendor"] in vendors
        assert set(event) <= {"vendor", "alarmAfterDays", "abortAfterDays", "abandonedAfterMinutes"}
        return
    if module == "orders_poller":  # every marketplace of the account travels with it
        marketplaces = {s["id"]: s["marketplaceIds"] for s in dev_environment["sellerAccounts"]}
        assert event["marketplaceIds"] == marketplaces[event["sellerAccountId"]]
        return
    assert event in [{"sellerAccountId": s} for s in sellers] + [{"vendor": v} for v in vendors]


def test_scheduled_events_are_inputs_of_the_template_schedules(template_path: Path) -> None:
    resources = json.loads(template_path.read_text(encoding="utf-8"))["Resources"]
    inputs: dict[str, list[Any]] = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::Scheduler::Schedule":
            target = resource["Properties"]["Target"]
            function = resources[target["Arn"]["Fn::GetAtt"][0]]
            module = function["Properties"]["Handler"].rsplit(".", 1)[0]
            inputs.setdefault(module, []).append(json.loads(target["Input"]))
    for spec in SCHEDULED_FUNCTIONS:
        assert load(f"{spec.module}.json") in inputs.get(spec.module, []), spec.module


def test_event_file_names_follow_the_function_modules() -> None:
    modules = {spec.module for spec in ALL_FUNCTIONS}
    for path in event_files():
        stem = re.sub(r"\..*$", "", path.name)
        assert stem in modules, f"events/{path.name} is not named after a function module"


# ---- the events run: one local environment, the synthesized template, both sandboxes -------


def _with_body(event: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {**event, "body": json.dumps(body)}


@pytest.mark.e2e
@pytest.mark.slow
def test_the_api_and_queue_events_run_through_the_local_runtime(template_path: Path) -> None:
    """What events/README.md promises `opayo-fba local invoke` does with them."""
    import httpx

    from local_runtime.environment import EnvironmentOptions, LocalEnvironment
    from sandbox.opayo.options import OpayoSandboxOptions

    def reply(name: str, event: Any = None) -> Any:
        module = name.split(".", 1)[0]
        invocation = runtime.invoke(module, load(name) if event is None else event)
        assert invocation.error_type is None, f"{name}: {invocation.error_message}"
        return invocation.payload

    options = EnvironmentOptions(template=template_path, run_schedules=False)
    with LocalEnvironment(options) as environment:
        runtime = environment.runtime
        assert runtime is not None
        # The Server order, then a forged and the genuine notification for it.
        assert reply("order_intake.server.json")["statusCode"] == 201
        forged = reply("opayo_webhook.forged.json")
        assert forged["body"].startswith("Status=INVALID"), forged["body"]
        assert "signature mismatch" in forged["body"]
        genuine = reply("opayo_webhook.json")
        assert genuine["body"].startswith("Status=OK"), genuine["body"]
        # The queued event (also delivered by the local queue poller) is applied once.
        assert reply("payment_events.json") == {"batchItemFailures": []}
        status_event = load("order_status.json")
        status_event["pathParameters"] = {"orderId": "WEB-100043"}
        status = json.loads(reply("order_status.json", status_event)["body"])
        # The notification's authorisation reached the order (the saga may have moved on).
        assert (
            status["payment"]["auth_code"]
            == parse_notification(
                APIGatewayProxyEvent(load("opayo_webhook.json")).decoded_body or ""
            )["TxAuthNo"]
        )
        assert status["payment"]["state"] != "pending"
        for name in (
            "amazon_notifications.json",
            "amazon_notifications.order_change.json",
            "amazon_notifications.report_processing_finished.json",
            "amazon_notifications.fba_inventory_availability_changes.json",
            "payment_events.pi_poll.json",
        ):
            assert reply(name) == {"batchItemFailures": []}, name

        # The pi_card order with a fresh session key and card identifier, as the shopper's
        # browser gets them from Opayo's drop-in checkout (the card goes to Opayo only).
        opayo_url = environment.urls()["opayo:sandboxvendor"]
        sandbox = OpayoSandboxOptions()
        key = httpx.post(
            f"{opayo_url}/api/v1/merchant-session-keys",
            auth=(sandbox.integration_key, sandbox.integration_password),
            json={"vendorName": "sandboxvendor"},
        ).json()["merchantSessionKey"]
        card = httpx.post(
            f"{opayo_url}/api/v1/card-identifiers",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "cardDetails": {
                    "cardholderName": "Jane Doe",
                    "cardNumber": "4929000000006",  # Opayo's published test Visa
                    "expiryDate": "1230",
                    "securityCode": "123",
                }
            },
        ).json()["cardIdentifier"]
        event = load("order_intake.json")
        body = json.loads(event["body"])
        body["payment"].update(merchantSessionKey=key, cardIdentifier=card)
        created = reply("order_intake.json", _with_body(event, body))
        assert created["statusCode"] == 201, created["body"]
        assert json.loads(created["body"])["payment"]["state"] == "authorised"
        # The saga's first step makes of the execution input the state the samples show.
        mapped = reply("saga_validate_and_map.json")
        sample = load("saga_create_fulfillment_order.json")
        assert set(mapped) == set(sample)
        for key in (
            "orderId",
            "vendor",
            "sellerAccount",
            "vendorTxCode",
            "sellerFulfillmentOrderId",
        ):
            assert mapped[key] == sample[key], key
        assert reply("order_status.json")["statusCode"] == 200
        assert reply("order_cancel.json")["statusCode"] in (202, 409)
