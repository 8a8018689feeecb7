"""The fixed egress address for Opayo (infra/egress.py): only the Shared Protocol callers sit
in a VPC whose one way out is NAT on a retained Elastic IP, which is a stack output.

The dev template (cdk.json: `egress.nat: instance`) has the fck-nat instance; the prod one
(`egress.nat: gateway`) is synthesized here with the three cdk-nag packs, as `make synth`
would, to prove the managed NAT Gateway option is as clean as the default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import EnvironmentConfig, load_config
from infra.constants import ALL_FUNCTIONS, FIXED_EGRESS_FUNCTIONS
from infra.egress import OUTPUT_EGRESS_IP, VPC_CIDR, nat_ami_parameter
from local_runtime.provision import NOT_NEEDED_LOCALLY
from tests.infra.conftest import cdk_context, of_type

EGRESS_TYPES = (
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::EIP",
    "AWS::EC2::NatGateway",
    "AWS::EC2::LaunchTemplate",
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::EC2::NetworkInterface",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::FlowLog",
)


def _one(resources: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = of_type(resources, resource_type).items()
    return found


def _functions_in_vpc(resources: dict[str, Any]) -> set[str]:
    return {
        function["Properties"]["Handler"].removesuffix(".handler")
        for function in of_type(resources, "AWS::Lambda::Function").values()
        if "VpcConfig" in function["Properties"]
    }


def test_only_the_shared_protocol_callers_are_in_the_vpc(resources: dict[str, Any]) -> None:
    assert _functions_in_vpc(resources) == {spec.module for spec in FIXED_EGRESS_FUNCTIONS}
    assert {"saga_capture_payment", "saga_abort_payment", "saga_refund_payment"} <= {
        spec.module for spec in FIXED_EGRESS_FUNCTIONS
    }
    assert len(FIXED_EGRESS_FUNCTIONS) < len(ALL_FUNCTIONS)
    (subnets,) = {
        json.dumps(f["Properties"]["VpcConfig"]["SubnetIds"], sort_keys=True)
        for f in of_type(resources, "AWS::Lambda::Function").values()
        if "VpcConfig" in f["Properties"]
    }
    private = [
        key
        for key, subnet in of_type(resources, "AWS::EC2::Subnet").items()
        if not subnet["Properties"]["MapPublicIpOnLaunch"] and "Functions" in key
    ]
    assert sorted(ref["Ref"] for ref in json.loads(subnets)) == sorted(private)
    assert len(private) == 2  # two AZs, one NAT: one address to register


def test_the_elastic_ip_is_retained_and_is_the_stack_output(template_json: dict[str, Any]) -> None:
    resources = template_json["Resources"]
    eip_id, eip = _one(resources, "AWS::EC2::EIP")
    assert eip["DeletionPolicy"] == "Retain"  # registered with Opayo: never silently replaced
    output = template_json["Outputs"][OUTPUT_EGRESS_IP]
    assert output["Value"] == {"Fn::GetAtt": [eip_id, "PublicIp"]}
    assert "Valid IPs" in output["Description"]


def test_the_default_nat_is_one_hardened_fck_nat_instance(
    resources: dict[str, Any], template_json: dict[str, Any], config: EnvironmentConfig
) -> None:
    assert config.egress.nat == "instance"
    assert of_type(resources, "AWS::EC2::NatGateway") == {}
    _, group = _one(resources, "AWS::AutoScaling::AutoScalingGroup")
    assert (group["Properties"]["MinSize"], group["Properties"]["MaxSize"]) == ("1", "1")
    _, launch = _one(resources, "AWS::EC2::LaunchTemplate")
    data = launch["Properties"]["LaunchTemplateData"]
    assert data["InstanceType"] == "t4g.nano"
    assert data["MetadataOptions"] == {"HttpTokens": "required"}
    assert data["BlockDeviceMappings"] == [
        {"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "VolumeType": "gp3"}}
    ]
    # The AMI id comes from an SSM parameter at deploy time: no lookup at synthesis.
    (parameter,) = [
        name
        for name, p in template_json["Parameters"].items()
        if p["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    ]
    assert template_json["Parameters"][parameter]["Default"] == nat_ami_parameter(config)
    assert data["ImageId"] == {"Ref": parameter}
    eip_id, _ = _one(resources, "AWS::EC2::EIP")
    # fck-nat moves the Elastic IP onto the instance at boot (user data: eip_id=...).
    assert eip_id in json.dumps(data["UserData"])
    _, interface = _one(resources, "AWS::EC2::NetworkInterface")
    assert interface["Properties"]["SourceDestCheck"] is False


def test_traffic_is_https_only_both_ways(resources: dict[str, Any]) -> None:
    groups = of_type(resources, "AWS::EC2::SecurityGroup")
    functions = [
        g for g in groups.values() if "Shared Protocol" in g["Properties"]["GroupDescription"]
    ]
    (functions_group,) = functions
    assert functions_group["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to Opayo and AWS APIs through NAT",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert "SecurityGroupIngress" not in functions_group["Properties"]
    (nat_group,) = [g for g in groups.values() if g is not functions_group]
    assert nat_group["Properties"]["SecurityGroupIngress"] == [
        {
            "CidrIp": VPC_CIDR,
            "Description": "HTTPS from the functions",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_private_routes_go_through_the_nat_and_dynamodb_through_its_endpoint(
    resources: dict[str, Any],
) -> None:
    interface_id, _ = _one(resources, "AWS::EC2::NetworkInterface")
    routes = of_type(resources, "AWS::EC2::Route").values()
    through_nat = [r for r in routes if r["Properties"].get("NetworkInterfaceId")]
    assert len(through_nat) == 2
    assert all(r["Properties"]["NetworkInterfaceId"] == {"Ref": interface_id} for r in through_nat)
    _, endpoint = _one(resources, "AWS::EC2::VPCEndpoint")
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert "dynamodb" in json.dumps(endpoint["Properties"]["ServiceName"])
    _, flow_log = _one(resources, "AWS::EC2::FlowLog")
    assert flow_log["Properties"]["TrafficType"] == "ALL"


def test_the_local_runtime_lists_the_vpc_as_not_needed(resources: dict[str, Any]) -> None:
    present = {r["Type"] for r in resources.values()}
    for resource_type in EGRESS_TYPES:
        if resource_type in present or resource_type == "AWS::EC2::NatGateway":
            assert "fixed egress" in NOT_NEEDED_LOCALLY[resource_type], resource_type


@pytest.fixture(scope="module")
def gateway_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prod (egress.nat: gateway) synthesized with the cdk-nag packs, as `make synth` runs."""
    import aws_cdk as cdk

    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("gateway-cdk-out")
    app = cdk.App(context={**cdk_context(), "opayo-fba:environment": "prod"}, outdir=str(outdir))
    build_app(app)
    app.synth()
    return outdir


def test_the_nat_gateway_option_holds_the_same_address_and_is_nag_clean(
    gateway_assembly: Path,
) -> None:
    prod = load_config({**cdk_context(), "opayo-fba:environment": "prod"})
    assert prod.egress.nat == "gateway"
    template = json.loads((gateway_assembly / "OpayoFba-prod.template.json").read_text())
    resources = template["Resources"]
    eip_id, _ = _one(resources, "AWS::EC2::EIP")
    _, gateway = _one(resources, "AWS::EC2::NatGateway")
    assert gateway["Properties"]["AllocationId"] == {"Fn::GetAtt": [eip_id, "AllocationId"]}
    assert of_type(resources, "AWS::AutoScaling::AutoScalingGroup") == {}
    assert template["Outputs"][OUTPUT_EGRESS_IP]["Value"] == {"Fn::GetAtt": [eip_id, "PublicIp"]}
    assert _functions_in_vpc(resources) == {spec.module for spec in FIXED_EGRESS_FUNCTIONS}
    report = json.loads((gateway_assembly / "validation-report.json").read_text())
    assert {p["pluginName"] for p in report["pluginReports"]} >= {
        "AwsSolutions",
        "Serverless",
        "PCI.DSS.321",
    }
    assert [v for p in report["pluginReports"] for v in p["violations"]] == []


def test_the_nat_instance_role_names_its_resources(resources: dict[str, Any]) -> None:
    """cdk-fck-nat writes Resource '*'; the stack narrows it (see infra/nag.py's reason)."""
    eip_id, _ = _one(resources, "AWS::EC2::EIP")
    (role,) = [r for key, r in of_type(resources, "AWS::IAM::Role").items() if "NatRole" in key]
    (inline,) = role["Properties"]["Policies"]
    (policy,) = [p for key, p in of_type(resources, "AWS::IAM::Policy").items() if "NatRole" in key]
    document = policy["Properties"]["PolicyDocument"]
    statements = [*inline["PolicyDocument"]["Statement"], *document["Statement"]]
    assert {a for s in statements for a in s["Action"]} == {
        "ec2:AttachNetworkInterface",
        "ec2:ModifyNetworkInterfaceAttribute",
        "ec2:AssociateAddress",
        "ec2:DisassociateAddress",
    }
    for statement in statements:
        assert "*" not in statement["Resource"]
        for resource in statement["Resource"]:
            assert "111111111111" in json.dumps(resource)  # this account only
    assert eip_id in json.dumps(document)
    assert role["Properties"].get("ManagedPolicyArns") is None  # no SSM agent policy


def test_synthesis_looks_nothing_up(cloud_assembly: Path, gateway_assembly: Path) -> None:
    """No context lookup (AZs, AMIs) is left for `cdk synth` to make: it stays offline."""
    for assembly in (cloud_assembly, gateway_assembly):
        manifest = json.loads((assembly / "manifest.json").read_text())
        assert manifest.get("missing") is None, manifest.get("missing")
