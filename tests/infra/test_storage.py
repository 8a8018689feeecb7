"""Storage: tables with PITR, KMS and TTL; the report archive bucket locked down."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.conftest import logical_id_by_path, of_type


def test_three_tables_all_with_pitr_and_customer_managed_kms(resources: dict[str, Any]) -> None:
    tables = of_type(resources, "AWS::DynamoDB::Table")
    assert len(tables) == 3
    for table in tables.values():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        sse = props["SSESpecification"]
        assert sse["SSEEnabled"] is True
        assert sse["SSEType"] == "KMS"
        assert "Fn::GetAtt" in sse["KMSMasterKeyId"], "must be our own key, not AWS owned"
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"


def test_idempotency_table_has_powertools_key_and_ttl(resources: dict[str, Any]) -> None:
    props = resources[logical_id_by_path(resources, "/Storage/IdempotencyTable/")]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_orders_table_is_indexed_by_vendor_tx_code(resources: dict[str, Any]) -> None:
    props = resources[logical_id_by_path(resources, "/Storage/OrdersTable/")]["Properties"]
    by_name = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert by_name["by-vendor-tx-code"]["KeySchema"] == [
        {"AttributeName": "vendorTxCode", "KeyType": "HASH"}
    ]


def test_held_authorisations_are_a_sparse_index_queried_by_vendor_and_age(
    resources: dict[str, Any],
) -> None:
    from opayo_fba.store.orders import (
        HELD_AUTHORISATIONS_INDEX,
        HELD_SINCE_ATTRIBUTE,
        HELD_VENDOR_ATTRIBUTE,
    )

    props = resources[logical_id_by_path(resources, "/Storage/OrdersTable/")]["Properties"]
    by_name = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert by_name[HELD_AUTHORISATIONS_INDEX]["KeySchema"] == [
        {"AttributeName": HELD_VENDOR_ATTRIBUTE, "KeyType": "HASH"},
        {"AttributeName": HELD_SINCE_ATTRIBUTE, "KeyType": "RANGE"},
    ]


def test_orders_are_indexed_by_account_and_received_time_with_status_and_marketplace(
    resources: dict[str, Any],
) -> None:
    from opayo_fba.store.orders import (
        ACCOUNT_ATTRIBUTE,
        ACCOUNT_INDEX,
        MARKETPLACE_ATTRIBUTE,
        RECEIVED_AT_ATTRIBUTE,
    )

    props = resources[logical_id_by_path(resources, "/Storage/OrdersTable/")]["Properties"]
    by_name = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert by_name[ACCOUNT_INDEX]["KeySchema"] == [
        {"AttributeName": ACCOUNT_ATTRIBUTE, "KeyType": "HASH"},
        {"AttributeName": RECEIVED_AT_ATTRIBUTE, "KeyType": "RANGE"},
    ]
    assert by_name[ACCOUNT_INDEX]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["status", MARKETPLACE_ATTRIBUTE],
    }


def test_the_tests_orders_table_has_the_stacks_indexes(resources: dict[str, Any]) -> None:
    """tests/fixtures/tables.py builds the orders table for moto tests; it must not drift."""
    from tests.fixtures.tables import ORDERS_TABLE_SHAPE

    props = resources[logical_id_by_path(resources, "/Storage/OrdersTable/")]["Properties"]

    def shape(indexes: list[dict[str, Any]]) -> dict[str, Any]:
        return {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in indexes}

    assert shape(ORDERS_TABLE_SHAPE["GlobalSecondaryIndexes"]) == shape(
        props["GlobalSecondaryIndexes"]
    )
    assert sorted(map(str, ORDERS_TABLE_SHAPE["AttributeDefinitions"])) == sorted(
        map(str, props["AttributeDefinitions"])
    )


def test_connector_state_table_has_partition_and_sort_key(resources: dict[str, Any]) -> None:
    props = resources[logical_id_by_path(resources, "/Storage/ConnectorStateTable/")]["Properties"]
    assert [k["KeyType"] for k in props["KeySchema"]] == ["HASH", "RANGE"]


def test_report_bucket_is_private_versioned_kms_and_has_lifecycle(template: Any) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": Match.any_value(),
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Status": "Enabled",
                                "Transitions": [
                                    {"StorageClass": "GLACIER_IR", "TransitionInDays": 90}
                                ],
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                            }
                        )
                    ]
                )
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "reports-bucket/"}),
        },
    )


def test_every_bucket_denies_requests_without_tls(resources: dict[str, Any]) -> None:
    buckets = of_type(resources, "AWS::S3::Bucket")
    policies = of_type(resources, "AWS::S3::BucketPolicy")
    protected = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                assert statement["Effect"] == "Deny"
                protected.add(policy["Properties"]["Bucket"]["Ref"])
    assert protected == set(buckets)


def test_data_is_retained_when_the_stack_is_deleted(resources: dict[str, Any]) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::KMS::Key"):
        for logical_id, resource in of_type(resources, kind).items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id


def test_every_kms_key_rotates(resources: dict[str, Any]) -> None:
    keys = of_type(resources, "AWS::KMS::Key")
    assert len(keys) >= 4  # data, logs, secrets, SP-API notifications queue
    for logical_id, key in keys.items():
        assert key["Properties"]["EnableKeyRotation"] is True, logical_id
