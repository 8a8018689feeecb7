"""Helpers for the Amazon connector's integration tests and the rate-limit benchmark:
a moto DynamoDB buckets table and a connector aimed at a sandbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3

from opayo_fba.amazon.connector import SpApiConnector, SpApiEndpoints
from opayo_fba.amazon.credentials import SellerCredentials
from opayo_fba.amazon.rate_limit import USAGE_PLANS, SellerRateLimiter, UsagePlan
from opayo_fba.amazon.retry import RetryPolicy
from opayo_fba.store.rate_limits import TokenBucketTable
from tests.fixtures.atomic_dynamodb import AtomicDynamoDB

BUCKETS_TABLE = "opayo-fba-rate-limits"


def create_buckets_table() -> AtomicDynamoDB:
    """Inside an active `mock_aws()`: the buckets table, as the infra stack defines it."""
    client = boto3.client("dynamodb", region_name="eu-west-2")
    client.create_table(
        TableName=BUCKETS_TABLE,
        # As infra/storage.py defines the connector-state table.
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return AtomicDynamoDB(client)


def sandbox_credentials(options: Any) -> SellerCredentials:
    creds = options.credentials
    return SellerCredentials(
        lwa_client_id=creds.client_id,
        lwa_client_secret=creds.client_secret,
        refresh_token=creds.refresh_token,
        seller_id=creds.seller_id,
        marketplace_id=creds.marketplace_id,
    )


def sandbox_connector(
    url: str,
    options: Any,
    dynamodb: Any,
    *,
    retry: RetryPolicy | None = None,
    time_budget: Callable[[], float] = lambda: 30.0,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    latency_cushion: float = 0.5,
    plans: Mapping[str, UsagePlan] | None = None,
    limiter_key: str | None = None,
) -> SpApiConnector:
    """`limiter_key`: whose buckets the connector draws on (default: its seller's, as in
    production; the two-accounts benchmark's baseline shares one key between sellers)."""
    credentials = sandbox_credentials(options)
    buckets = (
        TokenBucketTable(BUCKETS_TABLE, client=dynamodb, clock=clock)
        if clock
        else TokenBucketTable(BUCKETS_TABLE, client=dynamodb)
    )
    limiter_kwargs: dict[str, Any] = {"latency_cushion": latency_cushion}
    if plans is not None:
        limiter_kwargs["plans"] = {**USAGE_PLANS, **plans}
    if sleep is not None:
        limiter_kwargs["sleep"] = sleep
    limiter = SellerRateLimiter(buckets, limiter_key or credentials.seller_id, **limiter_kwargs)
    return SpApiConnector(
        credentials,
        limiter=limiter,
        endpoints=SpApiEndpoints(endpoint=url, lwa_url=f"{url}/auth/o2/token"),
        retry=retry or RetryPolicy(attempts=6, total_seconds=30, base_wait=0.01, max_wait=0.2),
        time_budget=time_budget,
        timeout=5.0,
    )
