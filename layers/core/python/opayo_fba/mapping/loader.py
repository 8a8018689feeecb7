"""Loading templates: from a file, from the starters shipped with the package, or from S3.

Configuration names templates with references, one per template, applied in the order given:

- ``starter:shopify`` — a starter template shipped in ``opayo_fba/mapping/starters/``;
- ``s3://bucket/key.yaml?versionId=3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY`` — an S3 object, pinned
  to a version (recommended: a deployment names exactly what it runs) or, without versionId,
  the latest version, revalidated by ETag;
- anything else — a file path (.yaml, .yml or .json).

S3 templates are cached in the process (a warm Lambda reuses them): a pinned version is
fetched once, an unpinned key costs one HeadObject per `revalidate_after_seconds`.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import ValidationError

from opayo_fba.errors import ConfigurationError, UpstreamError
from opayo_fba.mapping.errors import TemplateError
from opayo_fba.mapping.template import MappingTemplate

STARTERS_PACKAGE = "opayo_fba.mapping.starters"
_SUFFIXES = (".yaml", ".yml", ".json")


def parse_template(data: Any, *, origin: str) -> MappingTemplate:
    """Validate parsed YAML/JSON as a template; TemplateError names the rule and field."""
    name = data.get("name") if isinstance(data, dict) else None
    label = name if isinstance(name, str) else origin
    if not isinstance(data, dict):
        raise TemplateError(label, f"{origin} must hold a mapping template (an object)")
    try:
        return MappingTemplate.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = [str(part) for part in first["loc"]]
        rule = None
        if len(location) >= 2 and location[0] == "rules" and location[1].isdigit():
            index = int(location[1])
            rules = data.get("rules")
            rule_data = rules[index] if isinstance(rules, list) and index < len(rules) else {}
            given = rule_data.get("name") if isinstance(rule_data, dict) else None
            rule = given if isinstance(given, str) else f"#{index + 1}"
            location = location[2:]
        field = ".".join(location) or None
        more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise TemplateError(
            f"{label}", f"{message}{more} [in {origin}]", rule=rule, field=field
        ) from None


def parse_template_text(
    text: str | bytes, *, origin: str, is_json: bool | None = None
) -> MappingTemplate:
    """Parse YAML or JSON text (JSON is YAML, but JSON errors read better from json).

    Without `is_json`, an origin ending in .json is read as JSON, anything else as YAML.
    """
    if is_json is None:
        is_json = origin.split("?", 1)[0].endswith(".json")
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        kind = "JSON" if is_json else "YAML"
        raise TemplateError(origin, f"not valid {kind}: {error}") from None
    return parse_template(data, origin=origin)


def load_template_file(path: str | Path) -> MappingTemplate:
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise TemplateError(str(path), "a template file must end in .yaml, .yml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TemplateError(str(path), f"cannot be read: {error.strerror or error}") from None
    return parse_template_text(text, origin=str(path))


def starter_names() -> list[str]:
    files = resources.files(STARTERS_PACKAGE)
    return sorted(
        entry.name.rsplit(".", 1)[0] for entry in files.iterdir() if entry.name.endswith(".yaml")
    )


def starter_text(name: str) -> str:
    if name not in starter_names():
        raise TemplateError(
            f"starter:{name}", f"no such starter template; starters: {', '.join(starter_names())}"
        )
    return resources.files(STARTERS_PACKAGE).joinpath(f"{name}.yaml").read_text("utf-8")


def load_starter(name: str) -> MappingTemplate:
    return parse_template_text(starter_text(name), origin=f"starter:{name}.yaml")


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    version_id: str | None = None


def parse_s3_reference(reference: str) -> S3Object:
    parts = urlsplit(reference)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise ConfigurationError(
            f"template reference {reference!r}: expected s3://bucket/key[?versionId=...]"
        )
    query = parse_qs(parts.query)
    versions = query.get("versionId")
    return S3Object(parts.netloc, parts.path.lstrip("/"), versions[0] if versions else None)


@dataclass(frozen=True)
class _Cached:
    template: MappingTemplate
    etag: str
    version_id: str | None
    checked_at: float


class S3TemplateLoader:
    """Loads templates from S3 with an in-process cache keyed by version id or ETag."""

    def __init__(
        self,
        client: Any = None,
        *,
        revalidate_after_seconds: float = 60.0,
        max_entries: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._revalidate_after = revalidate_after_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._by_version: OrderedDict[tuple[str, str, str], _Cached] = OrderedDict()
        self._latest: dict[tuple[str, str], _Cached] = {}
        self.fetches = 0
        """How many GetObject calls were made (for tests and metrics)."""

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def load(self, bucket: str, key: str, version_id: str | None = None) -> MappingTemplate:
        if version_id is not None:
            pinned = self._by_version.get((bucket, key, version_id))
            if pinned is not None:
                self._by_version.move_to_end((bucket, key, version_id))
                return pinned.template
            return self._fetch(bucket, key, version_id).template
        latest = self._latest.get((bucket, key))
        now = self._clock()
        if latest is not None and now - latest.checked_at < self._revalidate_after:
            return latest.template
        if latest is not None:
            head = self._call("head_object", bucket, key, None)
            if head["ETag"] == latest.etag:
                self._latest[(bucket, key)] = _Cached(
                    latest.template, latest.etag, latest.version_id, now
                )
                return latest.template
        return self._fetch(bucket, key, None).template

    def load_reference(self, reference: str) -> MappingTemplate:
        obj = parse_s3_reference(reference)
        return self.load(obj.bucket, obj.key, obj.version_id)

    def _call(self, operation: str, bucket: str, key: str, version_id: str | None) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        arguments = {"Bucket": bucket, "Key": key}
        if version_id is not None:
            arguments["VersionId"] = version_id
        where = f"s3://{bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")
        try:
            return getattr(self.client, operation)(**arguments)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404", "InvalidArgument"):
                raise ConfigurationError(
                    f"mapping template {where} does not exist ({code}); check the template "
                    "references in the configuration"
                ) from None
            if code in ("AccessDenied", "403"):
                raise ConfigurationError(
                    f"mapping template {where}: access denied; grant the function s3:GetObject "
                    "(and s3:GetObjectVersion) on it"
                ) from None
            raise UpstreamError(
                f"mapping template {where}: S3 {operation} failed ({code})"
            ) from error
        except BotoCoreError as error:
            raise UpstreamError(
                f"mapping template {where}: S3 {operation} failed: {error}"
            ) from error

    def _fetch(self, bucket: str, key: str, version_id: str | None) -> _Cached:
        reply = self._call("get_object", bucket, key, version_id)
        self.fetches += 1
        body = reply["Body"].read()
        actual_version = reply.get("VersionId")
        origin = f"s3://{bucket}/{key}" + (f"?versionId={actual_version}" if actual_version else "")
        template = parse_template_text(body, origin=origin, is_json=key.endswith(".json"))
        cached = _Cached(template, reply["ETag"], actual_version, self._clock())
        if version_id is None:
            self._latest[(bucket, key)] = cached
        if actual_version is not None and actual_version != "null":
            self._by_version[(bucket, key, actual_version)] = cached
            while len(self._by_version) > self._max_entries:
                self._by_version.popitem(last=False)
        return cached


_default_s3_loader: S3TemplateLoader | None = None


def default_s3_loader() -> S3TemplateLoader:
    """One loader per process, so a warm Lambda keeps its cache across invocations."""
    global _default_s3_loader
    if _default_s3_loader is None:
        _default_s3_loader = S3TemplateLoader()
    return _default_s3_loader


def load_template_reference(
    reference: str, *, s3_loader: S3TemplateLoader | None = None
) -> MappingTemplate:
    reference = reference.strip()
    if reference.startswith("starter:"):
        return load_starter(reference.removeprefix("starter:"))
    if reference.startswith("s3://"):
        return (s3_loader or default_s3_loader()).load_reference(reference)
    return load_template_file(reference)


def load_configured_templates(
    references: str | Sequence[str], *, s3_loader: S3TemplateLoader | None = None
) -> list[MappingTemplate]:
    """The templates a configuration names: a list, or one string separated by commas."""
    if isinstance(references, str):
        references = [part for part in references.split(",") if part.strip()]
    return [load_template_reference(ref, s3_loader=s3_loader) for ref in references]
