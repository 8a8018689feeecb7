"""Settings models: what a handler requires fails its load by name; the JSON maps say what
they should hold; the plain Settings still requires lazily for the composition root."""

from __future__ import annotations

import pytest

from opayo_fba.errors import ConfigurationError
from opayo_fba.settings import (
    VARIABLES,
    Settings,
    forget_settings,
    load_settings,
    read_settings,
    required_variables,
    settings,
)
from opayo_fba.settings.api import OpayoWebhookSettings, OrderIntakeSettings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    forget_settings()


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as raised:
        read_settings(OrderIntakeSettings)
    message = str(raised.value)
    assert message.startswith("OrderIntakeSettings: ")
    for variable in required_variables(OrderIntakeSettings):
        assert f"{variable} is not set" in message
    assert "opayo-fba local up" in message


def test_a_malformed_json_map_names_its_variable_and_shape_never_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERS_TABLE_NAME", "orders")
    monkeypatch.setenv("SAGA_STATE_MACHINE_ARN", "arn:aws:states:eu-west-2:1:stateMachine:s")
    monkeypatch.setenv("SECURITY_KEYS_KEY_ARN", "arn:aws:kms:eu-west-2:1:key/k")
    monkeypatch.setenv("VENDOR_SECRET_ARNS", "shop=arn:aws:secretsmanager:eu-west-2:1:secret:x")
    monkeypatch.setenv("SELLER_MARKETPLACES", '{"uk-main": ["A1F83G8C2ARO7P"]}')
    with pytest.raises(ConfigurationError, match=r"VENDOR_SECRET_ARNS: .*name -> secret ARN") as e:
        read_settings(OrderIntakeSettings)
    assert "shop=" not in str(e.value)


def test_a_loaded_handler_model_is_the_environments_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERS_TABLE_NAME", "orders")
    monkeypatch.setenv("PAYMENT_EVENTS_QUEUE_URL", "https://sqs.eu-west-2.amazonaws.com/1/q.fifo")
    monkeypatch.setenv("OPAYO_VENDORS", "shop,outlet,")
    monkeypatch.setenv("OPAYO_REDIRECT_URL", "https://shop.example/done")
    monkeypatch.setenv("SECURITY_KEYS_KEY_ARN", "arn:aws:kms:eu-west-2:1:key/k")
    loaded = load_settings(OpayoWebhookSettings)
    assert settings() is loaded
    assert loaded.opayo_vendors == frozenset({"shop", "outlet"})
    assert loaded.vendor_secret_arns == {}  # what the webhook does not need stays optional
    forget_settings()
    assert type(settings()) is Settings


def test_the_plain_settings_require_nothing_until_asked() -> None:
    assert required_variables(Settings) == frozenset()
    with pytest.raises(ConfigurationError, match="ORDERS_TABLE_NAME, EVENT_BUS_NAME"):
        Settings().require("orders_table", "event_bus_name")
