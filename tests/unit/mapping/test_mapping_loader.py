"""Loading templates from files, the shipped starters and S3 (with moto), and the cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from opayo_fba.errors import ConfigurationError
from opayo_fba.mapping import (
    S3TemplateLoader,
    TemplateError,
    load_configured_templates,
    load_starter,
    load_template_file,
)
from opayo_fba.mapping.loader import parse_s3_reference, starter_names, starter_text
from tests.conftest import PROJECT_ROOT

MINIMAL = {
    "name": "minimal",
    "version": 1,
    "rules": [{"name": "comment", "target": "amazon.displayableOrderComment", "source": "note"}],
}


def test_loads_yaml_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(MINIMAL), encoding="utf-8")
    (tmp_path / "t.json").write_text(json.dumps(MINIMAL), encoding="utf-8")
    assert load_template_file(tmp_path / "t.yaml") == load_template_file(tmp_path / "t.json")


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("t.yaml", "name: [unclosed", "not valid YAML"),
        ("t.json", "{'single': 'quotes'}", "not valid JSON"),
        ("t.txt", "name: x", "must end in .yaml, .yml or .json"),
        ("t.yaml", "- just\n- a list\n", "must hold a mapping template"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, text: str, reason: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=reason):
        load_template_file(tmp_path / name)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot be read"):
        load_template_file(tmp_path / "absent.yaml")


def test_starters_are_shipped_and_identical_to_the_templates_folder() -> None:
    assert starter_names() == ["shopify", "woocommerce"]
    for name in starter_names():
        shipped = starter_text(name)
        assert (PROJECT_ROOT / "templates" / f"{name}.yaml").read_text(encoding="utf-8") == shipped
        assert load_starter(name).name == f"{name}-starter"


def test_an_unknown_starter_lists_the_known_ones() -> None:
    with pytest.raises(TemplateError, match="starters: shopify, woocommerce"):
        load_starter("magento")


def test_s3_references_are_parsed_with_their_version() -> None:
    obj = parse_s3_reference("s3://bucket/merchants/acme.yaml?versionId=abc+1")
    assert (obj.bucket, obj.key, obj.version_id) == ("bucket", "merchants/acme.yaml", "abc 1")
    assert parse_s3_reference("s3://bucket/acme.yaml").version_id is None
    with pytest.raises(ConfigurationError, match="expected s3://bucket/key"):
        parse_s3_reference("s3://bucket-only")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bucket() -> Any:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="templates", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
        )
        s3.put_bucket_versioning(Bucket="templates", VersioningConfiguration={"Status": "Enabled"})
        yield s3


def _put(s3: Any, version: int, comment_source: str = "note") -> str:
    body = dict(MINIMAL, version=version)
    body["rules"] = [dict(MINIMAL["rules"][0], source=comment_source)]
    reply = s3.put_object(Bucket="templates", Key="acme.yaml", Body=yaml.safe_dump(body).encode())
    return str(reply["VersionId"])


def test_s3_pinned_version_is_fetched_once(bucket: Any) -> None:
    first = _put(bucket, 1)
    _put(bucket, 2)
    loader = S3TemplateLoader(bucket)
    assert loader.load("templates", "acme.yaml", first).version == 1
    assert loader.load_reference(f"s3://templates/acme.yaml?versionId={first}").version == 1
    assert loader.fetches == 1


def test_s3_latest_is_revalidated_by_etag_after_the_interval(bucket: Any) -> None:
    clock = _Clock()
    _put(bucket, 1)
    loader = S3TemplateLoader(bucket, revalidate_after_seconds=60, clock=clock)
    assert loader.load("templates", "acme.yaml").version == 1
    clock.now += 30
    assert loader.load("templates", "acme.yaml").version == 1  # within the interval: no call
    clock.now += 60
    assert loader.load("templates", "acme.yaml").version == 1  # same ETag: no new GetObject
    assert loader.fetches == 1
    _put(bucket, 2, comment_source="customer_note")
    assert loader.load("templates", "acme.yaml").version == 1  # checked 0 s ago
    clock.now += 61
    latest = loader.load("templates", "acme.yaml")
    assert latest.version == 2
    assert latest.rules[0].source == "customer_note"
    assert loader.fetches == 2


def test_s3_latest_fetch_also_serves_its_pinned_version(bucket: Any) -> None:
    version = _put(bucket, 1)
    loader = S3TemplateLoader(bucket)
    loader.load("templates", "acme.yaml")
    loader.load("templates", "acme.yaml", version)
    assert loader.fetches == 1


def test_s3_missing_object_or_version_is_a_configuration_error(bucket: Any) -> None:
    loader = S3TemplateLoader(bucket)
    with pytest.raises(ConfigurationError, match=r"s3://templates/absent\.yaml does not exist"):
        loader.load("templates", "absent.yaml")
    _put(bucket, 1)
    with pytest.raises(ConfigurationError, match="does not exist"):
        loader.load("templates", "acme.yaml", "no-such-version")


def test_s3_invalid_template_names_the_object_and_version(bucket: Any) -> None:
    reply = bucket.put_object(
        Bucket="templates", Key="broken.yaml", Body=b"name: broken\nrules: []\n"
    )
    with pytest.raises(TemplateError) as caught:
        S3TemplateLoader(bucket).load("templates", "broken.yaml")
    assert f"s3://templates/broken.yaml?versionId={reply['VersionId']}" in str(caught.value)
    assert caught.value.field == "rules"


def test_configured_references_mix_starters_files_and_s3(bucket: Any, tmp_path: Path) -> None:
    version = _put(bucket, 4)
    path = tmp_path / "local.json"
    path.write_text(json.dumps(dict(MINIMAL, name="local")), encoding="utf-8")
    loader = S3TemplateLoader(bucket)
    templates = load_configured_templates(
        f"starter:shopify, s3://templates/acme.yaml?versionId={version},{path}", s3_loader=loader
    )
    assert [t.label for t in templates] == ["shopify-starter v1", "minimal v4", "local v1"]
