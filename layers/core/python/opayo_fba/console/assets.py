"""The console's vendored JavaScript: htmx, copied from its npm package by the build.

`make console-assets` (a dependency of `make test` and `make demo`) copies
node_modules/htmx.org/dist/htmx.min.js, pinned in package.json, to static/vendor/. It is a
build product, kept out of git: the pin in package.json and package-lock.json is the one
source of its version. `opayo-fba console` calls `ensure_vendored` at start, which makes the
same copy in a checkout whose node_modules has it, and otherwise says what to run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from opayo_fba.console.app import HTMX

NPM_HTMX = Path("node_modules", "htmx.org", "dist", "htmx.min.js")


class AssetsMissing(RuntimeError):
    """The vendored htmx is not there and cannot be copied."""


def ensure_vendored(checkout: Path | None = None) -> Path:
    """The vendored htmx, copied from `checkout`'s node_modules if it is not there yet (or
    is older than the npm package's); AssetsMissing when neither is there."""
    roots = [checkout] if checkout is not None else [Path.cwd(), *HTMX.parents]
    source = next((root / NPM_HTMX for root in roots if (root / NPM_HTMX).is_file()), None)
    if source is not None and (not HTMX.is_file() or HTMX.stat().st_mtime < source.stat().st_mtime):
        HTMX.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, HTMX)
    if not HTMX.is_file():
        raise AssetsMissing(
            f"the console's htmx is missing ({HTMX}); run `make console-assets` in the "
            "checkout (it installs the npm packages pinned in package.json and copies it)"
        )
    return HTMX
