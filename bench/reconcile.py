"""Benchmark: our streaming reconciliation against a straightforward pandas version.

    .venv/bin/python bench/reconcile.py              # 1,000,000 settlement rows
    .venv/bin/python bench/reconcile.py --rows 1000  # a quick run

Generates an Amazon V2 settlement flat file with ROWS amount rows (about four per MCF
order, plus returns, storage fees and deliberate exceptions) and the Opayo getBatchDetail
response for the same orders, then runs each implementation in its own subprocess and
prints input rows per second and peak resident memory (ru_maxrss) side by side.
Without an orders file, vendorTxCode = merchant-order-id links the two sides.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))

COLUMNS = (
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date",
    "total-amount", "currency", "transaction-type", "order-id", "merchant-order-id",
    "adjustment-id", "shipment-id", "marketplace-name", "amount-type", "amount-description",
    "amount", "fulfillment-id", "posted-date", "posted-date-time", "order-item-code",
    "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
)  # fmt: skip
MCF_FEES = (
    ("ItemFees", "FBAPerUnitFulfillmentFee"),
    ("ItemFees", "FBAWeightBasedFee"),
    ("other-transaction", "MCF Fulfillment Fee"),
)
CARD_TYPES = ("VISA", "MC", "DELTA", "AMEX", "MAESTRO")


def _fmt(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def generate(rows: int, folder: Path, seed: int = 7) -> dict[str, int]:
    """Write settlement.txt and batch.xml into `folder`; return counts."""
    rng = random.Random(seed)
    settlement_id = "11223344556"
    amazon_rows: list[str] = []
    written = 0
    batch_lines: list[str] = []
    captured = refunded = captures_count = refunds_count = row_number = 0
    order = 0
    with (
        (folder / "settlement.body").open("w", encoding="utf-8") as body,
        (folder / "batch.body").open("w", encoding="utf-8") as batch,
    ):
        total = 0
        while written < rows:
            order += 1
            key = f"MCF-{order:09d}"
            price = rng.randint(500, 25000)
            roll = rng.random()
            amazon_only = roll < 0.005
            opayo_only = 0.005 <= roll < 0.01
            duplicate = 0.01 <= roll < 0.011
            returned = 0.011 <= roll < 0.021
            refunded_no_return = 0.021 <= roll < 0.023
            if not opayo_only:
                date = f"2026-11-{1 + order % 14:02d}"
                for amount_type, description in MCF_FEES:
                    fee = -rng.randint(50, 600)
                    total += fee
                    amazon_rows.append(
                        f"{settlement_id}\t\t\t\t\t\tOrder\t\t{key}\t\t\t\t{amount_type}\t"
                        f"{description}\t{_fmt(fee)}\tAFN\t{date}\t{date} 10:00:00 UTC\t\t\t\t"
                        f"SKU-{order % 977}\t1\t"
                    )
                if returned:
                    fee = -rng.randint(50, 300)
                    total += fee
                    amazon_rows.append(
                        f"{settlement_id}\t\t\t\t\t\tRefund\t\t{key}\t\t\t\tItemFees\t"
                        f"FBACustomerReturnPerUnitFee\t{_fmt(fee)}\tAFN\t{date}\t\t\t\t\t"
                        f"SKU-{order % 977}\t1\t"
                    )
                if order % 50 == 0:
                    fee = -rng.randint(100, 5000)
                    total += fee
                    amazon_rows.append(
                        f"{settlement_id}\t\t\t\t\t\tother-transaction\t\t\t\t\t\t"
                        f"other-transaction\tStorage Fee\t{_fmt(fee)}\t\t{date}\t\t\t\t\t\t\t"
                    )
                if order % 997 == 0:
                    amazon_rows.append(
                        f"{settlement_id}\t\t\t\t\t\tother-transaction\t\t\t\t\t\t"
                        f"NewFeeType\tSomething Amazon added\t-1.00\t\t{date}\t\t\t\t\t\t\t"
                    )
                    total -= 100
                written += len(amazon_rows)
                body.write("\n".join(amazon_rows))
                body.write("\n")
                amazon_rows.clear()
            if not amazon_only:
                card = CARD_TYPES[order % len(CARD_TYPES)]
                for copy in range(2 if duplicate else 1):
                    row_number += 1
                    batch_lines.append(
                        f"<transaction><rownumber>{row_number}</rownumber>"
                        f"<vpstxid>{{{order:08X}-{copy:04X}}}</vpstxid>"
                        f"<vendortxcode>{key}</vendortxcode>"
                        f"<transactiontype>Payment</transactiontype>"
                        f"<paymentsystem>{card}</paymentsystem>"
                        f"<currency>GBP</currency><amount>{_fmt(price)}</amount>"
                        f"<started>15/11/2026 10:00:00.000</started></transaction>"
                    )
                    captured += price
                    captures_count += 1
                if returned or refunded_no_return:
                    row_number += 1
                    batch_lines.append(
                        f"<transaction><rownumber>{row_number}</rownumber>"
                        f"<vpstxid>{{{order:08X}-FFFF}}</vpstxid>"
                        f"<vendortxcode>RFND-{key}</vendortxcode>"
                        f"<relatedvendortxcode>{key}</relatedvendortxcode>"
                        f"<transactiontype>Refund</transactiontype>"
                        f"<paymentsystem>{card}</paymentsystem>"
                        f"<currency>GBP</currency><amount>{_fmt(-price)}</amount>"
                        f"<started>15/11/2026 11:00:00.000</started></transaction>"
                    )
                    refunded += price
                    refunds_count += 1
                batch.write("\n".join(batch_lines))
                batch.write("\n")
                batch_lines.clear()
    header = "\t".join(COLUMNS)
    summary = (
        f"{settlement_id}\t2026-11-01 00:00:00 UTC\t2026-11-15 00:00:00 UTC\t"
        f"2026-11-17 00:00:00 UTC\t{_fmt(total)}\tGBP" + "\t" * (len(COLUMNS) - 6)
    )
    with (folder / "settlement.txt").open("w", encoding="utf-8") as out:
        out.write(header + "\n" + summary + "\n")
        with (folder / "settlement.body").open(encoding="utf-8") as body_in:
            for chunk in iter(lambda: body_in.read(1 << 20), ""):
                out.write(chunk)
    transactions = captures_count + refunds_count
    with (folder / "batch.xml").open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<vspaccess><errorcode>0000</errorcode>'
            "<timestamp>17/11/2026 01:00:00</timestamp>\n<batch><batchid>900001</batchid>"
            "<authprocessor>Elavon</authprocessor>"
            "<completed>16/11/2026 00:05:00.000</completed>\n"
            "<transactiongroups><transactiongroup><currency>GBP</currency>"
            f"<paymentnumber>{captures_count}</paymentnumber>"
            f"<paymentvalue>{_fmt(captured)}</paymentvalue>"
            f"<refundnumber>{refunds_count}</refundnumber>"
            f"<refundvalue>{_fmt(refunded)}</refundvalue></transactiongroup>"
            "</transactiongroups>\n"
            f"<transactions><totalrows>{transactions}</totalrows>\n"
        )
        with (folder / "batch.body").open(encoding="utf-8") as body_in:
            for chunk in iter(lambda: body_in.read(1 << 20), ""):
                out.write(chunk)
        out.write("</transactions>\n</batch></vspaccess>\n")
    (folder / "settlement.body").unlink()
    (folder / "batch.body").unlink()
    return {"settlement_rows": written, "batch_transactions": transactions, "orders": order}


def run_ours(folder: Path) -> dict[str, float]:
    from opayo_fba.reconcile.config import default_config_path, load_config
    from opayo_fba.reconcile.files import reconcile_files

    started = time.perf_counter()
    result = reconcile_files(
        amazon=[folder / "settlement.txt"],
        opayo=[folder / "batch.xml"],
        out_dir=folder / "out-ours",
        config=load_config(default_config_path()),
    )
    seconds = time.perf_counter() - started
    fees = sum(
        line.debit_minor
        for entry in result.entries
        for line in entry.lines
        if line.memo.startswith("Opayo fees (")
    )
    return {
        "seconds": seconds,
        "fees_minor": fees,
        "rows": result.input_rows,
        "exceptions": result.exception_count,
        "matched": result.matched_orders,
    }


def run_pandas(folder: Path) -> dict[str, float]:
    """What a finance engineer would write: load everything, group, merge, mask."""
    import pandas as pd
    import yaml

    started = time.perf_counter()
    config = yaml.safe_load((ROOT / "config" / "chart-of-accounts.yaml").read_text())
    frame = pd.read_csv(folder / "settlement.txt", sep="\t", dtype=str, keep_default_na=False)
    summary, rows = frame.iloc[0], frame.iloc[1:].copy()
    rows["amount_minor"] = (
        (pd.to_numeric(rows["amount"].str.replace(",", ".")) * 100).round().astype("int64")
    )
    exact = {
        (m["amount_type"], m.get("amount_description", "*")): m["account"] for m in config["amazon"]
    }
    by_type = rows.groupby(["amount-type", "amount-description"])["amount_minor"].sum()
    journal = []
    for (amount_type, description), amount in by_type.items():
        account = exact.get((amount_type, description)) or exact.get((amount_type, "*"))
        journal.append((account or config["suspense"], f"{amount_type}/{description}", -amount))
    journal.append((config["clearing"]["amazon"], "net", int(by_type.sum())))
    total_ok = round(float(summary["total-amount"]) * 100) == int(by_type.sum())
    linked = rows[rows["merchant-order-id"] != ""].copy()
    linked["is_return"] = linked["transaction-type"].str.lower().isin(
        ["refund", "return"]
    ) | linked["amount-description"].str.lower().str.contains("return")
    amazon = linked.groupby("merchant-order-id").agg(
        amazon_rows=("amount_minor", "size"),
        return_rows=("is_return", "sum"),
        amazon_minor=("amount_minor", "sum"),
    )
    batch = pd.read_xml(folder / "batch.xml", xpath=".//transaction", parser="etree", dtype=str)
    batch["amount_minor"] = (pd.to_numeric(batch["amount"]) * 100).round().astype("int64")
    if "relatedvendortxcode" not in batch:
        batch["relatedvendortxcode"] = None
    batch["key"] = batch["relatedvendortxcode"].fillna(batch["vendortxcode"])
    schedule = config["opayo_fee_schedule"]
    percent = {card: float(fee["percent"]) for card, fee in schedule["card_types"].items()}
    fixed = {card: fee["fixed_minor"]["GBP"] for card, fee in schedule["card_types"].items()}
    is_capture = batch["transactiontype"].str.upper() == "PAYMENT"
    card = batch["paymentsystem"].str.upper()
    batch["fee"] = (
        batch["amount_minor"].abs()
        * card.map(percent).fillna(float(schedule["default"]["percent"]))
        / 100
    ).round() + card.map(fixed).fillna(schedule["default"]["fixed_minor"]["GBP"])
    if not schedule.get("apply_to_refunds", False):
        batch.loc[~is_capture, "fee"] = 0
    captures = (
        batch[is_capture]
        .groupby("key")
        .agg(captured=("amount_minor", "sum"), captures=("amount_minor", "size"))
    )
    refunds = (
        batch[~is_capture]
        .groupby("key")
        .agg(refunded=("amount_minor", "sum"), refunds=("amount_minor", "size"))
    )
    orders = amazon.join(captures, how="outer").join(refunds, how="outer").fillna(0)
    fulfilled = orders["amazon_rows"] > 0
    exceptions = pd.concat(
        [
            orders[(orders["captures"] > 0) & ~fulfilled].assign(reason="captured_not_fulfilled"),
            orders[fulfilled & (orders["captures"] == 0)].assign(reason="fulfilled_not_captured"),
            orders[orders["captures"] > 1].assign(reason="duplicate_capture"),
            orders[(orders["refunds"] > 0) & (orders["return_rows"] == 0)].assign(
                reason="refund_without_return"
            ),
        ]
    )
    refund_without_return = (orders["refunds"] > 0) & (orders["return_rows"] == 0)
    matched = int(
        ((orders["captures"] == 1) & (orders["amazon_rows"] > orders["return_rows"])
         & ~refund_without_return).sum()
    )  # fmt: skip
    unmapped = sum(
        1
        for amount_type, description in by_type.index
        if (amount_type, description) not in exact and (amount_type, "*") not in exact
    )
    out = folder / "out-pandas"
    out.mkdir(exist_ok=True)
    exceptions.to_csv(out / "exceptions.csv")
    pd.DataFrame(journal, columns=["account", "memo", "amount_minor"]).to_csv(
        out / "journal.csv", index=False
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": len(rows) + len(batch),
        "exceptions": len(exceptions) + unmapped + (0 if total_ok else 1),
        "matched": matched,
        "fees_minor": int(batch["fee"].sum()),
    }


def _child(implementation: str, folder: Path) -> None:
    figures = run_ours(folder) if implementation == "ours" else run_pandas(folder)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures["peak_rss_mb"] = usage.ru_maxrss / 1024
    figures["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # imports included
    print(json.dumps(figures))


def _measure(implementation: str, folder: Path) -> dict[str, float]:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(HERE), "--child", implementation, "--data", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="settlement rows to generate")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each, alternating; the fastest counts"
    )
    parser.add_argument("--child", choices=("ours", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        _child(arguments.child, arguments.data)
        return
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as temporary:
        folder = Path(temporary)
        started = time.perf_counter()
        counts = generate(arguments.rows, folder)
        print(
            f"generated {counts['settlement_rows']:,} settlement rows and "
            f"{counts['batch_transactions']:,} batch transactions for {counts['orders']:,} "
            f"orders in {time.perf_counter() - started:.1f} s "
            f"({(folder / 'settlement.txt').stat().st_size / 1e6:.0f} MB + "
            f"{(folder / 'batch.xml').stat().st_size / 1e6:.0f} MB)"
        )
        # Alternate the runs and keep each one's fastest: the machine may be shared.
        runs: dict[str, list[dict[str, float]]] = {"ours": [], "pandas": []}
        for _ in range(arguments.repeat):
            for name in runs:
                runs[name].append(_measure(name, folder))
        results = {name: min(found, key=lambda r: r["seconds"]) for name, found in runs.items()}
        for name, found in runs.items():
            results[name]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in found)
    print(f"{'':24}{'ours':>14}{'pandas':>14}")
    for label, key, fmt in (
        ("input rows", "rows", "{:>14,.0f}"),
        ("seconds (best)", "seconds", "{:>14.2f}"),
        ("CPU seconds", "cpu_seconds", "{:>14.2f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:>14.1f}"),
        ("exceptions", "exceptions", "{:>14,.0f}"),
        ("matched orders", "matched", "{:>14,.0f}"),
        ("Opayo fees (minor)", "fees_minor", "{:>14,.0f}"),
    ):
        print(f"{label:24}" + "".join(fmt.format(results[n][key]) for n in ("ours", "pandas")))
    rates = {n: results[n]["rows"] / results[n]["seconds"] for n in results}
    print(f"{'rows per second':24}" + "".join(f"{rates[n]:>14,.0f}" for n in ("ours", "pandas")))
    speed = rates["ours"] / rates["pandas"]
    memory = results["ours"]["peak_rss_mb"] / results["pandas"]["peak_rss_mb"]
    print(f"ours is {speed:.2f}x the speed of pandas at {memory:.2f}x its peak memory")


if __name__ == "__main__":
    main()
