"""The raw-file archive in S3: every report and batch is kept as received, before parsing.

Keys say what a file is without opening it:
    amazon/<reportType>/<yyyy>/<mm>/<dd>/<reportId>.tsv      (date: the report's creation)
    opayo/batches/<vendor>/<yyyy>/<mm>/<dd>/<batchId>-<authProcessor>.xml   (business date)
    journals/<yyyy>/<mm>/<dd>/<runId>/<file>
The bucket is versioned and KMS-encrypted (infra/storage.py); re-archiving a key after a
crash only adds a version. Uploads and reads stream: memory stays bounded by the chunk size.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import IO, Any

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")
_CHUNK = 64 * 1024


def _part(value: str, name: str) -> str:
    """One path segment of a key: the value with anything unusual replaced by '_'."""
    if not value or value in (".", ".."):
        raise ValueError(f"{name} is required to build an archive key, got {value!r}")
    return _UNSAFE.sub("_", value)


def amazon_report_key(report_type: str, report_id: str, created: date) -> str:
    return (
        f"amazon/{_part(report_type, 'report_type')}/{created:%Y/%m/%d}/"
        f"{_part(report_id, 'report_id')}.tsv"
    )


def opayo_batch_key(vendor: str, batch_id: str, auth_processor: str, business_date: date) -> str:
    return (
        f"opayo/batches/{_part(vendor, 'vendor')}/{business_date:%Y/%m/%d}/"
        f"{_part(batch_id, 'batch_id')}-{_part(auth_processor or 'unknown', 'auth_processor')}.xml"
    )


def journal_key(run_id: str, day: date, name: str) -> str:
    return f"journals/{day:%Y/%m/%d}/{_part(run_id, 'run_id')}/{_part(name, 'name')}"


class _KeepOpen(io.RawIOBase):
    """Reads through to `inner`; boto3's transfer manager closes the file it uploads, and the
    caller still needs it (the same spooled download is parsed after archiving)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        """Leave `inner` open."""


class ReportArchive:
    def __init__(self, s3_client: Any, bucket: str) -> None:
        """`s3_client` is a boto3 S3 client; `bucket` the reports bucket's name."""
        if not bucket:
            raise ValueError("the reports bucket name is required")
        self._s3 = s3_client
        self.bucket = bucket

    @classmethod
    def from_bucket_name(cls, bucket: str) -> ReportArchive:
        import boto3

        return cls(boto3.client("s3"), bucket)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload(
        self,
        key: str,
        body: IO[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Stream `body` (from its current position) to `key`; multipart when large."""
        self._s3.upload_fileobj(
            io.BufferedReader(_KeepOpen(body)),
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type, "Metadata": dict(metadata or {})},
        )
        return key

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> str:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return key

    def get_bytes(self, key: str) -> bytes | None:
        """The object whole (for the small files a journal run writes); None if absent."""
        from botocore.exceptions import ClientError

        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        try:
            return bytes(body.read())
        finally:
            body.close()

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key under `prefix`, in S3's (lexicographic) order."""
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def chunks(self, key: str) -> Iterator[bytes]:
        """The object's bytes, chunk by chunk."""
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(_CHUNK)
        finally:
            body.close()

    def lines(self, key: str) -> Iterator[str]:
        """The object as UTF-8 text lines (line endings kept), without reading it whole."""
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            first = True
            for line in body.iter_lines(_CHUNK, keepends=True):
                text = line.decode("utf-8")
                if first:
                    text, first = text.removeprefix("\ufeff"), False
                yield text
        finally:
            body.close()
