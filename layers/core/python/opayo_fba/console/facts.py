"""What the Settings page shows: the stack's configuration as its template says it, read-only.

One reading for both places the console runs against: the synthesized template the local
runtime runs, or the template CloudFormation holds for a deployed stack (`GetTemplate`), with
its outputs (`DescribeStacks`). From it: the seller accounts with their marketplaces (order
intake's SELLER_MARKETPLACES), the Opayo vendors the webhook accepts (OPAYO_VENDORS), the
EventBridge Scheduler schedules (what each runs, for which account or vendor, how often,
enabled or not), the mapping templates in force (MAPPING_TEMPLATES, with the S3 version each
names) and the merchant's policies; from the outputs or the local runtime, the API's URL (so
the webhook URL to register with Opayo) and the egress IP to register in MyOpayo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The CDK app's output names (infra/): the elastic IP Opayo must allow, the API's stage URL.
EGRESS_IP_OUTPUT = "OpayoEgressIp"
API_ENDPOINT_OUTPUT_PREFIX = "ApiRestApiEndpoint"
# The webhook's route (api/routes/opayo_webhook.py), the vendor's name after it.
WEBHOOK_PATH_PREFIX = "/webhooks/opayo/"


@dataclass(frozen=True)
class Schedule:
    job: str
    """The handler it runs (orders_poller, report_scheduler, ...)."""
    scope: str
    """The seller account or vendor it runs for."""
    expression: str
    enabled: bool


@dataclass(frozen=True)
class MappingTemplate:
    reference: str
    version: str
    """The S3 object version it is pinned to, `built in` for a starter, `file` for a path."""


@dataclass(frozen=True)
class StackFacts:
    accounts: dict[str, list[str]] = field(default_factory=dict)
    vendors: list[str] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    mapping_templates: list[MappingTemplate] = field(default_factory=list)
    policies: dict[str, str] = field(default_factory=dict)
    api_url: str | None = None
    egress_ip: str | None = None
    egress_note: str = ""
    event_dead_letters: dict[str, list[str]] = field(default_factory=dict)
    """The queues EventBridge dead-letters into (by logical id): what it gave up delivering
    there (`schedule <job> for <scope>`, `rule <logical id>`). SQS does not know them as
    dead-letter queues: no queue redrives into them."""
    event_replay_targets: dict[str, str] = field(default_factory=dict)
    """Of those, the queues whose dead letters are replayed to a function (by logical ids):
    a rule's queue, when each of its senders is a rule targeting that one function. Its
    messages are the events themselves (EventBridge User Guide, "Using dead-letter queues to
    process undelivered events"). A schedule's are not: Scheduler sends its own dead-letter
    event, and a missed run is made up by the next one (the pollers resume from their
    watermarks)."""

    def webhook_urls(self) -> dict[str, str]:
        """Each vendor's notification URL, to register with Opayo (Server's NotificationURL)."""
        if not self.api_url:
            return {}
        base = self.api_url.rstrip("/")
        return {vendor: f"{base}{WEBHOOK_PATH_PREFIX}{vendor}" for vendor in self.vendors}


def _handler_module(resources: dict[str, Any], target_arn: Any) -> str | None:
    if isinstance(target_arn, dict) and "Fn::GetAtt" in target_arn:
        logical_id = target_arn["Fn::GetAtt"][0]
        handler = resources.get(logical_id, {}).get("Properties", {}).get("Handler", "")
        return str(handler).rpartition(".")[0] or None
    return None


def _variables(resources: dict[str, Any], name: str) -> list[str]:
    """Each value the functions' environments give `name` (literals only)."""
    found = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        value = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if isinstance(value.get(name), str):
            found.append(value[name])
    return found


def _template_version(reference: str) -> MappingTemplate:
    if reference.startswith("starter:"):
        return MappingTemplate(reference, "built in")
    if reference.startswith("s3://"):
        parts = urlsplit(reference)
        version = parse_qs(parts.query).get("versionId", ["latest (no versionId)"])[0]
        return MappingTemplate(f"s3://{parts.netloc}{parts.path}", version)
    return MappingTemplate(reference, "file")


def _scope(description: str, job: str | None) -> str:
    # The CDK app describes each schedule as "<job> for <account or vendor>" (infra/schedules).
    head, sep, tail = description.partition(" for ")
    return tail if sep and (job is None or head == job) else ""


def facts_from_template(
    template: dict[str, Any],
    outputs: dict[str, str] | None = None,
    *,
    api_url: str | None = None,
    egress_note: str = "",
) -> StackFacts:
    """The facts a template (and its stack's outputs, when deployed) gives."""
    resources: dict[str, Any] = template.get("Resources", {})
    outputs = outputs or {}
    accounts: dict[str, list[str]] = {}
    for text in _variables(resources, "SELLER_MARKETPLACES"):
        try:
            for account, marketplaces in json.loads(text).items():
                accounts.setdefault(str(account), [str(m) for m in marketplaces])
        except (ValueError, AttributeError):
            continue
    vendors = sorted(
        {v for text in _variables(resources, "OPAYO_VENDORS") for v in text.split(",") if v}
    )
    schedules = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::Scheduler::Schedule":
            continue
        props = resource.get("Properties", {})
        job = _handler_module(resources, props.get("Target", {}).get("Arn"))
        schedules.append(
            Schedule(
                job=job or "?",
                scope=_scope(str(props.get("Description", "")), job),
                expression=str(props.get("ScheduleExpression", "")),
                enabled=props.get("State", "ENABLED") == "ENABLED",
            )
        )
    schedules.sort(key=lambda s: (s.job, s.scope))
    event_dead_letters: dict[str, list[str]] = {}
    replay_functions: dict[str, set[str | None]] = {}
    for logical_id, resource in sorted(resources.items()):
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Scheduler::Schedule":
            targets = [props.get("Target", {})]
            job = _handler_module(resources, targets[0].get("Arn"))
            scope = _scope(str(props.get("Description", "")), job)
            sender = f"schedule {job or '?'}" + (f" for {scope}" if scope else "")
        elif resource.get("Type") == "AWS::Events::Rule":
            targets = list(props.get("Targets", []))
            sender = f"rule {logical_id}"
        else:
            continue
        for target in targets:
            queue = _get_att_of(target.get("DeadLetterConfig", {}).get("Arn"))
            if queue is not None:
                event_dead_letters.setdefault(queue, []).append(sender.strip())
                function = _get_att_of(target.get("Arn"))
                is_rule = resource.get("Type") == "AWS::Events::Rule"
                is_function = (
                    resources.get(function or "", {}).get("Type") == "AWS::Lambda::Function"
                )
                replay_functions.setdefault(queue, set()).add(
                    function if is_rule and is_function else None
                )
    event_replay_targets = {
        queue: next(iter(functions))
        for queue, functions in replay_functions.items()
        if len(functions) == 1 and None not in functions
    }
    references = sorted(
        {r for text in _variables(resources, "MAPPING_TEMPLATES") for r in text.split(",") if r}
    )
    policies = {}
    for name in ("FULFILLMENT_POLICY", "UNFULFILLABLE_AUTHORISATIONS", "RETURN_DEDUCTIONS"):
        values = sorted(set(_variables(resources, name)))
        if values:
            policies[name] = ", ".join(values)
    endpoint = next(
        (v for k, v in sorted(outputs.items()) if k.startswith(API_ENDPOINT_OUTPUT_PREFIX)), None
    )
    return StackFacts(
        accounts=accounts,
        vendors=vendors,
        schedules=schedules,
        mapping_templates=[_template_version(r) for r in references],
        policies=policies,
        api_url=api_url or endpoint,
        egress_ip=outputs.get(EGRESS_IP_OUTPUT),
        egress_note=egress_note,
        event_dead_letters=event_dead_letters,
        event_replay_targets={q: str(f) for q, f in event_replay_targets.items()},
    )


def _get_att_of(value: Any) -> str | None:
    """The logical id in `{"Fn::GetAtt": [id, "Arn"]}`, or None for anything else."""
    if isinstance(value, dict):
        reference = value.get("Fn::GetAtt")
        if isinstance(reference, list) and reference:
            return str(reference[0])
    return None
