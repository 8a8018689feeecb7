"""End-to-end: the synthesized template on the local runtime, against both sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from demo.scenarios import DemoContext
from local_runtime.environment import EnvironmentOptions, LocalEnvironment

if TYPE_CHECKING:
    from playwright.sync_api import Page

TIME_FACTOR = 600.0


@pytest.fixture(scope="module")
def environment(template_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalEnvironment]:
    # A module may add to the functions' environment (its merchant's configuration).
    extra: dict[str, str] = getattr(request.module, "FUNCTION_ENVIRONMENT", {})
    options = EnvironmentOptions(
        template=template_path,
        time_factor=TIME_FACTOR,
        run_schedules=False,
        # As the demo: the merchant ships what is in stock (cdk.json `fulfillmentPolicy`).
        # And keeps a fifth of a unit's value when a return comes back customer-damaged.
        function_environment={
            "FULFILLMENT_POLICY": "FillAllAvailable",
            "RETURN_DEDUCTIONS": '{"CustomerDamaged": 20}',
            **extra,
        },
    )
    with LocalEnvironment(options) as running:
        yield running


@pytest.fixture(scope="module")
def demo(environment: LocalEnvironment) -> Iterator[DemoContext]:
    ctx = DemoContext(environment)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def console(environment: LocalEnvironment) -> Iterator[str]:
    """The web console on the module's environment, as `opayo-fba local up` starts it: its
    link (with the token)."""
    from opayo_fba.cli.local import start_console

    server, url = start_console(environment)
    yield url
    server.stop()


# -- the browser (pytest-playwright's fixtures, launching the Chromium tests/e2e/browser.py finds)


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], playwright: Any
) -> dict[str, Any]:
    from tests.e2e.browser import CHROMIUM_ARGS, NO_BROWSER, opted_out, system_chromium

    executable = system_chromium()
    if executable is None and not Path(playwright.chromium.executable_path).is_file():
        if opted_out():
            pytest.skip(NO_BROWSER)
        pytest.fail(NO_BROWSER, pytrace=False)
    found = {"executable_path": executable} if executable else {}
    return {**browser_type_launch_args, **found, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 860}}


@pytest.fixture
def watched(page: Page) -> Iterator[dict[str, list[Any]]]:
    """What the page reports that it should not: console errors (a CSP violation is one),
    dialogs, and any script the pages' data smuggled in (window.__pwned)."""
    seen: dict[str, list[Any]] = {"errors": [], "dialogs": []}
    page.on(
        "console", lambda m: seen["errors"].append(m.text) if m.type in ("error", "warning") else 0
    )
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    yield seen
    assert page.evaluate("window.__pwned === undefined")
    assert seen["dialogs"] == []
    assert [e for e in seen["errors"] if "Content Security Policy" in e] == []
