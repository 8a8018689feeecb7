"""`python -m demo --keep-up`, as `make demo DEMO_FLAGS=--keep-up` runs it: every scenario
ends as expected, then the runtime and the web console stay up, the console's link opens the
orders the demo just ran, and Ctrl-C stops it all. Without the flag, the demo's last line
names it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from demo.__main__ import KEEP_UP_HINT
from demo.scenarios import scenarios
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEMO_WITHIN_S = 420.0
_CONSOLE_LINE = re.compile(r"^\s*console\s+(http://127\.0\.0\.1:\d+/\?token=\S+)\s*$")


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)
    into.put(None)


@pytest.fixture
def demo(
    template_path: Path,
) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str | None], list[str]]]:
    command = [sys.executable, "-m", "demo", "--keep-up", "--timeout", "180"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter running the demo
        [*command, "--template", str(template_path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        yield process, lines, seen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_the_demo_keeps_its_runtime_and_console_up_for_its_orders(
    demo: tuple[subprocess.Popen[str], queue.Queue[str | None], list[str]],
) -> None:
    process, lines, seen = demo
    deadline = time.monotonic() + DEMO_WITHIN_S
    url = None
    while url is None:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail("the demo printed no console link in time:\n" + "".join(seen[-40:]))
        if line is None:
            pytest.fail("the demo ended without keeping up:\n" + "".join(seen[-40:]))
        seen.append(line)
        found = _CONSOLE_LINE.match(line)
        url = found.group(1) if found else None
    output = "".join(seen)
    assert "orders ended as their scenarios expect" in output, output[-3000:]
    assert KEEP_UP_HINT not in output  # the hint is for a demo run without the flag

    order_ids = [s.order_id for s in scenarios()]
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        opened = browser.get(url)
        assert opened.status_code == 200, opened.text[:500]
        for order_id in order_ids[:3]:
            page = browser.get(f"{url.split('/?')[0]}/orders/{order_id}")
            assert page.status_code == 200, page.text[:500]
            assert f"Order {order_id}" in page.text

    process.send_signal(signal.SIGINT)  # Ctrl-C
    assert process.wait(timeout=60) == 0
    rest = []
    while (line := lines.get(timeout=10)) is not None:
        rest.append(line)
    assert "Stopping." in "".join(rest)
