"""The Settings page's facts: read from the synthesized template as the stack runs it (and, on
AWS, from CloudFormation's copy and the stack's outputs), shown read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from opayo_fba.cli.console import deployed_facts
from opayo_fba.console.app import create_app
from opayo_fba.console.backend import StackBackend
from opayo_fba.console.facts import (
    WEBHOOK_PATH_PREFIX,
    MappingTemplate,
    Schedule,
    StackFacts,
    facts_from_template,
)
from opayo_fba.store.orders import OrderStore
from sandbox.common.server import ThreadedServer
from tests.fixtures.tables import create_orders_table
from tests.unit.console.test_console_app import TOKEN


@pytest.fixture(scope="module")
def template(template_path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(template_path.read_text(encoding="utf-8"))
    return document


def test_the_template_gives_accounts_vendors_and_every_schedule(template: dict[str, Any]) -> None:
    facts = facts_from_template(template, api_url="http://127.0.0.1:3000")
    assert facts.accounts == {"uk-main": ["A1F83G8C2ARO7P"]}
    assert facts.vendors == ["sandboxvendor"]
    schedules = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"
    ]
    assert len(facts.schedules) == len(schedules) >= 8
    assert Schedule("orders_poller", "uk-main", "rate(5 minutes)", True) in facts.schedules
    assert Schedule("opayo_batch_fetch", "sandboxvendor", "cron(30 6 * * ? *)", True) in (
        facts.schedules
    )
    assert facts.policies["FULFILLMENT_POLICY"] == "FillOrKill"
    assert facts.webhook_urls() == {
        "sandboxvendor": "http://127.0.0.1:3000/webhooks/opayo/sandboxvendor"
    }
    assert facts.egress_ip is None  # no outputs given: not deployed


def test_the_webhook_path_is_the_routes() -> None:
    from opayo_fba.api.routes import opayo_webhook

    source = Path(opayo_webhook.__file__).read_text(encoding="utf-8")
    assert f'"{WEBHOOK_PATH_PREFIX}<vendor>"' in source


def test_mapping_templates_show_the_version_each_is_pinned_to() -> None:
    variables = {
        "MAPPING_TEMPLATES": "starter:shopify,s3://bucket/maps/erp.yaml?versionId=v42,"
        "s3://bucket/maps/loose.yaml,./local.yaml"
    }
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Environment": {"Variables": variables}},
            }
        }
    }
    assert facts_from_template(template).mapping_templates == [
        MappingTemplate("./local.yaml", "file"),
        MappingTemplate("s3://bucket/maps/erp.yaml", "v42"),
        MappingTemplate("s3://bucket/maps/loose.yaml", "latest (no versionId)"),
        MappingTemplate("starter:shopify", "built in"),
    ]


def test_a_deployed_stack_gives_its_template_and_outputs() -> None:
    """CloudFormation on moto holds a stack whose template has the same functions, schedules
    and outputs shape as ours (moto cannot create every resource of the real one)."""
    small = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
        },
        "Outputs": {
            "OpayoEgressIp": {"Value": "203.0.113.7"},
            "ApiRestApiEndpoint4DEFB5CC": {
                "Value": "https://abc.execute-api.eu-west-2.amazonaws.com/dev/"
            },
        },
    }
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="eu-west-2")
        cloudformation.create_stack(StackName="OpayoFba-prod", TemplateBody=json.dumps(small))
        facts = deployed_facts(cloudformation, "OpayoFba-prod")
    assert facts.egress_ip == "203.0.113.7"
    assert facts.webhook_urls() == {}  # that small template names no vendor
    assert facts.api_url == "https://abc.execute-api.eu-west-2.amazonaws.com/dev/"
    with_vendors = StackFacts(vendors=["v1"], api_url=facts.api_url)
    assert with_vendors.webhook_urls() == {
        "v1": "https://abc.execute-api.eu-west-2.amazonaws.com/dev/webhooks/opayo/v1"
    }


@pytest.fixture
def client(template: dict[str, Any]) -> Iterator[httpx.Client]:
    markup = {**template, "Resources": dict(template["Resources"])}
    markup["Resources"]["Evil"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Environment": {"Variables": {"OPAYO_VENDORS": "<script>x</script>"}}},
    }
    facts = facts_from_template(
        markup,
        {"OpayoEgressIp": "203.0.113.7"},
        api_url="https://api.example.com/dev/",
    )
    with mock_aws():
        store = OrderStore(create_orders_table("OpayoFba-dev-OrdersTable"))
        backend = StackBackend("OpayoFba-dev", store, facts.accounts, facts=facts)
        with (
            ThreadedServer(create_app(backend, TOKEN)) as server,
            httpx.Client(base_url=server.url, follow_redirects=False) as client,
        ):
            assert client.get(f"/?token={TOKEN}").status_code == 303
            yield client


def test_the_settings_page_shows_what_to_register_and_escapes(client: httpx.Client) -> None:
    page = client.get("/settings")
    assert page.status_code == 200
    text = page.text
    assert "https://api.example.com/dev/webhooks/opayo/sandboxvendor" in text
    assert '<code class="egress-ip">203.0.113.7</code>' in text
    assert 'data-job="orders_poller"' in text
    assert "rate(5 minutes)" in text
    assert "<script>x</script>" not in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert 'aria-current="page">Settings' in text


def test_the_settings_page_has_no_form_to_change_anything(client: httpx.Client) -> None:
    text = client.get("/settings").text
    main = text[text.index("<main>") :]
    assert "<form" not in main
    assert client.post("/settings").status_code in (403, 405)


def test_the_template_says_which_queues_eventbridge_dead_letters_into(
    template: dict[str, Any],
) -> None:
    facts = facts_from_template(template)
    resources = template["Resources"]
    schedules = [r for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert facts.event_dead_letters, "the stack's schedules and recovery rule have DLQs"
    for queue, senders in facts.event_dead_letters.items():
        assert resources[queue]["Type"] == "AWS::SQS::Queue"
        assert senders
    senders = [s for found in facts.event_dead_letters.values() for s in found]
    assert sum(s.startswith("schedule ") for s in senders) == len(schedules)
    assert any(s.startswith("rule ") for s in senders)


def test_a_rules_dead_letters_replay_to_its_function_and_a_schedules_do_not(
    template: dict[str, Any],
) -> None:
    """The recovery rule's DLQ replays to the recovery function (its only target); the
    schedules' DLQ replays to nothing (Scheduler's dead letters are not the target's input)."""
    facts = facts_from_template(template)
    resources = template["Resources"]
    rule_queues = {
        queue
        for queue, senders in facts.event_dead_letters.items()
        if all(s.startswith("rule ") for s in senders)
    }
    assert rule_queues
    assert set(facts.event_replay_targets) == rule_queues
    for function in facts.event_replay_targets.values():
        assert resources[function]["Type"] == "AWS::Lambda::Function"
        assert resources[function]["Properties"]["Handler"].startswith("saga_recovery.")
