"""Every custom metric an alarm watches is one that the function named by its `service`
dimension can publish.

An alarm on a metric nobody publishes never fires, and nothing else would tell: a rename on
one side only (code or infra/monitoring.py) is the failure this catches. What a function can
publish is read from the code: every `metrics.add_metric(name=...)` and `account_metric(...)`
in the modules its handler can import (module-level and function-level imports, followed
through the layer), with names given as literals or as module-level string constants.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from tests.infra.conftest import PROJECT_ROOT, of_type

LAYER = PROJECT_ROOT / "layers" / "core" / "python"
FUNCTIONS = PROJECT_ROOT / "functions"
NAMESPACE = "OpayoFba"
SERVICE_PREFIX = "opayo-fba-"


def _module_path(module: str) -> Path | None:
    root = FUNCTIONS.parent if module.startswith("functions.") else LAYER
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(module: str, tree: ast.Module) -> Iterator[str]:
    path = _module_path(module)
    is_package = path is not None and path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # submodules


def reachable(module: str) -> set[str]:
    """The project modules `module` can import, itself included (parents of each, too)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_path(name)
        if path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(
            n for n in _imports(name, _tree(path)) if n.startswith(("opayo_fba", "functions."))
        )
    return seen


def _constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.update((t.id, value.value) for t in targets if isinstance(t, ast.Name))
    return found


@cache
def _all_constants() -> dict[str, str]:
    """Module-level string constants of the whole layer, by name (names are unique enough:
    a clash would only widen what counts as published, and the test below says which)."""
    found: dict[str, str] = {}
    for path in sorted(LAYER.rglob("*.py")):
        found.update(_constants(_tree(path)))
    return found


def _name(node: ast.expr, local: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return local.get(node.id) or _all_constants().get(node.id)
    return None


def published(module: str) -> set[str]:
    """Metric names the module's code publishes (add_metric and account_metric calls)."""
    path = _module_path(module)
    if path is None:
        return set()
    tree = _tree(path)
    local = _constants(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called == "add_metric":
            argument = next((k.value for k in node.keywords if k.arg == "name"), None)
        elif called in ("account_metric", "single_metric"):
            argument = node.args[0] if node.args else None
            argument = next((k.value for k in node.keywords if k.arg == "name"), argument)
        else:
            continue
        if argument is not None and (name := _name(argument, local)) is not None:
            names.add(name)
    return names


def watched(resources: dict[str, Any]) -> set[tuple[str, str]]:
    """(metric name, service) for every custom metric an alarm watches."""
    found: set[tuple[str, str]] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("Namespace") == NAMESPACE and "MetricName" in value:
                dimensions = {d["Name"]: d["Value"] for d in value.get("Dimensions", [])}
                found.add((value["MetricName"], str(dimensions.get("service"))))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        walk(alarm["Properties"])
    return found


def _service_module(service: str) -> str:
    assert service.startswith(SERVICE_PREFIX), service
    return "functions." + service.removeprefix(SERVICE_PREFIX).replace("-", "_")


def test_every_watched_metric_is_published_by_its_function(resources: dict[str, Any]) -> None:
    pairs = watched(resources)
    assert len(pairs) > 10, pairs  # the alarms of infra/monitoring.py are all there
    unpublished = []
    for metric, service in sorted(pairs):
        handler = _service_module(service)
        assert _module_path(handler) is not None, f"{service}: no {handler}"
        if not any(metric in published(m) for m in reachable(handler)):
            unpublished.append(f"{metric} (service {service})")
    assert unpublished == [], "alarms watch metrics their function never publishes"


def test_each_function_publishes_under_the_service_its_alarms_name(
    resources: dict[str, Any],
) -> None:
    services = {
        fn["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for fn in of_type(resources, "AWS::Lambda::Function").values()
        if "POWERTOOLS_SERVICE_NAME" in fn["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert {service for _, service in watched(resources)} <= services


def test_the_reader_sees_a_metric_that_is_not_published() -> None:
    """The check can fail: a name no code publishes is not found for any handler."""
    assert "SagaCompensated" in published("opayo_fba.saga.steps")
    assert "RefundsRefused" in set().union(
        *(published(m) for m in reachable("functions.saga_abort_payment"))
    )
    assert not any(
        "NoSuchMetricAnywhere" in published(m) for m in reachable("functions.saga_abort_payment")
    )
    # The orders poller cannot reach what only the webhook publishes.
    assert not any(
        "ServerNotificationContradiction" in published(m)
        for m in reachable("functions.orders_poller")
    )
    assert "opayo_fba.intake.orders" in reachable("functions.order_intake")
