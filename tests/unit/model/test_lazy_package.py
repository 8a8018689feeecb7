"""`opayo_fba.model` imports each submodule when one of its names is first asked for: the
same names as ever, and no model built at cold start that the function does not use."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import opayo_fba.model as model
from tests.fixtures.interpreter import fresh_interpreter


def _type_checking_imports() -> dict[str, str]:
    """Name -> submodule, as the package's `if TYPE_CHECKING:` imports (what mypy reads) say."""
    tree = ast.parse(Path(model.__file__).read_text(encoding="utf-8"))
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    found = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        assert node.module
        for alias in node.names:
            found[alias.name] = node.module.removeprefix("opayo_fba.model.")
    return found


def test_the_lazy_names_are_the_type_checked_names_and_all_of_them() -> None:
    lazy = {name: module for module, names in model._EXPORTS.items() for name in names}
    assert lazy == _type_checking_imports()
    assert sorted(model.__all__) == sorted(lazy)
    assert len(model.__all__) == len(set(model.__all__))


@pytest.mark.parametrize("name", model.__all__)
def test_each_name_is_the_object_its_submodule_defines(name: str) -> None:
    submodule = importlib.import_module(f"opayo_fba.model.{model._SUBMODULE_OF[name]}")
    assert getattr(model, name) is getattr(submodule, name)
    assert name in dir(model)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Ordr'"):
        model.Ordr  # noqa: B018 - the attribute access is the test
    with pytest.raises(ImportError):
        exec("from opayo_fba.model import Ordr", {})  # noqa: S102 - a fixed statement


def test_importing_the_package_builds_no_model_until_one_is_used() -> None:
    result = fresh_interpreter(
        """
        import json, sys

        def loaded():
            prefix = "opayo_fba.model."
            return sorted(m.removeprefix(prefix) for m in sys.modules if m.startswith(prefix))

        import opayo_fba.model
        after_package = loaded()
        from opayo_fba.model import OrderId
        after_order_id = loaded()
        from opayo_fba.model import Address
        after_address = loaded()
        Address(country_code="United Kingdom")
        print(json.dumps({
            "package": after_package, "order_id": after_order_id, "address": after_address
        }))
        """
    )
    assert result == {
        "package": [],
        "order_id": ["common"],
        "address": ["address", "common", "countries"],
    }


def test_a_first_use_from_many_threads_gets_one_object() -> None:
    result = fresh_interpreter(
        """
        import json
        from concurrent.futures import ThreadPoolExecutor
        import opayo_fba.model

        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda _: id(getattr(opayo_fba.model, "Order")), range(32)))
        print(json.dumps({"distinct": len(set(got))}))
        """
    )
    assert result == {"distinct": 1}


def test_a_model_is_built_at_its_first_use_and_many_threads_may_be_first() -> None:
    """Models are `defer_build`: importing one builds nothing, its first validation builds it.
    That first validation may come from several threads at once (the local runtime serves
    requests in threads): each gets the right answer, a valid order and a refused one alike
    (pydantic's rebuild is locked since its pull request #13438, which the pin includes)."""
    result = fresh_interpreter(
        """
        import json
        from concurrent.futures import ThreadPoolExecutor
        from opayo_fba.store.orders import OrderRecord

        built_at_import = OrderRecord.__pydantic_complete__
        order = {
            "order_id": "W-1", "channel": "web", "placed_at": "2026-11-28T10:15:00Z",
            "currency": "GBP",
            "shipping_address": {"name": "Jane Doe", "line1": "88 Acacia Avenue",
                                 "city": "London", "postal_code": "SW1A 1AA",
                                 "country_code": "GB"},
            "lines": [{"sku": "SKU-RED", "quantity": 1,
                       "unit_price": {"amount": 2500, "currency": "GBP"}}],
            "totals": {"grand_total": {"amount": 2500, "currency": "GBP"}},
        }
        good = {"order": order, "seller_account": "eu"}
        bad = {**good, "status": "NOT_A_STATUS"}

        def validate(i):
            try:
                return OrderRecord.model_validate(good if i % 2 else bad).order_id
            except Exception as error:
                return type(error).__name__

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(validate, range(32)))
        print(json.dumps({"built_at_import": built_at_import, "answers": sorted(set(answers))}))
        """
    )
    assert result["built_at_import"] is False
    assert result["answers"] == ["ValidationError", "W-1"]
