"""Packaging: the dependency layer for the Lambda platform, cached by the pins; no CLI shipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.constants import LAMBDA_PIP_PLATFORM, LAMBDA_PYTHON_VERSION
from infra.packaging import requirements_hash, runtime_requirements
from opayo_fba.errors import ConfigurationError
from tests.infra.conftest import of_type


def _layer_dirs(cloud_assembly: Path, resources: dict[str, Any]) -> dict[str, Path]:
    found = {}
    for layer in of_type(resources, "AWS::Lambda::LayerVersion").values():
        path = layer["Metadata"]["aws:cdk:path"].split("/")[-2]
        found[path] = cloud_assembly / layer["Metadata"]["aws:asset:path"]
    return found


def test_core_layer_ships_the_domain_but_not_the_cli(
    cloud_assembly: Path, resources: dict[str, Any]
) -> None:
    core = _layer_dirs(cloud_assembly, resources)["CoreLayer"]
    assert (core / "python" / "opayo_fba" / "__init__.py").is_file()
    assert (core / "python" / "opayo_fba" / "observability.py").is_file()
    assert not (core / "python" / "opayo_fba" / "cli").exists()
    assert not list(core.rglob("__pycache__"))


def test_dependency_layer_is_built_for_the_lambda_platform(
    cloud_assembly: Path, resources: dict[str, Any]
) -> None:
    deps = _layer_dirs(cloud_assembly, resources)["DependenciesLayer"] / "python"
    assert (deps / "aws_lambda_powertools").is_dir()
    assert (deps / "pydantic").is_dir()
    (native,) = (deps / "pydantic_core").glob("_pydantic_core.*.so")
    tag = LAMBDA_PYTHON_VERSION.replace(".", "")
    assert f"cpython-{tag}-aarch64-linux-gnu" in native.name
    # The operator's CLI dependencies stay out of the layer.
    assert not (deps / "typer").exists()
    assert not (deps / "rich").exists()


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1_000_000


def test_layers_and_code_fit_lambdas_unzipped_limit(
    cloud_assembly: Path, resources: dict[str, Any]
) -> None:
    """Lambda allows 250 MB unzipped for a function and its layers together."""
    total = sum(_size_mb(path) for path in _layer_dirs(cloud_assembly, resources).values())
    (code,) = {
        f["Metadata"]["aws:asset:path"]
        for f in of_type(resources, "AWS::Lambda::Function").values()
    }
    total += _size_mb(cloud_assembly / code)
    assert total < 200, f"{total:.0f} MB leaves too little headroom under 250 MB"


def test_function_code_is_the_functions_folder(
    cloud_assembly: Path, resources: dict[str, Any]
) -> None:
    paths = {
        f["Metadata"]["aws:asset:path"]
        for f in of_type(resources, "AWS::Lambda::Function").values()
    }
    (path,) = paths  # one asset shared by every function
    code = cloud_assembly / path
    assert (code / "order_intake.py").is_file()
    assert not (code / "infra").exists()


def test_layer_cache_key_follows_the_pins() -> None:
    pins = runtime_requirements()
    assert all("==" in pin for pin in pins)
    assert requirements_hash(pins) == requirements_hash(list(pins))
    bumped = [pin.replace("pydantic==", "pydantic==0.") for pin in pins]
    assert requirements_hash(bumped) != requirements_hash(pins)
    assert LAMBDA_PIP_PLATFORM.endswith("aarch64")


def test_unpinned_runtime_dependency_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["pydantic>=2", "httpx==0.28.1"]\n')
    with pytest.raises(ConfigurationError, match=r"pinned.*pydantic>=2"):
        runtime_requirements(pyproject)


def test_cdk_json_runs_the_app_from_the_venv() -> None:
    from tests.infra.conftest import PROJECT_ROOT

    cdk = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    assert cdk["app"] == ".venv/bin/python app.py"
