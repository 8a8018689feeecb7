"""A library package whose `__init__` only re-exports names, with each submodule imported
when one of its names is first asked for (PEP 562), as `opayo_fba.model` does for ours.

Powertools' `aws_lambda_powertools.event_handler` imports every resolver it has (AppSync's
imports asyncio), and `aws_lambda_powertools.utilities.data_classes` every event class it
has, for an HTTP function that uses one resolver and one event: about a sixth of `import
boto3` at every cold start (bench/import_time.py). Powertools made its parser's envelopes lazy
the same way (its pull request #8405); these two are not yet.

`defer_package_init(name)` reads the package's own `__init__.py` and, only if every statement
in it is a docstring, a `from ... import ...` of names or an `__all__`, puts in its place a
package with the same `__path__`, `__all__` and names, each resolved from the module the real
`__init__` imports it from, on first use. Anything else in it, or the package already
imported, and nothing is changed: the package imports as it always has. A name resolves to
the very object the real package would give (tests/unit/wiring/test_lazy_packages.py).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from typing import Any


def _exports(source: str, package: str) -> tuple[dict[str, tuple[str, str]], list[str]] | None:
    """Each name the `__init__` source binds -> (module, attribute), and its `__all__`; None if
    the source does anything but re-export."""
    names: dict[str, tuple[str, str]] = {}
    spelled: list[str] | None = None
    for number, node in enumerate(ast.parse(source).body):
        if isinstance(node, ast.Expr) and number == 0 and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["__all__"]:
            try:
                spelled = [str(n) for n in ast.literal_eval(node.value)]
            except ValueError:
                return None
            continue
        if not isinstance(node, ast.ImportFrom) or node.module is None:
            return None
        if node.module == "__future__":
            continue
        module = node.module
        if node.level:  # relative: from the package (1) or one of its parents (2, ...)
            module = f"{package.rsplit('.', node.level - 1)[0]}.{node.module}"
        for alias in node.names:
            if alias.name == "*":
                return None
            names[alias.asname or alias.name] = (module, alias.name)
    return names, spelled if spelled is not None else list(names)


def defer_package_init(name: str) -> bool:
    """Make `name`'s re-exports lazy, if it is not imported yet and its `__init__` only
    re-exports; True if it did."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return False
    with open(spec.origin, encoding="utf-8") as source:
        found = _exports(source.read(), name)
    if found is None:
        return False
    exports, spelled = found
    package = importlib.util.module_from_spec(spec)

    def __getattr__(attribute: str) -> Any:
        source = exports.get(attribute)
        if source is None:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        value = getattr(importlib.import_module(source[0]), source[1])
        setattr(package, attribute, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(package)) | set(exports))

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    package.__dir__ = __dir__  # type: ignore[method-assign]
    package.__all__ = spelled  # type: ignore[attr-defined]
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(importlib.import_module(parent), child, package)
    return True
