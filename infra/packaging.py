"""Local, Docker-free packaging of the Lambda code: functions, the core layer, the deps layer.

The third-party runtime dependencies are built into our own layer with pip, asking for
manylinux wheels of the Lambda platform (CPython 3.14 on arm64) whatever machine runs the
synthesis. The build is cached under build/layers/ by a hash of the pinned requirements and
the target platform, so only the first synthesis after a pin changes calls PyPI; every other
one, and every synthesis without a network, reuses the cache. docs/deploy.md explains why we
build our own layer rather than use the public Powertools layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from infra.constants import LAMBDA_PIP_PLATFORM, LAMBDA_PYTHON_VERSION
from opayo_fba.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
CORE_LAYER_DIR = PROJECT_ROOT / "layers" / "core"
LAYER_CACHE_DIR = PROJECT_ROOT / "build" / "layers"

# What never goes into an asset: caches, and the operator's CLI and console (they need typer,
# rich, Starlette and Jinja2, which the layer does not ship, and no Lambda runs them).
COMMON_EXCLUDES = ["**/__pycache__", "**/*.pyc", ".mypy_cache", ".pytest_cache"]
CORE_LAYER_EXCLUDES = [*COMMON_EXCLUDES, "python/opayo_fba/cli", "python/opayo_fba/console"]


def runtime_requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> list[str]:
    """The exact pins the functions import: `[project].dependencies` of pyproject.toml."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    requirements: list[str] = sorted(project["dependencies"])
    unpinned = [req for req in requirements if "==" not in req]
    if unpinned:
        raise ConfigurationError(
            f"pyproject.toml dependencies must be pinned with '==' to build the Lambda "
            f"layer reproducibly; unpinned: {unpinned}"
        )
    return requirements


def requirements_hash(requirements: list[str]) -> str:
    """Cache key of the dependency layer: the pins plus the platform they are built for."""
    key = json.dumps(
        {
            "requirements": requirements,
            "python": LAMBDA_PYTHON_VERSION,
            "platform": LAMBDA_PIP_PLATFORM,
        },
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def build_dependency_layer(cache_dir: Path = LAYER_CACHE_DIR) -> Path:
    """Return a directory holding `python/<packages>`, building it only on a cache miss."""
    requirements = runtime_requirements()
    target = cache_dir / f"deps-{requirements_hash(requirements)}"
    if (target / "python").is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename into place: two synthesizers running at once (e.g.
    # pytest-xdist workers) never see a half-built layer.
    staging = Path(tempfile.mkdtemp(prefix="deps-building-", dir=cache_dir))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--platform",
        LAMBDA_PIP_PLATFORM,
        "--target",
        str(staging / "python"),
        *requirements,
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ConfigurationError(
            "could not build the Lambda dependency layer with pip (it needs PyPI once per "
            f"change of the pins; later synths reuse {cache_dir}):\n{exc.stderr}"
        ) from exc
    _strip(staging / "python")
    try:
        os.rename(staging, target)
    except OSError:
        # Another process finished the same build first; its result is identical.
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _strip(site_packages: Path) -> None:
    """Drop what no Lambda imports: console scripts and byte-code caches."""
    shutil.rmtree(site_packages / "bin", ignore_errors=True)
    for cache in list(site_packages.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
