"""Packaging: the dependency layer for the Lambda platform, cached by the pins; no CLI or
console shipped."""

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


def test_core_layer_ships_the_domain_but_not_the_cli_or_the_console(
    cloud_assembly: Path, resources: dict[str, Any]
) -> None:
    core = _layer_dirs(cloud_assembly, resources)["CoreLayer"]
    assert (core / "python" / "opayo_fba" / "__init__.py").is_file()
    assert (core / "python" / "opayo_fba" / "observability.py").is_file()
    assert not (core / "python" / "opayo_fba" / "cli").exists()
    assert not (core / "python" / "opayo_fba" / "console").exists()
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
    assert not (deps / "jinja2").exists()


def test_dependency_layer_ships_no_pydantic_plugin(
    cloud_assembly: Path, resources: dict[str, Any]
) -> None:
    """Functions run with PYDANTIC_DISABLE_PLUGINS=__all__ (test_functions_and_iam): that may
    only skip a search, never turn off a plugin the layer ships."""
    deps = _layer_dirs(cloud_assembly, resources)["DependenciesLayer"] / "python"
    entry_points = list(deps.glob("*.dist-info/entry_points.txt"))
    assert entry_points  # the search below looks where plugins would be declared
    declaring = [
        path.parent.name
        for path in entry_points
        if "[pydantic]" in path.read_text(encoding="utf-8").split()
    ]
    assert declaring == []


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


def test_a_cached_layer_is_reused_without_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra import packaging

    cached = tmp_path / f"deps-{requirements_hash(runtime_requirements())}"
    (cached / "python").mkdir(parents=True)

    def no_pip(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pip must not run on a cache hit")

    monkeypatch.setattr(packaging.subprocess, "run", no_pip)
    assert packaging.build_dependency_layer(tmp_path) == cached


def test_a_cache_miss_asks_pip_for_lambda_platform_wheels_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra import packaging

    calls: list[list[str]] = []

    def fake_pip(command: list[str], **kwargs: Any) -> None:
        calls.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "pkg").mkdir(parents=True)
        (target / "bin").mkdir()  # console scripts are stripped from the layer

    monkeypatch.setattr(packaging.subprocess, "run", fake_pip)
    built = packaging.build_dependency_layer(tmp_path)
    (command,) = calls
    assert "--only-binary=:all:" in command
    assert command[command.index("--platform") + 1] == LAMBDA_PIP_PLATFORM
    assert command[command.index("--python-version") + 1] == LAMBDA_PYTHON_VERSION
    assert set(runtime_requirements()) <= set(command)
    assert (built / "python" / "pkg").is_dir()
    assert not (built / "python" / "bin").exists()
    assert built.name == f"deps-{requirements_hash(runtime_requirements())}"


def test_pip_failure_explains_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from infra import packaging

    def offline(command: list[str], **kwargs: Any) -> None:
        raise subprocess.CalledProcessError(1, command, stderr="No matching distribution")

    monkeypatch.setattr(packaging.subprocess, "run", offline)
    with pytest.raises(ConfigurationError, match=r"(?s)needs PyPI once.*No matching distribution"):
        packaging.build_dependency_layer(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == []  # no half-built layer left behind
