"""Cold-start import time of every Lambda handler, the part of a cold start our code decides.

Each handler module is imported in a fresh interpreter (as a new Lambda execution environment
would) with the environment the synthesized template gives that function (its variables, a
reference standing in as a plausible string), and as Lambda runs it: `LAMBDA_TASK_ROOT` and
`AWS_LAMBDA_FUNCTION_NAME` set, so Powertools' tracer is on exactly as deployed.

What is timed is the import statement itself, inside that interpreter: what Lambda's init
phase spends on our code. The interpreter's start and its teardown at exit (which collects
every object the import made, and which a Lambda environment never waits for) are left out;
the whole process's wall time is printed beside it for reference. `import boto3` is measured
the same way, alternating with each handler's imports, so a machine whose load changes
during the run still compares each handler with boto3 under the same load. The medians are
printed, and their ratio (issue target: every handler at or under 1.5x).

On a shared machine (a VM with neighbours) wall time wanders by a tenth from one run to the
next, which is the margin the target is about. `--instructions` also counts, with valgrind's
callgrind, the instructions each import executes (an interpreter importing it and leaving at
once, less one that imports nothing): the same count on every run whatever else the machine
does, so the ratio it gives is the one to compare from run to run. Instructions are not time (memory
stalls, file system calls), which is why wall time stays the target's measure.

    make synth && .venv/bin/python bench/import_time.py [--runs 5] [--only order_intake,...]
        [--template cdk.out/OpayoFba-dev.template.json] [--instructions]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = ROOT / "cdk.out" / "OpayoFba-dev.template.json"
TARGET_RATIO = 1.5
# What Lambda itself sets in every execution environment (names only: no credentials).
LAMBDA_RUNTIME = {
    "AWS_REGION": "eu-west-2",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
}


def _stand_in(name: str, value: Any) -> str:
    """A template value as the deployed function would see it: literals as they are,
    references (Ref, GetAtt, Join) as a string of the right kind."""
    if isinstance(value, str):
        return value
    if name.endswith("_ARN") or name.endswith("_ARNS"):
        return "arn:aws:service:eu-west-2:123456789012:resource/bench"
    if name.endswith("_URL"):
        return "https://sqs.eu-west-2.amazonaws.com/123456789012/bench.fifo"
    return "bench"


def _resolve(value: Any) -> Any:
    """JSON-object variables (ARN maps) whose values are references: keep their shape."""
    if isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"][1]
        return "".join(p if isinstance(p, str) else "arn:aws:x:eu-west-2:1:bench" for p in parts)
    return value


def environments(template: Path) -> dict[str, dict[str, str]]:
    """Each handler module's environment from the template (the first function using it)."""
    resources = json.loads(template.read_text(encoding="utf-8"))["Resources"]
    found: dict[str, dict[str, str]] = {}
    for logical_id, resource in sorted(resources.items()):
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        module = str(props.get("Handler", "")).rpartition(".")[0]
        if not module or module in found:
            continue
        variables = props.get("Environment", {}).get("Variables", {})
        env = {k: _stand_in(k, _resolve(v)) for k, v in variables.items()}
        env.update(
            LAMBDA_RUNTIME,
            AWS_LAMBDA_FUNCTION_NAME=logical_id,
            LAMBDA_TASK_ROOT=str(ROOT / "functions"),
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(props.get("MemorySize", 128)),
        )
        found[module] = env
    return found


# The import, timed inside the fresh interpreter; the seconds go to stdout.
_TIMED_IMPORT = """\
import time as _time
_started = _time.perf_counter()
{statement}
print(_time.perf_counter() - _started)
"""


def _sample(statement: str, env: dict[str, str]) -> tuple[float, float]:
    """One fresh interpreter: (seconds the statement took in it, seconds of the process)."""
    # Only the variables the function has (and what Python needs), not this shell's.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    full = {**base, **env, "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT / 'layers/core/python'}"}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter running an import this script builds
        [sys.executable, "-c", _TIMED_IMPORT.format(statement=statement)],
        check=True,
        env=full,
        cwd=ROOT / "functions",
        capture_output=True,
        text=True,
    )
    process = time.perf_counter() - started
    return float(done.stdout.strip().splitlines()[-1]), process


def _instructions(statement: str, env: dict[str, str]) -> int:
    """Instructions a fresh interpreter executes running `statement` (valgrind's callgrind)."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    full = {**base, **env, "PYTHONPATH": f"{ROOT / 'functions'}:{ROOT / 'layers/core/python'}"}
    done = subprocess.run(  # noqa: S603 - valgrind running our own interpreter on our import
        [
            shutil.which("valgrind") or "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            # Left at once, as the timed import's teardown is left out (see above).
            f"{statement}\nimport os\nos._exit(0)",
        ],
        check=True,
        env=full,
        cwd=ROOT / "functions",
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count: {done.stderr[-500:]}")
    return int(found.group(1))


def _instruction_ratios(modules: list[str], envs: dict[str, dict[str, str]]) -> dict[str, float]:
    """Each handler's import in instructions, as a multiple of `import boto3`'s (each less an
    interpreter that imports nothing), two at a time (one per core)."""
    from concurrent.futures import ThreadPoolExecutor

    env = envs[modules[0]]
    with ThreadPoolExecutor(2) as pool:
        bare, boto3 = pool.map(lambda s: _instructions(s, env), ["pass", "import boto3"])
        counts = dict(
            zip(
                modules,
                pool.map(lambda m: _instructions(f"import {m}", envs[m]), modules),
                strict=True,
            )
        )
    print(
        f"instructions: bare interpreter {bare / 1e6:.0f} M, `import boto3` "
        f"{(boto3 - bare) / 1e6:.0f} M (callgrind)"
    )
    return {m: (count - bare) / (boto3 - bare) for m, count in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="imports per handler (median kept)")
    parser.add_argument("--only", default="", help="comma-separated handler modules")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each import's instructions with valgrind (repeatable; a few minutes)",
    )
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        print("--instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        raise SystemExit(2)
    if not args.template.is_file():
        print(f"no template at {args.template}: run `make synth` first", file=sys.stderr)
        raise SystemExit(2)
    envs = environments(args.template)
    modules = sorted(envs)
    if args.only:
        modules = [m for m in modules if m in args.only.split(",")]
    rows = []
    all_boto3: list[float] = []
    for module in modules:
        boto3, handler, process = [], [], []
        for _ in range(args.runs):
            boto3.append(_sample("import boto3", envs[module])[0])
            seconds, whole = _sample(f"import {module}", envs[module])
            handler.append(seconds)
            process.append(whole)
        all_boto3 += boto3
        median = statistics.median(handler)
        rows.append((module, median, statistics.median(process), median / statistics.median(boto3)))
    bare = statistics.median(_sample("pass", envs[modules[0]])[1] for _ in range(args.runs))
    print(
        f"bare interpreter {bare * 1000:.0f} ms; `import boto3` "
        f"{statistics.median(all_boto3) * 1000:.0f} ms (medians of {args.runs} per handler, "
        "fresh interpreters, each function's template environment, tracing on as deployed; "
        "each ratio against the boto3 imports alternating with that handler's)"
    )
    counted = _instruction_ratios(modules, envs) if args.instructions else {}
    print(
        f"{'handler':34} {'import ms':>10} {'x boto3':>8} {'process ms':>11}"
        + (f" {'instr x boto3':>14}" if counted else "")
    )
    over = []
    for module, seconds, whole, ratio in rows:
        flag = "" if ratio <= TARGET_RATIO else "  over target"
        if flag:
            over.append(module)
        instructions = f" {counted[module]:13.2f}x" if counted else ""
        print(
            f"{module:34} {seconds * 1000:10.0f} {ratio:7.2f}x {whole * 1000:11.0f}"
            f"{instructions}{flag}"
        )
    print(
        f"{len(modules) - len(over)} of {len(modules)} handlers at or under {TARGET_RATIO}x "
        f"`import boto3`" + (f"; over: {', '.join(over)}" if over else "")
    )


if __name__ == "__main__":
    main()
