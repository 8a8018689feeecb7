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

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def origin(url: str) -> str:
    """scheme://host:port of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in(page: Page, console: str) -> None:
    """Open the console's printed link; it lands on the Orders page."""
    from playwright.sync_api import expect

    page.goto(console)
    expect(page).to_have_url(re.compile(r"/orders$"))


def screenshot(page: Page, name: str) -> None:
    """docs/console/<name>.png, the whole page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
