"""The STEDI pipeline as a plain hand-written PySpark job: the yardstick for the framework's cost.

Same reads, joins and Delta writes as the zones, with no framework: overwrites, no MERGE, no
dedupe, no quality gate, no counts. Run as its own process by ``bench.py`` (so it pays for its own
JVM, as the engine does), with the same Spark settings as the engine's session:

    python benchmarks/baseline.py --landing data/bench/scale-1 --out /tmp/baseline
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCHEMAS = {
    "customer": "customerName string, email string, phone string, birthDay string, serialNumber string, "
                "registrationDate bigint, lastUpdateDate bigint, shareWithResearchAsOfDate bigint, "
                "shareWithPublicAsOfDate bigint, shareWithFriendsAsOfDate bigint",
    "accelerometer": "user string, timestamp bigint, x double, y double, z double",
    "step_trainer": "sensorReadingTime bigint, serialNumber string, distanceFromObject int",
}


def baseline(spark, landing: Path, out: Path) -> float:
    """Seconds the job takes once Spark is up."""
    start = time.perf_counter()

    def save(df, name):
        df.write.format("delta").mode("overwrite").save(str(out / name))
        return spark.read.format("delta").load(str(out / name))

    land = {k: save(spark.read.schema(s).json(str(landing / k / "landing")), f"{k}_landing") for k, s in SCHEMAS.items()}
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
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from lakehouse.project import load_project
    from lakehouse.runtime import get_session

    # The engine's Spark settings (Delta jars, shuffle partitions...), so only the work differs.
    project = load_project(ROOT / "configs" / "stedi", "local", with_suites=False)
    seconds = baseline(get_session(project.env), args.landing, args.out)
    print(f"baseline: {seconds:.2f}s after Spark start")


if __name__ == "__main__":
    main()
