"""Storage: the DynamoDB tables and the S3 bucket that archives Amazon reports.

Tables: orders (one item per order and saga state), idempotency (Powertools idempotency
records, expired by TTL) and connector state (watermarks, rate-limit buckets). All have
point-in-time recovery and are encrypted with our data key.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

# Powertools' DynamoDBPersistenceLayer default attribute names.
IDEMPOTENCY_KEY_ATTRIBUTE = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
REPORT_ARCHIVE_TRANSITION_DAYS = 90
REPORT_ARCHIVE_NONCURRENT_EXPIRY_DAYS = 30


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, data_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.orders_table = _build_table(self, "OrdersTable", data_key, sort_key=None)
        self.orders_table.add_global_secondary_index(
            index_name="by-vendor-tx-code",
            partition_key=dynamodb.Attribute(
                name="vendorTxCode", type=dynamodb.AttributeType.STRING
            ),
        )
        # Sparse: only orders whose Deferred authorisation is still held carry these keys
        # (opayo_fba.store.orders), so the aged-authorisations check queries just those.
        self.orders_table.add_global_secondary_index(
            index_name="by-held-authorisation",
            partition_key=dynamodb.Attribute(name="heldVendor", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="heldSince", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # Sparse: only orders with something to follow after the sale (a parcel not yet
        # delivered, a return not yet received) carry these keys, by seller account and the
        # time of their next check, so the after-sale tracker queries just those.
        self.orders_table.add_global_secondary_index(
            index_name="by-follow-up",
            partition_key=dynamodb.Attribute(
                name="followAccount", type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name="followAt", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # Every order (not the other items of the table) by seller account and the time it
        # was received, with its status and marketplace, for `opayo-fba status`'s counts.
        self.orders_table.add_global_secondary_index(
            index_name="by-account",
            partition_key=dynamodb.Attribute(name="account", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="receivedAt", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=["status", "marketplaceId"],
        )
        # Sparse: orders whose customer gave an e-mail address, by a SHA-256 of it (trimmed,
        # lower-cased), newest received first: the console's search by e-mail. The index
        # holds the hash, never the address.
        self.orders_table.add_global_secondary_index(
            index_name="by-customer-email",
            partition_key=dynamodb.Attribute(
                name="customerEmailHash", type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name="receivedAt", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        self.idempotency_table = _build_table(
            self,
            "IdempotencyTable",
            data_key,
            sort_key=None,
            partition_key=IDEMPOTENCY_KEY_ATTRIBUTE,
            ttl_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
        )
        self.connector_state_table = _build_table(self, "ConnectorStateTable", data_key, "sk")
        self.access_logs_bucket = _build_access_logs_bucket(self)
        self.reports_bucket = _build_reports_bucket(self, data_key, self.access_logs_bucket)


def _build_table(
    scope: Construct,
    construct_id: str,
    key: kms.IKey,
    sort_key: str | None,
    *,
    partition_key: str = "pk",
    ttl_attribute: str | None = None,
) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=(
            dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING)
            if sort_key
            else None
        ),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=ttl_attribute,
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
    )


def _build_access_logs_bucket(scope: Construct) -> s3.Bucket:
    # S3 server access logs can only be delivered to an SSE-S3 bucket, not SSE-KMS.
    return s3.Bucket(
        scope,
        "AccessLogsBucket",
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-access-logs",
                expiration=Duration.days(365),
                noncurrent_version_expiration=Duration.days(REPORT_ARCHIVE_NONCURRENT_EXPIRY_DAYS),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )


def _build_reports_bucket(scope: Construct, key: kms.IKey, access_logs: s3.IBucket) -> s3.Bucket:
    return s3.Bucket(
        scope,
        "ReportsBucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="reports-bucket/",
        lifecycle_rules=[
            s3.LifecycleRule(
                id="archive-settlement-reports",
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                        transition_after=Duration.days(REPORT_ARCHIVE_TRANSITION_DAYS),
                    )
                ],
                noncurrent_version_expiration=Duration.days(REPORT_ARCHIVE_NONCURRENT_EXPIRY_DAYS),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
