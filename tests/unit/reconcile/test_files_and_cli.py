"""The file-level run and `opayo-fba reconcile`: outputs, exit codes, nothing left on error."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from tests.unit.reconcile.builders import batch_xml, order_fee, settlement_lines, transaction, write

PROJECT_ROOT = Path(__file__).resolve().parents[3]
OUTPUTS = {"journal.csv", "journal.json", "exceptions.csv", "report.html",
           "journal-entries-ready.json"}  # fmt: skip


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    settlement = settlement_lines(
        [order_fee("MCF-1", "-2.00"), order_fee("MCF-2", "-1.50"), order_fee("MCF-3", "-1.00")],
        total="-4.50",
    )
    with gzip.open(tmp_path / "settlement.txt.gz", "wt", encoding="utf-8") as stream:
        stream.writelines(settlement)
    write(tmp_path / "batch.xml",
          batch_xml([transaction("MCF-1", "10.00"), transaction("MCF-2", "7.50"),
                     transaction("MCF-9", "3.00")]))  # fmt: skip
    write(tmp_path / "orders.jsonl", [
        json.dumps({"orderId": o, "vendorTxCode": o, "totalMinor": m, "currency": "GBP"}) + "\n"
        for o, m in (("MCF-1", 1000), ("MCF-2", 800), ("MCF-3", 100), ("MCF-9", 300))
    ])  # fmt: skip
    return {
        "amazon": tmp_path / "settlement.txt.gz",
        "opayo": tmp_path / "batch.xml",
        "orders": tmp_path / "orders.jsonl",
    }


def invoke(*args: str | Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["reconcile", *map(str, args)])


def test_reconcile_writes_every_output(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("--amazon", inputs["amazon"], "--opayo", inputs["opayo"],
                    "--orders", inputs["orders"], "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert "matched orders" in result.output
    with (out / "exceptions.csv").open(encoding="utf-8") as stream:
        found = {(r["reason"], r["order"]) for r in csv.DictReader(stream)}
    assert found == {
        ("amount_mismatch", "MCF-2"),
        ("fulfilled_not_captured", "MCF-3"),
        ("captured_not_fulfilled", "MCF-9"),
    }
    journal = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    assert [e["balanced"] and e["tiesOut"] for e in journal["entries"]] == [True, True]
    with (out / "journal.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert sum(int(r["debit_minor"]) for r in rows) == sum(int(r["credit_minor"]) for r in rows)
    assert {r["debit"] for r in rows} >= {"4.50"}
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in report
    assert "<script" not in report
    assert "http" not in report.split("xmlns")[0]
    event = json.loads((out / "journal-entries-ready.json").read_text(encoding="utf-8"))
    assert event["detail-type"] == "JournalEntriesReady"
    assert event["detail"]["exceptionsByReason"] == {
        "amount_mismatch": 1, "captured_not_fulfilled": 1, "fulfilled_not_captured": 1,
    }  # fmt: skip
    assert event["detail"]["balanced"] is True
    assert "MCF-" not in json.dumps(event)  # counts and totals only, no order data


def test_malformed_input_exits_2_naming_file_and_line_and_writes_nothing(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad.tsv",
                settlement_lines([order_fee("MCF-1", "-2.00"), order_fee("MCF-2", "two")],
                                 total="-4.00", settlement_id="777"))  # fmt: skip
    out = tmp_path / "fresh"
    result = invoke("--amazon", inputs["amazon"], "--amazon", bad, "--opayo", inputs["opayo"],
                    "--out", out)  # fmt: skip
    assert result.exit_code == 2
    assert f"{bad}, line 4: field 'amount'" in result.output
    assert not out.exists()


def test_an_existing_output_folder_is_left_as_it_was_on_error(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "journal.csv").write_text("yesterday's journal", encoding="utf-8")
    bad = write(tmp_path / "batch.xml", batch_xml([transaction("A", "abc")]))
    result = invoke("--amazon", inputs["amazon"], "--opayo", bad, "--out", out)
    assert result.exit_code == 2
    assert "line 12: field 'amount'" in result.output
    assert [p.name for p in out.iterdir()] == ["journal.csv"]
    assert (out / "journal.csv").read_text(encoding="utf-8") == "yesterday's journal"


def test_missing_file_and_bad_config_exit_2_with_the_fix(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    result = invoke("--amazon", tmp_path / "nope.txt", "--opayo", inputs["opayo"],
                    "--out", tmp_path / "o")  # fmt: skip
    assert result.exit_code == 2
    assert "nope.txt: no such file" in result.output
    config = write(tmp_path / "chart.yaml", "clearing: {amazon: A}\n")
    result = invoke("--amazon", inputs["amazon"], "--opayo", inputs["opayo"],
                    "--out", tmp_path / "o", "--config", config)  # fmt: skip
    assert result.exit_code == 2
    assert "clearing.opayo" in result.output
    assert not (tmp_path / "o").exists()


def test_float_percentages_in_the_fee_schedule_are_refused(tmp_path: Path) -> None:
    from opayo_fba.errors import ConfigurationError
    from opayo_fba.reconcile.config import default_config_path, load_config

    text = default_config_path().read_text(encoding="utf-8").replace('"1.20"', "1.20", 1)
    with pytest.raises(ConfigurationError, match=r"percent.*quoted string"):
        load_config(write(tmp_path / "chart.yaml", text))


def test_the_benchmark_runs_small(tmp_path: Path) -> None:
    bench = PROJECT_ROOT / "bench" / "reconcile.py"
    completed = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(bench), "--rows", "1000", "--repeat", "1"],
        capture_output=True, text=True, check=True, cwd=tmp_path, timeout=240,
    )  # fmt: skip
    assert "rows per second" in completed.stdout
    assert "peak RSS (MB)" in completed.stdout


def test_out_must_be_a_folder(inputs: dict[str, Path], tmp_path: Path) -> None:
    not_a_folder = write(tmp_path / "out.txt", "x")
    result = invoke("--amazon", inputs["amazon"], "--opayo", inputs["opayo"], "--out", not_a_folder)
    assert result.exit_code == 2
    assert "--out needs a folder" in result.output
    assert not_a_folder.read_text(encoding="utf-8") == "x"
