"""A fixed egress address for Opayo: a small VPC whose only way out is NAT on one Elastic IP.

Opayo accepts Server and Direct Shared Protocol posts (release, abort, refund, void) only from
the IP addresses the merchant registered under "Valid IPs" in MyOpayo; a Lambda function has
no fixed address unless it runs in a VPC behind NAT with an Elastic IP. Only the functions in
`infra.constants.FIXED_EGRESS_FUNCTIONS` are placed here: every other function stays out of
the VPC (no ENI cold start, no NAT traffic).

NAT is one fck-nat instance (cdk-fck-nat) by default, or a managed NAT Gateway
(`egress.nat: gateway` in cdk.json); both hold the same Elastic IP, which is a stack output
the merchant registers. Private subnets in two AZs route through the one NAT, so there is
exactly one address to register. DynamoDB is reached through a gateway endpoint (free) rather
than through NAT. Synthesis stays offline: the AZs are `Fn::GetAZs` tokens, and the fck-nat
AMI id is read from an SSM parameter at deploy time (no lookup).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from cdk_fck_nat import FckNatInstanceProvider
from constructs import Construct, IConstruct

from infra.config import EnvironmentConfig
from infra.constants import SERVICE_NAME
from infra.functions import log_retention

VPC_CIDR = "10.80.0.0/24"
HTTPS = ec2.Port.tcp(443)
OUTPUT_EGRESS_IP = "OpayoEgressIp"


def nat_ami_parameter(config: EnvironmentConfig) -> str:
    """The SSM parameter holding the fck-nat AMI id (docs/deploy.md says how to fill it)."""
    return config.egress.nat_ami_parameter or f"/{SERVICE_NAME}/{config.name}/fck-nat-ami"


class FixedEgress(Construct):
    """`vpc`, `subnets` and `security_group` for the functions that need the fixed address;
    `elastic_ip` is the address Opayo sees."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.elastic_ip = ec2.CfnEIP(
            self,
            "ElasticIp",
            domain="vpc",
            tags=[{"key": "Name", "value": f"{SERVICE_NAME}-{config.name}-opayo-egress"}],
        )
        # Kept on stack deletion: it is registered with Opayo, and a new one would not be.
        self.elastic_ip.apply_removal_policy(RemovalPolicy.RETAIN)
        self.nat_instance: FckNatInstanceProvider | None = None
        nat = self._build_nat_provider(config)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            # The stack's AZs are Fn::GetAZs tokens (infra/stack.py): no lookup at synthesis.
            max_azs=2,
            nat_gateways=1,
            nat_gateway_provider=nat,
            subnet_configuration=[
                # Only the NAT lives here; it gets its address from the Elastic IP (or the
                # launch template), so nothing launched here is given a public IP by default.
                ec2.SubnetConfiguration(
                    name="Nat",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=27,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name="Functions",
                    subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                    cidr_mask=26,
                ),
            ],
            # No custom-resource Lambda to empty the default group: nothing uses it (the
            # functions and the NAT have their own groups).
            restrict_default_security_group=False,
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.vpc.add_gateway_endpoint(
            "DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
        )
        self._build_flow_log(config, logs_key)
        self.security_group = ec2.SecurityGroup(
            self,
            "FunctionsSecurityGroup",
            vpc=self.vpc,
            description="Opayo Shared Protocol callers: HTTPS out only, nothing in",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), HTTPS, "HTTPS to Opayo and AWS APIs through NAT"
        )
        if self.nat_instance is not None:
            # The NAT instance forwards only what the functions send: HTTPS from the VPC.
            self.nat_instance.security_group.add_ingress_rule(
                ec2.Peer.ipv4(VPC_CIDR), HTTPS, "HTTPS from the functions"
            )
            self._harden_nat_instance()
            self._scope_nat_address_permission()
        CfnOutput(
            Stack.of(self),
            OUTPUT_EGRESS_IP,
            value=self.elastic_ip.attr_public_ip,
            description=(
                "Register this address in MyOpayo under Settings > Valid IPs (live and test): "
                "Opayo accepts Shared Protocol posts only from it"
            ),
        )

    def _build_nat_provider(self, config: EnvironmentConfig) -> ec2.NatProvider:
        allocation = self.elastic_ip.attr_allocation_id
        if config.egress.nat == "gateway":
            return ec2.NatProvider.gateway(eip_allocation_ids=[allocation])
        self.nat_instance = FckNatInstanceProvider(
            instance_type=ec2.InstanceType(config.egress.nat_instance_type),
            machine_image=ec2.MachineImage.from_ssm_parameter(
                nat_ami_parameter(config), os=ec2.OperatingSystemType.LINUX
            ),
            eip_pool=[allocation],
            # No SSM agent permissions: the instance keeps no state and is replaced, never
            # logged into (and it has no SSH key).
            enable_ssm=False,
        )
        return self.nat_instance

    def _harden_nat_instance(self) -> None:
        """IMDSv2 only (fck-nat's service/fck-nat.sh asks for a token) and an encrypted root
        volume (the AL2023-based fck-nat AMI's root device is /dev/xvda); cdk-fck-nat does
        not expose either, so they are set on its launch templates."""
        for child in self.vpc.node.find_all():
            if isinstance(child, ec2.CfnLaunchTemplate):
                child.add_property_override(
                    "LaunchTemplateData.MetadataOptions.HttpTokens", "required"
                )
                child.add_property_override(
                    "LaunchTemplateData.BlockDeviceMappings",
                    [{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "VolumeType": "gp3"}}],
                )

    def _scope_nat_address_permission(self) -> None:
        """cdk-fck-nat's instance role may attach any interface and (dis)associate any address
        (Resource '*'); narrow it to this account's instances and interfaces in the region and
        to this Elastic IP."""
        stack = Stack.of(self)
        prefix = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
        for child in self.vpc.node.find_all():
            if isinstance(child, iam.CfnRole) and "NatRole" in child.node.path:
                child.add_property_override(
                    "Policies.0.PolicyDocument.Statement.0.Resource",
                    [f"{prefix}:instance/*", f"{prefix}:network-interface/*"],
                )
            if isinstance(child, iam.CfnPolicy) and "NatRole" in child.node.path:
                child.add_property_override(
                    "PolicyDocument.Statement.0.Resource",
                    [
                        f"{prefix}:elastic-ip/{self.elastic_ip.attr_allocation_id}",
                        f"{prefix}:instance/*",
                        f"{prefix}:network-interface/*",
                    ],
                )

    @property
    def nat_role(self) -> IConstruct | None:
        """The NAT instance's role (None with a NAT Gateway)."""
        return self.nat_instance.role if self.nat_instance is not None else None

    @property
    def nat_instance_constructs(self) -> list[IConstruct]:
        """The NAT instance's Auto Scaling groups (none with a NAT Gateway)."""
        if self.nat_instance is None:
            return []
        return list(self.nat_instance.auto_scaling_groups)

    def _build_flow_log(self, config: EnvironmentConfig, logs_key: kms.IKey) -> None:
        group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=logs_key,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
