"""Synthesize the CDK app once per test session and share the cloud assembly.

Synthesis is slow on two cores, so it happens once: the first pytest-xdist worker to get the
lock synthesizes into a directory all workers share, the others wait for it and read the
same files. The cdk-nag packs run during that synthesis, exactly as in `make synth`.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

# jsii reads these when its Node.js process starts, i.e. at the first aws_cdk import.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import pytest

from infra.config import EnvironmentConfig, load_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = "dev"


def cdk_context() -> dict[str, Any]:
    """The context `cdk synth` would pass: cdk.json's, the environment, path and asset metadata."""
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    return {
        **context,
        "opayo-fba:environment": ENVIRONMENT,
        # The CLI turns these on; tests find resources by construct path and asset directory.
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
    }


def _synthesize(outdir: Path) -> None:
    import aws_cdk as cdk

    from infra.app import build_app

    app = cdk.App(context=cdk_context(), outdir=str(outdir))
    build_app(app)
    app.synth()


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Under xdist each worker's base temp dir sits in one directory per run, shared by all
    # workers of that run; without xdist the base temp dir is already per run.
    base = tmp_path_factory.getbasetemp()
    run_dir = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = run_dir / "infra-cdk-out"
    shared.mkdir(parents=True, exist_ok=True)
    done = shared / "synthesized"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                _synthesize(shared / "cdk.out")
                done.write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return shared / "cdk.out"


@pytest.fixture(scope="session")
def config() -> EnvironmentConfig:
    return load_config(cdk_context())


@pytest.fixture(scope="session")
def template_path(cloud_assembly: Path, config: EnvironmentConfig) -> Path:
    return cloud_assembly / f"OpayoFba-{config.name}.template.json"


@pytest.fixture(scope="session")
def template_json(template_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(template_path.read_text())
    return loaded


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(template_json)


@pytest.fixture(scope="session")
def resources(template_json: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template_json["Resources"]
    return found


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in resources.items() if value["Type"] == resource_type}


def logical_id_by_path(resources: dict[str, Any], path_fragment: str) -> str:
    """The one resource whose construct path (aws:cdk:path metadata) contains the fragment."""
    matches = [
        key
        for key, value in resources.items()
        if path_fragment in value.get("Metadata", {}).get("aws:cdk:path", "")
    ]
    assert len(matches) == 1, f"{path_fragment!r} matched {matches}"
    return matches[0]


def resolve_intrinsics(value: Any, region: str, account: str) -> Any:
    """Turn the Fn::Join/Ref/GetAtt of a definition string into plausible literal values."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve_intrinsics(item, region, account) for item in value]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve_intrinsics(part, region, account)) for part in parts)
    if "Ref" in value:
        ref = value["Ref"]
        return {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account}.get(
            ref, ref
        )
    if "Fn::GetAtt" in value:
        logical_id, _attribute = value["Fn::GetAtt"]
        return f"arn:aws:lambda:{region}:{account}:function:{logical_id}"
    raise ValueError(f"unexpected intrinsic {value}")


@pytest.fixture(scope="session")
def saga_definition(resources: dict[str, Any], config: EnvironmentConfig) -> dict[str, Any]:
    (machine,) = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    text = resolve_intrinsics(
        machine["Properties"]["DefinitionString"], config.region, config.account
    )
    definition: dict[str, Any] = json.loads(text)
    return definition
