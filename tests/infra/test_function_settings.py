"""Each handler's settings model and its function's environment in the template agree.

A handler's model (opayo_fba.settings.HANDLER_SETTINGS) requires exactly the variables the
stack gives its function: one the stack forgets fails here, and so does one the stack gives
that no handler reads. A missing or malformed variable fails the handler's import (its cold
start) with the variable's name.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest

from infra.constants import ALL_FUNCTIONS
from opayo_fba.errors import ConfigurationError
from opayo_fba.settings import (
    VARIABLES,
    Settings,
    forget_settings,
    required_variables,
)
from opayo_fba.settings.catalogue import HANDLER_SETTINGS
from tests.infra.conftest import function_environment

# What the function factory gives every function (infra/functions.py): Powertools reads its
# own, pydantic its PYDANTIC_DISABLE_PLUGINS, and the stage's name is a label no handler needs
# (Settings defaults it to "local").
EVERY_FUNCTION = frozenset(
    {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
        "PYDANTIC_DISABLE_PLUGINS",
        "OPAYO_FBA_ENVIRONMENT",
    }
)


def own_variables(resources: dict[str, Any], module: str) -> frozenset[str]:
    """The variables the template gives this function for its handler to read."""
    return frozenset(function_environment(resources, module)) - EVERY_FUNCTION


def read_variables(model: type[Settings]) -> frozenset[str]:
    return frozenset(VARIABLES[name] for name in model.model_fields)


def test_every_handler_has_a_settings_model() -> None:
    assert sorted(HANDLER_SETTINGS) == sorted(spec.module for spec in ALL_FUNCTIONS)


@pytest.mark.parametrize("module", sorted(HANDLER_SETTINGS))
def test_a_handlers_settings_require_exactly_what_the_stack_gives_its_function(
    module: str, resources: dict[str, Any]
) -> None:
    """dev configures no routing, mapping templates, SKU mappings or chart of accounts, so
    every variable its functions get is one their handlers cannot do without."""
    assert required_variables(HANDLER_SETTINGS[module]) == own_variables(resources, module)


@pytest.mark.parametrize("module", sorted(HANDLER_SETTINGS))
def test_a_handlers_settings_load_from_its_functions_environment(
    module: str, resources: dict[str, Any]
) -> None:
    model = HANDLER_SETTINGS[module]
    assert own_variables(resources, module) <= read_variables(model)
    model.model_validate(function_environment(resources, module))  # typed, validated


def _import_handler(module: str) -> Any:
    forget_settings()  # each import is a new cold start
    sys.modules.pop(f"functions.{module}", None)
    try:
        return importlib.import_module(f"functions.{module}")
    finally:
        sys.modules.pop(f"functions.{module}", None)
        forget_settings()  # no other test may see these placeholder settings


MISSING = sorted(
    (module, variable)
    for module, model in HANDLER_SETTINGS.items()
    for variable in required_variables(model)
)


@pytest.mark.parametrize(("module", "variable"), MISSING)
def test_a_handler_without_a_required_variable_fails_at_import_naming_it(
    module: str, variable: str, resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in function_environment(resources, module).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(variable)
    with pytest.raises(ConfigurationError, match=rf"{variable} is not set"):
        _import_handler(module)


@pytest.mark.parametrize(
    ("module", "variable", "value", "reason"),
    [
        ("order_cancel", "SELLER_SECRET_ARNS", "uk-main=arn:x", "JSON object of name -> secret"),
        ("order_intake", "SELLER_MARKETPLACES", "{}", "at least 1 item"),
        ("after_sale_tracker", "RETURN_DEDUCTIONS", '{"Damaged": "a"}', "valid integer"),
        ("saga_abort_payment", "UNFULFILLABLE_AUTHORISATIONS", "keep", "'abort' or 'hold'"),
        ("saga_validate_and_map", "FULFILLMENT_POLICY", "FillSome", "'FillOrKill'"),
        ("opayo_webhook", "OPAYO_VENDORS", "", "at least 1 item"),
        ("order_status", "ORDERS_TABLE_NAME", "", "at least 1 character"),
    ],
)
def test_a_handler_with_a_malformed_variable_fails_at_import_naming_it(
    module: str,
    variable: str,
    value: str,
    reason: str,
    resources: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, given in function_environment(resources, module).items():
        monkeypatch.setenv(name, given)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=rf"{variable}[^;]*{reason}") as raised:
        _import_handler(module)
    assert value not in str(raised.value) or not value  # names the variable, never its value


def test_the_webhook_reads_its_vendors_through_its_settings(
    resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in function_environment(resources, "opayo_webhook").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPAYO_VENDORS", "shop,outlet")
    _import_handler("opayo_webhook")
    from opayo_fba.settings import settings

    assert frozenset({"shop", "outlet"}) == settings().opayo_vendors
