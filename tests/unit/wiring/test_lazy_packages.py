"""opayo_fba.lazy_packages: Powertools' re-exporting packages made lazy give the very names the
real packages give, an HTTP function no longer imports AppSync's resolver (nor asyncio), and a
package that does more than re-export is left as it is."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from opayo_fba.lazy_packages import defer_package_init
from tests.conftest import PROJECT_ROOT
from tests.fixtures.interpreter import fresh_interpreter

POWERTOOLS_PACKAGES = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes",
)
_DESCRIBE = (
    """
import importlib, json, sys
described = {}
for name in PACKAGES:
    package = importlib.import_module(name)
    described[name] = {
        "all": list(package.__all__),
        "names": {n: f"{getattr(package, n).__module__}.{getattr(package, n).__qualname__}"
                  for n in package.__all__},
    }
print(json.dumps(described))
"""
).replace("PACKAGES", repr(POWERTOOLS_PACKAGES))


def test_the_lazy_packages_give_what_the_real_ones_give() -> None:
    real = fresh_interpreter(_DESCRIBE)
    lazy = fresh_interpreter(
        "from opayo_fba.lazy_packages import defer_package_init\n"
        f"assert all(defer_package_init(n) for n in {POWERTOOLS_PACKAGES!r})\n" + _DESCRIBE
    )
    assert lazy == real
    assert len(real["aws_lambda_powertools.event_handler"]["all"]) > 10  # type: ignore[index]


def test_an_http_function_imports_one_resolver_and_not_asyncio() -> None:
    result = fresh_interpreter(
        """
        import json, sys
        from opayo_fba.api.resolver import api_for
        from opayo_fba.api.routes import order_status
        app = api_for(order_status.router)
        print(json.dumps({
            "asyncio": "asyncio" in sys.modules,
            "appsync": "aws_lambda_powertools.event_handler.appsync" in sys.modules,
            "code_pipeline": any("code_pipeline" in m for m in sys.modules),
        }))
        """
    )
    assert result == {"asyncio": False, "appsync": False, "code_pipeline": False}


def test_an_unknown_name_is_an_attribute_error(tmp_path: Path) -> None:
    package = tmp_path / "reexports"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""Doc."""\nfrom .inner import Thing\nfrom reexports.inner import Thing as Alias\n'
        '__all__ = ["Thing", "Alias"]\n'
    )
    (package / "inner.py").write_text("class Thing:\n    pass\n")
    result = fresh_interpreter(
        """
        import json, sys
        from opayo_fba.lazy_packages import defer_package_init
        deferred = defer_package_init("reexports")
        import reexports
        before = "reexports.inner" in sys.modules
        from reexports import Alias, Thing
        try:
            reexports.Missing
            missing = "found"
        except AttributeError as error:
            missing = str(error)
        print(json.dumps({
            "deferred": deferred, "inner_before_use": before, "same": Alias is Thing,
            "all": reexports.__all__, "missing": missing,
            "again": defer_package_init("reexports"),
        }))
        """,
        path=f"{tmp_path}:{PROJECT_ROOT / 'layers/core/python'}",
    )
    assert result == {
        "deferred": True,
        "inner_before_use": False,
        "same": True,
        "all": ["Thing", "Alias"],
        "missing": "module 'reexports' has no attribute 'Missing'",
        "again": False,
    }


@pytest.mark.parametrize(
    "statement",
    ["x = 1", "import os", "from .inner import *", "def f():\n    pass", "from . import inner"],
)
def test_a_package_that_does_more_than_re_export_is_left_alone(
    tmp_path: Path, statement: str
) -> None:
    package = tmp_path / "busy"
    package.mkdir()
    (package / "__init__.py").write_text(f"from .inner import Thing\n{statement}\nRAN = True\n")
    (package / "inner.py").write_text("class Thing:\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert defer_package_init("busy") is False
        import busy  # type: ignore[import-not-found]

        assert busy.RAN is True
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "busy" or m.startswith("busy.")]:
            del sys.modules[name]


def test_a_package_already_imported_is_left_alone() -> None:
    import aws_lambda_powertools.event_handler as real

    assert defer_package_init("aws_lambda_powertools.event_handler") is False
    assert sys.modules["aws_lambda_powertools.event_handler"] is real


def test_a_module_that_is_not_a_package_is_left_alone() -> None:
    assert defer_package_init("opayo_fba.lazy_packages") is False
    assert defer_package_init("no_such_package_anywhere") is False
