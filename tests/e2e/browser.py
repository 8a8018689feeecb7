"""Which Chromium the browser tests drive, and how.

A system Chromium where there is one (Debian's `chromium`, which .ci/run installs), else
Playwright's own (`playwright install chromium`, where downloads are possible). Without
either the tests fail, saying so: they never skip silently. Outside CI a developer without a
browser may opt out with OPAYO_FBA_NO_BROWSER=1 (the tests then skip, with that reason);
CI=true ignores the opt-out.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Page

SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
OPT_OUT = "OPAYO_FBA_NO_BROWSER"
# The tests name this host to play a DNS-rebinding page: Chromium resolves it to 127.0.0.1.
REBOUND_HOST = "rebound.test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {REBOUND_HOST} 127.0.0.1",
]
NO_BROWSER = (
    "No Chromium for the browser tests: install Debian's (`apt-get install -y chromium`, as "
    ".ci/run does) or Playwright's (`.venv/bin/playwright install chromium`). Outside CI, "
    f"{OPT_OUT}=1 skips them."
)


def system_chromium() -> str | None:
    for path in SYSTEM_CHROMIUMS:
        if Path(path).is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium")
    return found


def opted_out() -> bool:
    return os.environ.get(OPT_OUT) == "1" and os.environ.get("CI", "").lower() != "true"


# -- what the console's browser tests share ------------------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT_ROOT / "docs" / "console"
# axe-core from its npm package (package.json pins it; `make test` installs it first).
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
# What the issue allows none of; axe's "minor" and "moderate" findings are reported, not fatal.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
PHONE = {"width": 390, "height": 844}
_AXE_RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))"""


def origin(url: str) -> str:
    """scheme://host:port of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in(page: Page, console: str) -> None:
    """Open the console's printed link; it lands on the Orders page."""
    from playwright.sync_api import expect

    page.goto(console)
    expect(page).to_have_url(re.compile(r"/orders$"))


def accessibility_violations(page: Page) -> list[dict[str, object]]:
    """What axe-core finds on the page as it stands, of serious or critical impact. axe is
    evaluated through the DevTools protocol, not added as a <script>: the page's
    Content-Security-Policy stays exactly as the console sends it."""
    if not AXE.is_file():
        raise AssertionError(f"no {AXE}: run `npm ci` (make test does)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, object]] = page.evaluate(_AXE_RUN)
    return [v for v in found if v["impact"] in BLOCKING_IMPACTS]


def phone_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than a phone's screen (0: it fits; wide tables
    scroll inside their own box)."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        overflow: int = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    finally:
        if size is not None:
            page.set_viewport_size(size)
    return overflow


def screenshot(page: Page, name: str) -> None:
    """docs/console/<name>.png, the whole page; first every page shown in the docs passes
    axe-core with no serious or critical violation and fits a phone's width."""
    violations = accessibility_violations(page)
    assert not violations, f"{name}: axe-core finds {violations}"
    assert phone_overflow(page) <= 0, f"{name}: wider than a phone ({PHONE['width']} px)"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
