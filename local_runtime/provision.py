"""Create the template's resources in moto and describe what the runtime must wire.

Every resource type in the template falls in one of three groups, and the start-up report
says which: created in moto; not needed locally (IAM, alarms, dashboards, permissions, ...:
they constrain or watch a deployment but change no behaviour here); or unsupported, which is
reported loudly instead of skipped silently.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_runtime.lambda_bridge import LocalFunction
from local_runtime.sqs_poller import EventSourceMapping
from local_runtime.template import Resource, Template

# Types whose job locally is done by something else, with the reason shown at start-up.
NOT_NEEDED_LOCALLY: dict[str, str] = {
    "AWS::IAM::Role": "no IAM locally: every function may call every local resource",
    "AWS::IAM::Policy": "no IAM locally",
    "AWS::IAM::ManagedPolicy": "no IAM locally",
    "AWS::Lambda::Permission": "no IAM locally",
    "AWS::Lambda::LayerVersion": "layer code is the installed opayo_fba package",
    "AWS::Logs::LogGroup": "logs go to the console",
    "AWS::CloudWatch::Alarm": "no alarms locally",
    "AWS::CloudWatch::Dashboard": "no dashboards locally",
    "AWS::SNS::Subscription": "alert e-mails are not sent locally",
    "AWS::SQS::QueuePolicy": "no resource policies locally",
    "AWS::KMS::Alias": "encryption is not simulated",
    "AWS::ApiGateway::Account": "served by the local API server",
    "AWS::ApiGateway::Deployment": "served by the local API server",
    "AWS::ApiGateway::Stage": "served by the local API server",
    "AWS::ApiGateway::UsagePlan": "no usage plans locally",
    "AWS::ApiGateway::UsagePlanKey": "no usage plans locally",
    "AWS::ApiGateway::ApiKey": "no API keys locally",
    "AWS::Scheduler::ScheduleGroup": "schedules fire from the local clock",
    "AWS::SecretsManager::RotationSchedule": "no rotation locally",
    "AWS::SecretsManager::SecretTargetAttachment": "no rotation locally",
    "AWS::CDK::Metadata": "CDK bookkeeping",
    "AWS::S3::BucketPolicy": "no resource policies locally",
    "AWS::Events::EventBusPolicy": "no resource policies locally",
    "AWS::SNS::TopicPolicy": "no resource policies locally",
    "AWS::EventSchemas::Registry": "the event schemas are in docs/events/",
    "AWS::EventSchemas::Schema": "the event schemas are in docs/events/",
}
# The fixed egress address for Opayo (infra/egress.py): locally every function reaches the
# sandboxes on loopback, and the Opayo sandbox plays the Valid IPs check itself.
_FIXED_EGRESS = "the fixed egress address for Opayo: no VPC or NAT, the sandboxes are on loopback"
NOT_NEEDED_LOCALLY.update(
    dict.fromkeys(
        (
            "AWS::EC2::VPC",
            "AWS::EC2::Subnet",
            "AWS::EC2::RouteTable",
            "AWS::EC2::SubnetRouteTableAssociation",
            "AWS::EC2::Route",
            "AWS::EC2::InternetGateway",
            "AWS::EC2::VPCGatewayAttachment",
            "AWS::EC2::VPCEndpoint",
            "AWS::EC2::SecurityGroup",
            "AWS::EC2::SecurityGroupIngress",
            "AWS::EC2::SecurityGroupEgress",
            "AWS::EC2::EIP",
            "AWS::EC2::NatGateway",
            "AWS::EC2::NetworkInterface",
            "AWS::EC2::LaunchTemplate",
            "AWS::EC2::FlowLog",
            "AWS::IAM::InstanceProfile",
            "AWS::AutoScaling::AutoScalingGroup",
        ),
        _FIXED_EGRESS,
    )
)

# Types the local runtime itself plays the part of.
RUN_LOCALLY: dict[str, str] = {
    "AWS::Lambda::Function": "in-process, each with its own environment",
    "AWS::Lambda::EventSourceMapping": "polled like Lambda",
    "AWS::ApiGateway::RestApi": "served over HTTP",
    "AWS::ApiGateway::Resource": "served over HTTP",
    "AWS::ApiGateway::Method": "served over HTTP as proxy events",
    "AWS::ApiGateway::Model": "request bodies validated",
    "AWS::ApiGateway::RequestValidator": "request bodies validated",
    "AWS::Events::Rule": "fired from the local clock, or by Step Functions' status changes",
    "AWS::Scheduler::Schedule": "fired from the local clock",
}

CREATED_IN_MOTO = (
    "AWS::KMS::Key",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::S3::Bucket",
    "AWS::Events::EventBus",
    "AWS::SecretsManager::Secret",
    "AWS::StepFunctions::StateMachine",
)


@dataclass
class Provisioned:
    functions: list[LocalFunction] = field(default_factory=list)
    mappings: list[EventSourceMapping] = field(default_factory=list)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    created: Counter[str] = field(default_factory=Counter)
    run_locally: Counter[str] = field(default_factory=Counter)
    not_needed: Counter[str] = field(default_factory=Counter)
    unsupported: list[str] = field(default_factory=list)


def _zip_placeholder() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs in-process from the CDK asset directory")
    return buffer.getvalue()


class Provisioner:
    def __init__(self, template: Template) -> None:
        self.template = template
        region = template.region
        self.kms = boto3.client("kms", region)
        self.dynamodb = boto3.client("dynamodb", region)
        self.sqs = boto3.client("sqs", region)
        self.sns = boto3.client("sns", region)
        self.s3 = boto3.client("s3", region)
        self.events = boto3.client("events", region)
        self.secrets = boto3.client("secretsmanager", region)
        self.sfn = boto3.client("stepfunctions", region)
        self.lambda_ = boto3.client("lambda", region)
        self.iam = boto3.client("iam", region)

    def run(self, secret_values: dict[str, dict[str, Any]]) -> Provisioned:
        """Create everything; `secret_values` seeds secrets by logical id or name."""
        result = Provisioned()
        t = self.template
        for resource in t.resources.values():
            if resource.type in CREATED_IN_MOTO:
                result.created[resource.type] += 1
            elif resource.type in RUN_LOCALLY:
                result.run_locally[resource.type] += 1
            elif resource.type in NOT_NEEDED_LOCALLY:
                result.not_needed[resource.type] += 1
            else:
                result.unsupported.append(f"{resource.logical_id} ({resource.type})")
        for resource in t.of_type("AWS::KMS::Key"):
            key = self.kms.create_key(Description=resource.logical_id)["KeyMetadata"]
            t.set_physical(resource.logical_id, Ref=key["KeyId"], Arn=key["Arn"])
        for resource in t.of_type("AWS::DynamoDB::Table"):
            self._table(resource)
        # Dead-letter queues first: a redrive policy names its DLQ's ARN.
        queues = t.of_type("AWS::SQS::Queue")
        for resource in sorted(queues, key=lambda r: "RedrivePolicy" in r.properties):
            self._queue(resource)
        for resource in t.of_type("AWS::SNS::Topic"):
            arn = self.sns.create_topic(Name=t.physical_name(resource.logical_id))["TopicArn"]
            t.set_physical(resource.logical_id, Ref=arn, Arn=arn)
        for resource in t.of_type("AWS::S3::Bucket"):
            self.s3.create_bucket(
                Bucket=t.physical_name(resource.logical_id),
                CreateBucketConfiguration={"LocationConstraint": t.region},
            )
        for resource in t.of_type("AWS::Events::EventBus"):
            name = t.physical_name(resource.logical_id)
            arn = self.events.create_event_bus(Name=name)["EventBusArn"]
            t.set_physical(resource.logical_id, Ref=name, Arn=arn, Name=name)
        for resource in t.of_type("AWS::SecretsManager::Secret"):
            result.secrets[resource.logical_id] = self._secret(resource, secret_values)
        role = self.iam.create_role(RoleName="local-runtime", AssumeRolePolicyDocument="{}")
        for resource in t.of_type("AWS::Lambda::Function"):
            result.functions.append(self._function(resource, role["Role"]["Arn"]))
        for resource in t.of_type("AWS::StepFunctions::StateMachine"):
            result.state_machines[resource.logical_id] = self._state_machine(
                resource, role["Role"]["Arn"]
            )
        for resource in t.of_type("AWS::Lambda::EventSourceMapping"):
            mapping = self._event_source_mapping(resource)
            if mapping is not None:
                result.mappings.append(mapping)
            else:
                result.unsupported.append(f"{resource.logical_id} (non-SQS event source)")
        return result

    def _table(self, resource: Resource) -> None:
        p = self.template.resolve(resource.properties)
        name = self.template.physical_name(resource.logical_id)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": p["KeySchema"],
            "AttributeDefinitions": p["AttributeDefinitions"],
            "BillingMode": p.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if kwargs["BillingMode"] == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = p["ProvisionedThroughput"]
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if p.get(index_kind):
                kwargs[index_kind] = p[index_kind]
        if p.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
        self.dynamodb.create_table(**kwargs)
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            self.dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )

    def _queue(self, resource: Resource) -> None:
        t = self.template
        p = t.resolve(resource.properties)
        name = t.physical_name(resource.logical_id)
        attributes: dict[str, str] = {}
        for key in (
            "FifoQueue",
            "ContentBasedDeduplication",
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
            "DeduplicationScope",
            "FifoThroughputLimit",
        ):
            if key in p:
                value = p[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in p:
            attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        t.set_physical(resource.logical_id, Ref=url, QueueUrl=url, Arn=arn, Name=name)

    def _secret(self, resource: Resource, secret_values: dict[str, dict[str, Any]]) -> str:
        t = self.template
        name = t.physical_name(resource.logical_id)
        value = secret_values.get(resource.logical_id) or secret_values.get(name) or {}
        arn = self.secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        t.set_physical(resource.logical_id, Ref=arn, Arn=arn, Name=name)
        return str(arn)

    def _function(self, resource: Resource, role_arn: str) -> LocalFunction:
        t = self.template
        # A function's VPC (the fixed egress address for Opayo) is not needed locally.
        p = t.resolve({k: v for k, v in resource.properties.items() if k != "VpcConfig"})
        name = t.physical_name(resource.logical_id)
        code_dir = t.asset_dir(resource)
        if code_dir is None:
            raise ValueError(f"function {resource.logical_id} has no CDK asset path")
        arn = self.lambda_.create_function(
            FunctionName=name,
            Runtime=p.get("Runtime", "python3.12"),
            Role=role_arn,
            Handler=p["Handler"],
            Code={"ZipFile": _zip_placeholder()},
            Timeout=int(p.get("Timeout", 30)),
            MemorySize=int(p.get("MemorySize", 256)),
        )["FunctionArn"]
        t.set_physical(resource.logical_id, Ref=name, Arn=arn, Name=name)
        environment = {
            k: str(v) for k, v in (p.get("Environment", {}).get("Variables", {}) or {}).items()
        }
        return LocalFunction(
            name=name,
            code_dir=Path(code_dir),
            handler=p["Handler"],
            environment=environment,
            timeout_seconds=int(p.get("Timeout", 30)),
            memory_mb=int(p.get("MemorySize", 256)),
            arn=arn,
        )

    def _state_machine(self, resource: Resource, role_arn: str) -> str:
        t = self.template
        p = t.resolve(resource.properties)
        definition = p.get("DefinitionString")
        if definition is None and "Definition" in p:
            definition = json.dumps(p["Definition"])
        if definition is None:
            raise ValueError(f"state machine {resource.logical_id} has no definition")
        name = t.physical_name(resource.logical_id)
        arn = self.sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=role_arn,
            type=p.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        t.set_physical(resource.logical_id, Ref=arn, Arn=arn, Name=name)
        return str(arn)

    def _event_source_mapping(self, resource: Resource) -> EventSourceMapping | None:
        t = self.template
        p = t.resolve(resource.properties)
        source = str(p.get("EventSourceArn", ""))
        if ":sqs:" not in source:
            return None
        queue = next(
            r.logical_id
            for r in t.of_type("AWS::SQS::Queue")
            if t.get_att(r.logical_id, "Arn") == source
        )
        return EventSourceMapping(
            function=str(p["FunctionName"]),
            queue_url=str(t.ref(queue)),
            queue_arn=source,
            batch_size=int(p.get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures"
            in (p.get("FunctionResponseTypes") or []),
            region=t.region,
        )
