"""X-Ray for the Powertools Tracer, loaded when a function first traces, not at cold start.

Powertools' `Tracer()` imports X-Ray's recorder (and with it wrapt, which imports asyncio) and
runs X-Ray's `patch_all`, which imports every library X-Ray can instrument only to patch it:
httpx and requests in every function, whether it makes an HTTP call or not. Here:

- `DeferredXRayProvider` is the Tracer's provider: X-Ray's own recorder, imported at the first
  subsegment (the handler's, as the first invocation starts) and configured as Powertools
  configures it (each subsegment streamed when it closes);
- `patch_libraries_on_import` has each library `patch_all` would patch (botocore, httpx,
  requests, ...) patched by X-Ray the moment it is first imported, before anything can use it.

Traces hold the same segments and subsegments as with `Tracer()`'s defaults; the import of
X-Ray moves from the init phase to the first invocation, which needs it at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import cache
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from aws_lambda_powertools.tracing.base import BaseProvider

# What X-Ray's patch_all patches (aws_xray_sdk.core.patcher.NO_DOUBLE_PATCH), each with the
# module whose import sets it off: the module its patch wraps.
PATCHED_ON_IMPORT: dict[str, str] = {
    "aiobotocore": "aiobotocore.client",
    "botocore": "botocore.client",
    "httpx": "httpx",
    "mysql": "mysql.connector",
    "pg8000": "pg8000",
    "psycopg": "psycopg",
    "psycopg2": "psycopg2",
    "pymongo": "pymongo",
    "pymysql": "pymysql",
    "pynamodb": "pynamodb",
    "requests": "requests",
    "sqlalchemy_core": "sqlalchemy",
    "sqlite3": "sqlite3",
}


@cache
def xray_recorder() -> Any:
    """X-Ray's global recorder, configured as Powertools configures its default provider:
    each subsegment is sent as it closes (Powertools issue #283), unless X-Ray is off."""
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core import xray_recorder as recorder

    if global_sdk_config.sdk_enabled():
        recorder.configure(streaming_threshold=0)
    return recorder


class DeferredXRayProvider(BaseProvider):
    """The Tracer's provider: X-Ray's recorder, imported when first used."""

    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Any:
        return xray_recorder().in_subsegment(name=name, **kwargs)

    def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> Any:
        return xray_recorder().in_subsegment_async(name=name, **kwargs)

    def put_annotation(self, key: str, value: Any) -> None:
        xray_recorder().put_annotation(key=key, value=value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        xray_recorder().put_metadata(key=key, value=value, namespace=namespace)

    def patch(self, modules: Sequence[str]) -> None:
        from aws_xray_sdk.core import patch

        patch(modules)

    def patch_all(self) -> None:
        from aws_xray_sdk.core import patch_all

        patch_all()


def _xray_patch(library: str) -> Callable[[ModuleType], None]:
    def patch_when_imported(module: ModuleType) -> None:
        xray_recorder()  # configured before X-Ray records anything
        from aws_xray_sdk.core import patch

        # A submodule's hook runs before the import system binds it to its package, which
        # it does next; the patch reaches it through the package (`botocore.client`).
        package, _, name = module.__name__.rpartition(".")
        if package:
            setattr(sys.modules[package], name, module)
        # As patch_all does: a library X-Ray cannot patch is traced without, never broken.
        patch([library], raise_errors=False)

    return patch_when_imported


class _ThenHook(Loader):
    """A module's own loader, then the hook, inside the module's import (and its lock)."""

    def __init__(self, loader: Loader, hook: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._hook = hook

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader (resource readers, get_data): this one was only
        # the way in.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        self._hook(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _HookOnImport(MetaPathFinder):
    """Calls a hook once a watched module has run, before the import that asked for it
    returns. The import system holds the module's lock meanwhile, so a module imported from
    several threads at once runs its hook once, before any of them has it."""

    def __init__(self) -> None:
        self._hooks: dict[str, Callable[[ModuleType], None]] = {}

    def watch(self, name: str, hook: Callable[[ModuleType], None]) -> None:
        module = sys.modules.get(name)
        if module is not None:
            hook(module)
        else:
            self._hooks[name] = hook

    def _hooked(
        self, name: str, hook: Callable[[ModuleType], None]
    ) -> Callable[[ModuleType], None]:
        def once(module: ModuleType) -> None:
            # Only once the module has run: a failed import is hooked again when retried.
            self._hooks.pop(name, None)
            hook(module)

        return once

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        hook = self._hooks.get(fullname)
        if hook is None:
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if finder is self or find_spec is None:
                continue
            spec: ModuleSpec | None = find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return spec  # nothing runs for it to hook after (a namespace package)
            spec.loader = _ThenHook(spec.loader, self._hooked(fullname, hook))
            return spec
        return None


@cache
def _finder() -> _HookOnImport:
    finder = _HookOnImport()
    sys.meta_path.insert(0, finder)
    return finder


def patch_libraries_on_import(*, tracing: bool) -> None:
    """Have X-Ray patch each library `patch_all` patches as that library is imported (at once
    for one imported already); nothing when tracing is off."""
    if not tracing:
        return
    for library, module in PATCHED_ON_IMPORT.items():
        _finder().watch(module, _xray_patch(library))
