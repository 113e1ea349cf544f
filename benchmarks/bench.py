"""Time a full `run --pipeline all` on generated data, beside a plain hand-written PySpark job.

    make bench               # scale 1 (about the real data's size)
    make bench SCALE=10

The baseline does the same reads, joins and Delta writes with no framework: plain overwrites, no
MERGE, no dedupe, no counts. The ratio engine/baseline is the framework's overhead.
"""
from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "bench")
    args = parser.parse_args()
    console = Console(soft_wrap=True)

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

    table = Table(title=f"scale {args.scale:g}: engine {result.seconds:.1f}s, plain PySpark {plain:.1f}s, "
                        f"ratio {result.seconds / plain:.2f}x")
    for column in ("zone", "rows staged", "seconds", "rows/s", "read", "transform", "validate", "promote"):
        table.add_column(column, justify="left" if column == "zone" else "right")
    for z in result.zones:
        steps = [f"{z.timings.get(s, 0):.1f}" for s in ("read", "transform", "validate", "promote")]
        table.add_row(z.zone, f"{z.rows_staged:,}", f"{z.seconds:.1f}",
                      f"{z.rows_staged / z.seconds:,.0f}" if z.seconds else "-", *steps)
    console.print(table)
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
