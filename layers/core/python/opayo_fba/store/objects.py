"""The merchant's configuration files (SKU mappings, the chart of accounts): `s3://bucket/key`
in AWS (the function's role may read exactly that object), a local path otherwise."""

from __future__ import annotations

import os
from pathlib import Path


def _bucket_and_key(reference: str) -> tuple[str, str]:
    bucket, _, key = reference.removeprefix("s3://").partition("/")
    return bucket, key


def read_text(reference: str) -> str:
    """A UTF-8 text file (a byte-order mark dropped)."""
    if reference.startswith("s3://"):
        import boto3

        bucket, key = _bucket_and_key(reference)
        body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return body.decode("utf-8-sig")
    return Path(reference).read_text(encoding="utf-8-sig")


def local_file(reference: str, *, suffix: str = "") -> Path:
    """The file as a local path: an S3 object is downloaded to a new temporary file."""
    if not reference.startswith("s3://"):
        return Path(reference)
    import tempfile

    import boto3

    bucket, key = _bucket_and_key(reference)
    handle, name = tempfile.mkstemp(suffix=suffix)
    os.close(handle)
    boto3.client("s3").download_file(bucket, key, name)
    return Path(name)
