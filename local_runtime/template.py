"""Read a synthesized CloudFormation template and resolve its intrinsic functions locally.

Physical names are chosen the way CloudFormation would (the explicit name property, else a
name derived from the logical id) and ARNs are built for the local account and region. Once a
resource is provisioned in moto, `set_physical` records what moto actually returned (a secret's
ARN carries a random suffix, for instance), and later resolutions use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"


class TemplateError(ValueError):
    """The template uses something the local runtime cannot resolve."""


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    metadata: dict[str, Any]


# name property, whether names are lower-cased, ARN pattern ({name}, {region}, {account}).
_NAMING: dict[str, tuple[str | None, str]] = {
    "AWS::DynamoDB::Table": ("TableName", "arn:aws:dynamodb:{region}:{account}:table/{name}"),
    "AWS::SQS::Queue": ("QueueName", "arn:aws:sqs:{region}:{account}:{name}"),
    "AWS::SNS::Topic": ("TopicName", "arn:aws:sns:{region}:{account}:{name}"),
    "AWS::S3::Bucket": ("BucketName", "arn:aws:s3:::{name}"),
    "AWS::Events::EventBus": ("Name", "arn:aws:events:{region}:{account}:event-bus/{name}"),
    "AWS::Lambda::Function": (
        "FunctionName",
        "arn:aws:lambda:{region}:{account}:function:{name}",
    ),
    "AWS::StepFunctions::StateMachine": (
        "StateMachineName",
        "arn:aws:states:{region}:{account}:stateMachine:{name}",
    ),
    "AWS::SecretsManager::Secret": (
        "Name",
        "arn:aws:secretsmanager:{region}:{account}:secret:{name}",
    ),
    "AWS::IAM::Role": ("RoleName", "arn:aws:iam::{account}:role/{name}"),
    "AWS::Logs::LogGroup": (
        "LogGroupName",
        "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    ),
    "AWS::KMS::Key": (None, "arn:aws:kms:{region}:{account}:key/{name}"),
    "AWS::Scheduler::Schedule": (
        "Name",
        "arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
    ),
    "AWS::Events::Rule": ("Name", "arn:aws:events:{region}:{account}:rule/{name}"),
}

# What `Ref` returns when it is not the name.
_REF_IS_ARN = {
    "AWS::SNS::Topic",
    "AWS::StepFunctions::StateMachine",
    "AWS::SecretsManager::Secret",
}


@dataclass
class Template:
    resources: dict[str, Resource]
    parameters: dict[str, Any]
    region: str
    account: str = ACCOUNT
    stack_name: str = "OpayoFba"
    asset_root: Path = field(default_factory=Path)
    _physical: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, region: str, account: str = ACCOUNT) -> Template:
        document = json.loads(path.read_text())
        resources = {
            logical_id: Resource(
                logical_id,
                body["Type"],
                body.get("Properties", {}) or {},
                body.get("Metadata", {}) or {},
            )
            for logical_id, body in document.get("Resources", {}).items()
        }
        return cls(
            resources=resources,
            parameters=document.get("Parameters", {}),
            region=region,
            account=account,
            stack_name=path.name.removesuffix(".template.json"),
            asset_root=path.parent,
        )

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type in types]

    # -- physical names ------------------------------------------------------------------

    def physical_name(self, logical_id: str) -> str:
        known = self._physical.get(logical_id, {})
        if "Name" in known:
            return known["Name"]
        resource = self._resource(logical_id)
        name_property, _ = _NAMING.get(resource.type, (None, ""))
        if name_property and name_property in resource.properties:
            return str(self.resolve(resource.properties[name_property]))
        # CloudFormation generates "<stack>-<logicalId>-<random>"; a stable version of it.
        name = f"{self.stack_name}-{logical_id}"[:63]
        if resource.type == "AWS::S3::Bucket":
            name = re.sub(r"[^a-z0-9-]", "-", name.lower())
        if resource.type == "AWS::SQS::Queue" and resource.properties.get("FifoQueue"):
            name = name[:75] + ".fifo"
        return name

    def arn(self, logical_id: str) -> str:
        known = self._physical.get(logical_id, {})
        if "Arn" in known:
            return known["Arn"]
        resource = self._resource(logical_id)
        _, pattern = _NAMING.get(resource.type, (None, ""))
        if not pattern:
            raise TemplateError(f"{logical_id} ({resource.type}) has no ARN locally")
        return pattern.format(
            region=self.region, account=self.account, name=self.physical_name(logical_id)
        )

    def set_physical(self, logical_id: str, **attributes: str) -> None:
        """Record what the provisioned resource really is (Name, Arn, Ref, Url, ...)."""
        self._physical.setdefault(logical_id, {}).update(attributes)

    def _resource(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"the template has no resource {logical_id!r}") from None

    # -- intrinsic functions -------------------------------------------------------------

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
            f"{self.stack_name}/local",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name].get("Default", "")
        known = self._physical.get(name, {})
        if "Ref" in known:
            return known["Ref"]
        resource = self._resource(name)
        if resource.type in _REF_IS_ARN:
            return self.arn(name)
        if resource.type == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/" + (
                self.physical_name(name)
            )
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        known = self._physical.get(logical_id, {})
        if attribute in known:
            return known[attribute]
        resource = self._resource(logical_id)
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in ("QueueName", "Name", "TopicName"):
            return self.physical_name(logical_id)
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        if attribute == "StreamArn":
            return self.arn(logical_id) + "/stream/local"
        if attribute == "RootResourceId":
            return f"{logical_id}-root"
        raise TemplateError(
            f"Fn::GetAtt {logical_id}.{attribute} ({resource.type}) is not supported locally"
        )

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function inside `value`."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else argument.split(".", 1)
                )
                return self.get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(p)) for p in self.resolve(parts))
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if key == "Fn::If":
                raise TemplateError("Fn::If (conditions) is not supported locally")
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported locally")
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def asset_dir(self, resource: Resource) -> Path | None:
        """Where CDK put the asset of a function or layer (cdk.out/asset.<hash>)."""
        path = resource.metadata.get("aws:asset:path")
        return self.asset_root / path if path else None
