"""Reconcile local files into an output folder, all or nothing.

Outputs are written into a hidden folder beside them and moved into place only when the
whole run succeeded, so a malformed input leaves no partial output behind.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from opayo_fba.reconcile.amazon import SettlementParser
from opayo_fba.reconcile.config import ReconcileConfig
from opayo_fba.reconcile.engine import Reconciler, ReconcileResult
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.opayo import BatchParser
from opayo_fba.reconcile.orders import OrderBook
from opayo_fba.reconcile.outputs import (
    ExceptionWriter,
    journal_entries_ready_event,
    write_journal_csv,
    write_journal_json,
)
from opayo_fba.reconcile.report import render_report

OUTPUT_FILES = (
    "journal.csv", "journal.json", "exceptions.csv", "report.html",
    "journal-entries-ready.json",
)  # fmt: skip
_GZIP_MAGIC = b"\x1f\x8b"

Progress = Callable[[int], None]


class _CountingReader(io.RawIOBase):
    """Reports every byte read from the file on disk (compressed bytes for .gz)."""

    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if self._progress is not None and count:
            self._progress(count)
        return int(count or 0)


def input_size(path: Path) -> int:
    return path.stat().st_size


@contextmanager
def open_binary(path: Path, progress: Progress | None = None) -> Iterator[IO[bytes]]:
    """The decompressed bytes of `path` (gzip is recognised by its magic number)."""
    try:
        raw = path.open("rb")
    except OSError as error:
        raise MalformedInputError(str(path), None, None, f"cannot open: {error.strerror}") from None
    with raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream: IO[bytes] = io.BufferedReader(_CountingReader(raw, progress), 1 << 16)
        if gzipped:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
        try:
            yield stream
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise MalformedInputError(str(path), None, None, f"broken gzip data: {error}") from None


@contextmanager
def open_lines(path: Path, progress: Progress | None = None) -> Iterator[IO[str]]:
    with open_binary(path, progress) as stream:
        yield io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def reconcile_files(
    *,
    amazon: Sequence[Path],
    opayo: Sequence[Path],
    out_dir: Path,
    config: ReconcileConfig,
    orders: Path | None = None,
    progress: Progress | None = None,
    on_file: Callable[[Path], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReconcileResult:
    """Reconcile the files and write OUTPUT_FILES into `out_dir`; nothing on failure."""
    for path in (*amazon, *opayo, *([orders] if orders else [])):
        if not path.is_file():
            raise MalformedInputError(str(path), None, None, "no such file")
    if out_dir.exists() and not out_dir.is_dir():
        raise MalformedInputError(str(out_dir), None, None, "is a file; --out needs a folder")
    created_out_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex
    staging = out_dir / f".reconcile-{run_id}"
    staging.mkdir()
    try:
        with ExitStack() as stack:
            exceptions_file = stack.enter_context(
                (staging / "exceptions.csv").open("w", encoding="utf-8", newline="")
            )
            writer = ExceptionWriter(exceptions_file)
            book = None
            if orders is not None:
                if on_file:
                    on_file(orders)
                with open_lines(orders, progress) as lines:
                    book = OrderBook.from_json_lines(lines, str(orders))
            reconciler = Reconciler(config, orders=book, on_exception=writer.write, now=now)
            for path in amazon:
                if on_file:
                    on_file(path)
                with open_lines(path, progress) as lines:
                    reconciler.add_settlement(SettlementParser(lines, str(path)))
            for path in opayo:
                if on_file:
                    on_file(path)
                with open_binary(path, progress) as stream:
                    reconciler.add_batch(BatchParser(stream, str(path)))
            result = reconciler.finish()
        _write_outputs(result, staging, out_dir, run_id)
        for name in OUTPUT_FILES:
            os.replace(staging / name, out_dir / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    staging.rmdir()
    return result


def _write_outputs(result: ReconcileResult, staging: Path, out_dir: Path, run_id: str) -> None:
    with (staging / "journal.csv").open("w", encoding="utf-8", newline="") as stream:
        write_journal_csv(result.entries, stream)
    with (staging / "journal.json").open("w", encoding="utf-8") as stream:
        write_journal_json(result, stream)
    (staging / "report.html").write_text(render_report(result), encoding="utf-8")
    outputs = {name: str(out_dir / name) for name in OUTPUT_FILES[:4]}
    event = journal_entries_ready_event(result, run_id=run_id, outputs=outputs)
    (staging / "journal-entries-ready.json").write_text(
        json.dumps(event, indent=2) + "\n", encoding="utf-8"
    )
