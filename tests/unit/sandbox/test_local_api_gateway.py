"""The local API gateway refuses what API Gateway's request validation refuses."""

from __future__ import annotations

import json

import pytest

from local_runtime.api_gateway import MAX_VALIDATED_JSON_DEPTH, body_is_valid, json_depth

SCHEMA = {"type": "object", "required": ["order"], "properties": {"order": {"type": "object"}}}


@pytest.mark.parametrize("depth", [MAX_VALIDATED_JSON_DEPTH + 1, 1000, 100_000])
def test_absurd_nesting_is_an_invalid_body_not_a_crash(depth: int) -> None:
    body = b'{"order": {}, "x": ' + b"[" * depth + b"]" * depth + b"}"
    assert not body_is_valid(SCHEMA, body)


def test_reasonable_nesting_is_validated_as_usual() -> None:
    body = json.dumps({"order": {"a": [[[{"b": "[[[["}]]]}}).encode()
    assert json_depth(body) == 6
    assert body_is_valid(SCHEMA, body)
    assert not body_is_valid(SCHEMA, b'{"order": 1}')


@pytest.mark.parametrize("body", [b"\xff\xfe{", b"not json", b""])
def test_a_body_that_is_not_json_is_invalid(body: bytes) -> None:
    assert not body_is_valid(SCHEMA, body)
