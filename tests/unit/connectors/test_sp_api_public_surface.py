"""python-amazon-sp-api is used through its public surface only: every module of ours that
imports it is read as source, and a private module, a private or unexported name, an
underscore attribute of anything but our own objects, or an attribute set on someone else's
object (monkeypatching) fails here. The few public pieces we do rely on are checked against
the installed version, so an upgrade that moves them fails here too, not in production."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import opayo_fba
from opayo_fba.amazon import transport

PACKAGE = Path(opayo_fba.__file__).parent
LIBRARY = "sp_api"


def _imports_library(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == LIBRARY:
            return True
        if isinstance(node, ast.Import) and any(
            alias.name.split(".")[0] == LIBRARY for alias in node.names
        ):
            return True
    return False


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_public_name_of(module_name: str, name: str) -> bool:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    if exported is not None and name in exported:
        return True
    if hasattr(module, "__path__") and importlib.util.find_spec(f"{module_name}.{name}"):
        return True  # a public submodule
    return exported is None and hasattr(module, name)


def private_uses(source: str) -> Iterator[str]:
    """Each way `source` reaches past python-amazon-sp-api's public surface, described."""
    tree = ast.parse(source)
    if not _imports_library(tree):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == LIBRARY:
            module = node.module or ""
            if any(_is_private(part) for part in module.split(".")):
                yield f"line {node.lineno}: imports from the private module {module}"
                continue
            for alias in node.names:
                if _is_private(alias.name) or not _is_public_name_of(module, alias.name):
                    yield f"line {node.lineno}: imports {alias.name}, not public in {module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(_is_private(part) for part in alias.name.split(".")):
                    yield f"line {node.lineno}: imports the private module {alias.name}"
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                yield f"line {node.lineno}: reads {ast.unparse(node)}"
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and not (
                    isinstance(target.value, ast.Name) and target.value.id == "self"
                ):
                    yield f"line {node.lineno}: sets {ast.unparse(target)}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("setattr", "delattr")
        ):
            yield f"line {node.lineno}: calls {node.func.id}"


def _modules_using_the_library() -> list[Path]:
    return sorted(
        path for path in PACKAGE.rglob("*.py") if _imports_library(ast.parse(path.read_text()))
    )


def test_the_library_is_used_by_the_amazon_transport_and_connector_only() -> None:
    used_by = {path.relative_to(PACKAGE).as_posix() for path in _modules_using_the_library()}
    assert used_by == {"amazon/connector.py", "amazon/transport.py"}


@pytest.mark.parametrize(
    "path", _modules_using_the_library(), ids=lambda p: p.relative_to(PACKAGE).as_posix()
)
def test_no_private_internals_of_the_library(path: Path) -> None:
    assert list(private_uses(path.read_text())) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        (
            "from sp_api.base._transport_httpx import HttpxTransport",
            "imports from the private module sp_api.base._transport_httpx",
        ),
        ("from sp_api.auth._core import build_cache_key", "private module sp_api.auth._core"),
        ("from sp_api.base import _nest_dict_rec", "imports _nest_dict_rec"),
        ("import sp_api\nclient._transport = t", "sets client._transport"),
        ("import sp_api\nresponse = client._request('/x')", "reads client._request"),
        ("import sp_api\nclient.endpoint = 'http://sandbox'", "sets client.endpoint"),
        ("import sp_api\nsetattr(client, 'endpoint', url)", "calls setattr"),
        ("import sp_api\nself._http = http\nself._http.close()", ""),
        ("client._transport = t", ""),  # not a module that uses the library
    ],
)
def test_the_scan_catches_what_the_connector_used_to_do(source: str, found: str) -> None:
    uses = list(private_uses(source))
    if found:
        assert any(found in use for use in uses), uses
    else:
        assert uses == []


def test_the_public_pieces_relied_on_exist_in_the_installed_library() -> None:
    from sp_api.auth import AccessTokenClient, access_token_client
    from sp_api.base import ApiResponse, AuthorizationError, BaseClient, CredentialProvider

    # The LWA URL lives in class attributes (docs/reference/sp-api.md).
    assert (AccessTokenClient.scheme, AccessTokenClient.host, AccessTokenClient.path) == (
        "https://",
        "api.amazon.com",
        "/auth/o2/token",
    )
    assert isinstance(access_token_client.cache, Mapping)
    assert BaseClient.user_agent.startswith("python-sp-api-")
    response = ApiResponse(payload={"a": 1}, pagination={"nextToken": "t"}, headers={})
    assert (response.payload, response.next_token) == ({"a": 1}, "t")
    assert ApiResponse(reportId="R", headers={}).payload == {"reportId": "R"}
    assert AuthorizationError("invalid_client", "no", 401).status_code == 401
    credentials = CredentialProvider(
        credentials={"lwa_app_id": "id", "lwa_client_secret": "secret", "refresh_token": "r"}
    ).credentials
    assert (credentials.lwa_app_id, credentials.refresh_token) == ("id", "r")


def test_the_lwa_client_class_is_aimed_at_the_configured_url() -> None:
    configured = transport.lwa_client_class("http://127.0.0.1:9999/auth/o2/token")
    assert (configured.scheme, configured.host, configured.path) == (
        "http://",
        "127.0.0.1:9999",
        "/auth/o2/token",
    )
    assert transport.lwa_client_class("http://127.0.0.1:9999/auth/o2/token") is configured


def test_forgetting_a_refused_token_keeps_other_sellers_tokens() -> None:
    from sp_api.auth import access_token_client

    tokens = access_token_client.cache
    saved = dict(tokens.items())
    tokens.clear()
    try:
        tokens["seller-a"] = {"access_token": "Atza|a", "expires_in": 3600}
        tokens["seller-b"] = {"access_token": "Atza|b", "expires_in": 3600}
        transport.forget_access_token("Atza|a")
        assert dict(tokens.items()) == {"seller-b": {"access_token": "Atza|b", "expires_in": 3600}}
    finally:
        tokens.clear()
        tokens.update(saved)
