"""Imports go one way: the layers of docs/architecture.md, read off every import in the tree.

Each top-level module of the layer package (and the handlers, the CLI and the console) has a
rank; a module may import its own rank or lower, never higher. Function-level imports count
too: a lazy import is still a dependency. The one sanctioned exception is the domain's ports
(`opayo_fba.saga.ports`): the connectors implement them, so they import their types.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "layers" / "core" / "python" / "opayo_fba"
ARCHITECTURE = PROJECT_ROOT / "docs" / "architecture.md"

# Lowest first; docs/architecture.md shows the same ranks, top to bottom reversed.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "base",
        frozenset(
            {
                "errors",
                "card_numbers",
                "http_input",
                "settings",
                "tracing",
                "observability",
                "lazy_packages",
            }
        ),
    ),
    ("model", frozenset({"model"})),
    ("rules", frozenset({"convert", "routing", "reconcile"})),
    ("adapters", frozenset({"amazon", "opayo", "store", "mapping"})),
    (
        "workflows",
        frozenset({"intake", "saga", "refunds", "after_sale", "jobs", "ops"}),
    ),
    ("composition", frozenset({"wiring", "scheduled", "lambda_support", "api"})),
    ("front ends", frozenset({"functions", "cli", "console"})),
)
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}
PORTS = ("opayo_fba.saga.ports",)


def _top(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "functions":
        return "functions"
    if parts[0] == "opayo_fba" and len(parts) > 1:
        return parts[1]
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def _sources() -> list[tuple[str, Path]]:
    layer = [
        (path.relative_to(PACKAGE).parts[0].removesuffix(".py"), path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "__init__.py"
    ]
    handlers = [("functions", path) for path in sorted((PROJECT_ROOT / "functions").glob("*.py"))]
    return layer + handlers


def upward_imports() -> list[str]:
    wrong: list[str] = []
    for source, path in _sources():
        for line, module in _imports(path):
            target = _top(module)
            if target is None or target == source or module.startswith(PORTS):
                continue
            if RANK[target] > RANK[source]:
                where = path.relative_to(PROJECT_ROOT)
                wrong.append(f"{where}:{line} imports {module} ({target} is above {source})")
    return wrong


def test_every_module_has_a_layer() -> None:
    tops = {source for source, _ in _sources()}
    assert tops - RANK.keys() == set(), "add the new module to LAYERS and docs/architecture.md"
    assert RANK.keys() - tops == set(), "a layer names a module that is gone"


def test_no_import_goes_up_a_layer() -> None:
    assert upward_imports() == []


def test_the_layer_code_imports_no_sandbox_runtime_test_or_bench_code() -> None:
    """The Lambda layer runs without the sandboxes: only the CLI (`local up`, which starts
    them, and the stage's config) reaches outside the package."""
    outside = [
        f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}"
        for source, path in _sources()
        if source != "cli"
        for line, module in _imports(path)
        if module.split(".")[0] in {"sandbox", "local_runtime", "demo", "tests", "bench", "infra"}
    ]
    assert outside == []


def test_the_architecture_page_names_every_layer_and_module() -> None:
    page = ARCHITECTURE.read_text()
    headings = {line.removeprefix("### ") for line in page.splitlines() if line.startswith("### ")}
    missing = [layer for layer, _ in LAYERS if layer not in headings]
    missing += [
        name
        for _, modules in LAYERS
        for name in modules
        if f"`{name}/`" not in page and f"`{name}.py`" not in page
    ]
    assert missing == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """It can fail: a model module importing the saga is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from opayo_fba.saga.steps import save\n")
    (line, module), *_ = _imports(probe)
    assert (line, module) == (2, "opayo_fba.saga.steps")
    target = _top(module)
    assert target is not None
    assert RANK[target] > RANK["model"]
