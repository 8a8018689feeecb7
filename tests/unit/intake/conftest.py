pytest_plugins = ["tests.unit.saga.conftest"]
