"""Deterministic STEDI-shaped landing data, with the answers worked out beforehand.

``generate(out_dir, scale, seed, malformed)`` writes JSON Lines files laid out like the real
STEDI starter data::

    out_dir/customer/landing/customer-<epochms>.json            (1 file)
    out_dir/accelerometer/landing/accelerometer-<epochms>.json  (>= 2 files, <= 10,000 rows each)
    out_dir/step_trainer/landing/step_trainer-<epochms>.json    (>= 2 files, <= 10,000 rows each)
    out_dir/manifest.json                                       (the expected results)

and returns a :class:`Manifest` holding the row count every table of the lakehouse should end up
with, computed here in plain Python from the very records written, so that a test can hold a
Spark run against it.

What the data imitates (scale 1 is about the size of the real data: 956 customers):

* customers: about half consent to research; a consent date key is *absent*, never null, when
  the customer did not consent. Emails and serial numbers are unique. A few customers (about 2%)
  have no readings at all.
* every customer with readings has 30 distinct reading timestamps, spaced regularly over 1-2
  minutes and ending about 70 s after the registration; usually 3 accelerometer rows (distinct
  x/y/z) share one timestamp, sometimes 2, rarely 1 or 4. No two accelerometer rows are
  identical.
* the customer's step trainer has one reading at each of those timestamps, so every step trainer
  reading has phone readings of its owner at the same moment.
* about 5% of timestamps are shared by more than one user, so joining step trainer to
  accelerometer on the timestamp alone gives more rows than joining on timestamp and owner.
* most consenting customers have some readings before their ``shareWithResearchAsOfDate``, and
  a few have a reading at exactly that millisecond (kept by a ``>=`` filter, dropped by ``>``).
* a few malformed lines sit in the middle of the files: truncated JSON everywhere, and in the
  accelerometer files a line whose ``x`` is the string ``"abc"``. They count toward nothing.

Same ``(scale, seed, malformed)`` gives byte-identical files, and the valid lines do not depend on
``malformed`` at all (a malformed line is made from the valid line just before it). Only the
standard library is used and the files are written as a stream, a customer at a time; scale 50
(about 5.4 million lines, 500 MB) takes about 10 s and 120 MB of memory on one core.

The proportions above are named constants in ``customers`` (customer records) and ``readings``
(timestamps, accelerometer and step trainer lines); ``files`` splits the lines into landing
files and plants the malformed ones; ``manifest`` is the answer sheet.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

from lakehouse.sample.customers import Customer, consent_and_readings_flags, customer_records
from lakehouse.sample.files import (
    CUSTOMER_FILE_EPOCH_MS, DEFAULT_MALFORMED, ROWS_PER_FILE, SOURCES, LandingFileWriter,
    file_epochs, malformed_accelerometer_line, malformed_per_source, prepare_landing_folders,
    split_into_files, truncated_line,
)
from lakehouse.sample.manifest import Manifest
from lakehouse.sample.readings import ScheduleReplay, reading_lines

__all__ = [
    "Manifest", "generate", "SOURCES", "REAL_CUSTOMERS", "ROWS_PER_FILE", "DEFAULT_MALFORMED",
]


#: customers at scale 1, the size of the real customer file.
REAL_CUSTOMERS = 956
#: smallest number of customers written, whatever the scale (more than the four whose flags
#: ``consent_and_readings_flags`` may force).
MIN_CUSTOMERS = 6
# rows_by_timestamp packs two counters in one int: trusted step trainer rows above this bit,
# trusted accelerometer rows below it (one int per timestamp keeps the dict small at large scale)
_STEP_ROWS_SHIFT = 32
_ACC_ROWS_MASK = (1 << _STEP_ROWS_SHIFT) - 1


def generate(
    out_dir: Path | str, scale: float = 1.0, seed: int = 7, malformed: int | None = None
) -> Manifest:
    """Write STEDI-shaped landing data under ``out_dir`` and return the expected results.

    ``scale`` 1.0 is about the real data (956 customers, ~80k accelerometer rows, ~28k step
    trainer rows); the customer count is ``max(6, round(956 * scale))`` and everything else grows
    with it. ``malformed`` is the number of malformed lines per source (None: 2 customer,
    3 accelerometer, 3 step trainer; 0: none). Old ``*.json`` files in the three landing folders
    and ``out_dir/manifest.json`` are removed first. The manifest is also written to
    ``out_dir/manifest.json``.
    """
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
        raise ValueError(f"scale must be a number > 0, got {scale!r}")
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale!r}")
    n_bad = malformed_per_source(malformed)
    out_dir = Path(out_dir)
    folders = prepare_landing_folders(out_dir)
    rng = random.Random(seed)
    n = max(MIN_CUSTOMERS, round(REAL_CUSTOMERS * scale))
    research, has_readings = consent_and_readings_flags(rng, n)

    # pass 1: customers (written now), and the size of every user's readings, which the file
    # split needs before the first reading line is written
    customers: list[Customer] = []
    acc_total = step_total = 0
    schedules = ScheduleReplay()
    cust_writer = LandingFileWriter(
        folders["customer"], "customer", [CUSTOMER_FILE_EPOCH_MS], n, n, n_bad["customer"],
        truncated_line,
    )
    for customer, line in customer_records(rng, n, research, has_readings):
        cust_writer.write([line])
        customers.append(customer)
        if customer.has_readings:
            _, ts, rows = schedules.next(customer)
            acc_total += sum(rows)
            step_total += len(ts)
    cust_files = cust_writer.close()

    acc_per_file, acc_n_files = split_into_files(acc_total)
    step_per_file, step_n_files = split_into_files(step_total)
    acc_epochs = file_epochs(rng, CUSTOMER_FILE_EPOCH_MS, acc_n_files)
    step_epochs = file_epochs(rng, acc_epochs[-1], step_n_files)
    acc_writer = LandingFileWriter(
        folders["accelerometer"], "accelerometer", acc_epochs, acc_per_file, acc_total,
        n_bad["accelerometer"], malformed_accelerometer_line,
    )
    step_writer = LandingFileWriter(
        folders["step_trainer"], "step_trainer", step_epochs, step_per_file, step_total,
        n_bad["step_trainer"], truncated_line,
    )

    # pass 2: readings, replaying the same schedules, and the expected counts
    counts = {
        "customer_landing": n, "accelerometer_landing": 0, "step_trainer_landing": 0,
        "customer_trusted": 0, "accelerometer_trusted": 0, "customer_curated": 0,
        "step_trainer_trusted": 0, "machine_learning_curated": 0,
    }
    after_consent = {"accelerometer_trusted": 0, "customer_curated": 0,
                     "step_trainer_trusted": 0, "machine_learning_curated": 0}
    # timestamp -> (trusted step rows << _STEP_ROWS_SHIFT) | trusted accelerometer rows
    rows_by_timestamp: dict[int, int] = {}
    schedules = ScheduleReplay()
    for customer in customers:
        trusted = customer.research_consent is not None
        counts["customer_trusted"] += trusted
        if not customer.has_readings:
            continue
        customer_rng, ts, rows = schedules.next(customer)
        acc, step = reading_lines(customer_rng, customer, ts, rows)
        acc_writer.write(acc)
        step_writer.write(step)
        counts["accelerometer_landing"] += len(acc)
        counts["step_trainer_landing"] += len(step)
        if not trusted:
            continue
        rows_at = dict(zip(ts, rows))  # accelerometer rows of this user at each timestamp
        step_ts = set(ts)  # one step reading at each of the user's timestamps
        counts["accelerometer_trusted"] += len(acc)
        if acc:
            counts["customer_curated"] += 1
            counts["step_trainer_trusted"] += len(step)
            counts["machine_learning_curated"] += sum(rows_at.get(t, 0) for t in step_ts)
            for t in step_ts:
                rows_by_timestamp[t] = rows_by_timestamp.get(t, 0) + (1 << _STEP_ROWS_SHIFT)
        for t, n_rows in rows_at.items():
            rows_by_timestamp[t] = rows_by_timestamp.get(t, 0) + n_rows
        after = {t: n_rows for t, n_rows in rows_at.items() if t >= customer.research_consent}
        after_consent["accelerometer_trusted"] += sum(after.values())
        if after:
            after_consent["customer_curated"] += 1
            after_consent["step_trainer_trusted"] += len(step)
            after_consent["machine_learning_curated"] += sum(after.get(t, 0) for t in step_ts)
    acc_files = acc_writer.close()
    step_files = step_writer.close()

    counts["machine_learning_curated_timestamp_only"] = sum(
        (v >> _STEP_ROWS_SHIFT) * (v & _ACC_ROWS_MASK) for v in rows_by_timestamp.values()
    )
    counts["after_consent"] = after_consent
    manifest = Manifest(
        scale=float(scale),
        seed=seed,
        files={"customer": cust_files, "accelerometer": acc_files, "step_trainer": step_files},
        malformed={
            "customer": cust_writer.n_bad_written,
            "accelerometer": acc_writer.n_bad_written,
            "step_trainer": step_writer.n_bad_written,
        },
        counts=counts,
    )
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return manifest
