"""Time `run --pipeline all` on generated data: full, no-op and a 1 % delivery, beside plain PySpark.

    make bench               # scale 1 (about the real data's size)
    make bench SCALE=10

The baseline does the same reads, joins and Delta writes with no framework: plain overwrites, no
MERGE, no dedupe, no counts. The ratio engine/baseline is the framework's overhead. Then, on the
engine's own clock (Spark already up): a re-run with nothing new (every zone up to date), a
delivery of about 1 % new accelerometer readings in one new file (incremental), and a
--full-refresh over the same files, the work the incremental run avoids.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from lakehouse.config import load_project  # noqa: E402
from lakehouse.engine import run_pipeline  # noqa: E402
from lakehouse.runtime import get_session  # noqa: E402
from lakehouse.sample.generator import generate  # noqa: E402


def baseline(spark, landing: Path, out: Path) -> float:
    """The STEDI pipeline as a plain PySpark job would write it."""
    start = time.perf_counter()
    schemas = {
        "customer": "customerName string, email string, phone string, birthDay string, serialNumber string, "
                    "registrationDate bigint, lastUpdateDate bigint, shareWithResearchAsOfDate bigint, "
                    "shareWithPublicAsOfDate bigint, shareWithFriendsAsOfDate bigint",
        "accelerometer": "user string, timestamp bigint, x double, y double, z double",
        "step_trainer": "sensorReadingTime bigint, serialNumber string, distanceFromObject int",
    }

    def save(df, name):
        df.write.format("delta").mode("overwrite").save(str(out / name))
        return spark.read.format("delta").load(str(out / name))

    land = {k: save(spark.read.schema(s).json(str(landing / k / "landing")), f"{k}_landing") for k, s in schemas.items()}
    customer_trusted = save(land["customer"].where("shareWithResearchAsOfDate IS NOT NULL"), "customer_trusted")
    acc_trusted = save(land["accelerometer"].join(customer_trusted.select("email"),
                                                  land["accelerometer"].user == customer_trusted.email, "left_semi"),
                       "accelerometer_trusted")
    customer_curated = save(customer_trusted.join(acc_trusted, customer_trusted.email == acc_trusted.user,
                                                  "left_semi"), "customer_curated")
    step_trusted = save(land["step_trainer"].join(customer_curated, "serialNumber", "left_semi"), "step_trainer_trusted")
    owners = customer_curated.select("serialNumber", customer_curated.email.alias("owner"))
    ml = (step_trusted.join(owners, "serialNumber")
          .join(acc_trusted, (step_trusted.sensorReadingTime == acc_trusted.timestamp) &
                (owners.owner == acc_trusted.user))
          .drop("owner", "user"))
    save(ml, "machine_learning_curated")
    return time.perf_counter() - start


def one_percent_delivery(landing: Path, readings: int) -> Path:
    """A new accelerometer file: ``readings`` new readings of consenting customers (3 per timestamp)."""
    customers = [json.loads(line) for path in (landing / "customer" / "landing").glob("*.json")
                 for line in path.read_text().splitlines() if line.startswith("{") and line.endswith("}")]
    users = sorted({c["email"] for c in customers if c.get("shareWithResearchAsOfDate") and c.get("email")})
    rng = random.Random(1)
    rows = []
    for i in range(readings // 3):
        user, t = rng.choice(users), 1_900_000_000_000 + i * 200
        rows += [{"user": user, "timestamp": t, "x": rng.uniform(-1, 1), "y": rng.uniform(-1, 1),
                  "z": rng.uniform(-1, 1)} for _ in range(3)]
    path = landing / "accelerometer" / "landing" / "accelerometer-9999999999999.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "bench")
    args = parser.parse_args()
    console = Console(soft_wrap=True, width=160)

    landing = args.work / f"scale-{args.scale:g}"
    if not (landing / "manifest.json").exists():
        with console.status(f"generating scale {args.scale:g}..."):
            generate(landing, scale=args.scale)
    lake = args.work / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    project = load_project(ROOT / "configs" / "stedi", "local", overrides={
        "landing_root": str(landing), "lake_root": str(lake), "database": "stedi_bench",
        "reports_root": str(args.work / "reports")})
    spark = get_session(project.env)
    spark.range(1000).count()  # JVM up before either clock starts

    result = run_pipeline(project, "all", spark=spark)
    plain = baseline(spark, landing, args.work / "baseline")
    noop = run_pipeline(project, "all", spark=spark)
    accelerometer = result.zone("accelerometer_landing").rows_staged
    delivery = one_percent_delivery(landing, accelerometer // 100)
    try:
        incremental = run_pipeline(project, "all", spark=spark)
        refresh = run_pipeline(project, "all", spark=spark, full_refresh=True)
    finally:
        delivery.unlink()  # the generated folder stays as generate() made it, for the next bench

    table = Table(title=f"scale {args.scale:g}: engine {result.seconds:.1f}s, plain PySpark {plain:.1f}s, "
                        f"ratio {result.seconds / plain:.2f}x")
    for column in ("zone", "rows staged", "seconds", "rows/s", "read", "transform", "validate", "promote"):
        table.add_column(column, justify="left" if column == "zone" else "right")
    for z in result.zones:
        steps = [f"{z.timings.get(s, 0):.1f}" for s in ("read", "transform", "validate", "promote")]
        table.add_row(z.zone, f"{z.rows_staged:,}", f"{z.seconds:.1f}",
                      f"{z.rows_staged / z.seconds:,.0f}" if z.seconds else "-", *steps)
    console.print(table)
    figures = Table(title="incremental runs (engine clock, Spark up)")
    for column in ("run", "seconds", "vs full refresh", "zones that did work"):
        figures.add_column(column, justify="left" if column in ("run", "zones that did work") else "right")
    for label, run in (("first run, empty lake", result), ("no-op re-run", noop),
                       (f"1 % delivery ({accelerometer // 100:,} readings, 1 file)", incremental),
                       ("--full-refresh, same files", refresh)):
        worked = [f"{z.zone} ({z.mode} {z.seconds:.1f}s)" for z in run.zones if z.status == "ok"]
        figures.add_row(label, f"{run.seconds:.1f}", f"{run.seconds / refresh.seconds:.0%}", ", ".join(worked) or "-")
    console.print(figures)
    if not all(r.ok for r in (result, noop, incremental, refresh)):
        sys.exit(1)


if __name__ == "__main__":
    main()
