"""Time the engine against a plain PySpark job, whole process against whole process, then the
incremental figures on the engine's own clock.

    make bench               # scale 1 (about the real data's size)
    make bench SCALE=10

1. Pairs: `lakehouse run --pipeline all` into an empty lake, and ``benchmarks/baseline.py`` (the
   same reads, joins and Delta writes with no framework) into an empty folder, each as its own
   process, alternating engine, baseline, engine, baseline... Each side's median wall time and the
   median of the pairwise ratios are the framework's cost, JVM start included on both sides.
2. In one process (Spark up before the clock starts): a first run with its per-zone breakdown
   (read, transform, validate, promote), a re-run with nothing new (every zone up to date), a
   delivery of about 1 % new accelerometer readings in one new file (incremental), and a
   --full-refresh over the same files, the work the incremental run avoids.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from lakehouse.engine import run_pipeline  # noqa: E402
from lakehouse.project import load_project  # noqa: E402
from lakehouse.runtime import get_session  # noqa: E402
from lakehouse.sample.generator import generate  # noqa: E402

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def pairs(landing: Path, work: Path, count: int, console: Console) -> None:
    """Engine and baseline as separate processes, alternating, each from an empty lake."""
    engine, plain = [], []
    for i in range(count):
        lake, out, reports = work / "pair-lake", work / "pair-baseline", work / "pair-reports"
        for folder in (lake, out, reports):  # every pair starts alike: no lake, no reports
            shutil.rmtree(folder, ignore_errors=True)
        env = {**os.environ, "STEDI_LANDING_ROOT": str(landing), "STEDI_LAKE_ROOT": str(lake),
               "STEDI_REPORTS_ROOT": str(reports), "STEDI_DATABASE": "stedi_bench"}
        with console.status(f"pair {i + 1}/{count}: engine..."):
            engine.append(timed([LAKEHOUSE, "run", "--pipeline", "all"], env))
        with console.status(f"pair {i + 1}/{count}: baseline..."):
            plain.append(timed([sys.executable, str(ROOT / "benchmarks" / "baseline.py"), "--landing", str(landing),
                                "--out", str(out)], env))
        console.print(f"pair {i + 1}: engine {engine[-1]:.1f}s, baseline {plain[-1]:.1f}s, "
                      f"ratio {engine[-1] / plain[-1]:.2f}x")
    ratio = statistics.median(e / p for e, p in zip(engine, plain))
    console.print(f"[bold]whole process, {count} pairs: engine median {statistics.median(engine):.1f}s, "
                  f"plain PySpark median {statistics.median(plain):.1f}s, median ratio {ratio:.2f}x[/]")


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
    parser.add_argument("--pairs", type=int, default=None, help="engine/baseline pairs (default 3, 1 above scale 10)")
    args = parser.parse_args()
    console = Console(soft_wrap=True, width=160)

    landing = args.work / f"scale-{args.scale:g}"
    if not (landing / "manifest.json").exists():
        with console.status(f"generating scale {args.scale:g}..."):
            generate(landing, scale=args.scale)
    pairs(landing, args.work, args.pairs or (3 if args.scale <= 10 else 1), console)

    lake, reports = args.work / "lake", args.work / "reports"
    for folder in (lake, reports):
        shutil.rmtree(folder, ignore_errors=True)
    project = load_project(ROOT / "configs" / "stedi", "local", overrides={
        "landing_root": str(landing), "lake_root": str(lake), "database": "stedi_bench",
        "reports_root": str(reports),
        # Four runs in one JVM: a long-lived session, which keeps C2 (see runtime/session.py).
        "spark_conf": {"spark.driver.defaultJavaOptions": ""}})
    spark = get_session(project.env)
    spark.range(1000).count()  # JVM up before either clock starts

    result = run_pipeline(project, "all", spark=spark)
    noop = run_pipeline(project, "all", spark=spark)
    accelerometer = result.zone("accelerometer_landing").rows_staged
    delivery = one_percent_delivery(landing, accelerometer // 100)
    try:
        incremental = run_pipeline(project, "all", spark=spark)
        refresh = run_pipeline(project, "all", spark=spark, full_refresh=True)
    finally:
        delivery.unlink()  # the generated folder stays as generate() made it, for the next bench

    shared = project.env.parallel_zones
    table = Table(title=f"scale {args.scale:g}, first run into an empty lake: {result.seconds:.1f}s "
                        "(engine clock, Spark up)" + (f"; up to {shared} zones at once, so a zone's seconds "
                                                      "include time it shared the cores" if shared > 1 else ""))
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
