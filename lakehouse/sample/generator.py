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
"""
from __future__ import annotations

import json
import math
import random
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from lakehouse.sample.files import (DEFAULT_MALFORMED, ROWS_PER_FILE, SOURCES, _acc_bad, _count_malformed,
                                    _epochs, _per_file, _prepare, _SplitWriter, _truncate)
from lakehouse.sample.manifest import Manifest

__all__ = ["Manifest", "generate", "SOURCES", "REAL_CUSTOMERS", "ROWS_PER_FILE", "DEFAULT_MALFORMED"]


#: customers at scale 1, the size of the real customer file.
REAL_CUSTOMERS = 956
#: smallest number of customers written, whatever the scale.
MIN_CUSTOMERS = 6

_TIMESTAMPS_PER_USER = 30
_P_RESEARCH = 0.504
_P_PUBLIC = 0.514
_P_FRIENDS = 0.531
_P_NO_READINGS = 0.02
_P_LATE_UPDATE = 0.046  # lastUpdateDate (and the consent dates) about a minute after registration
_P_BORROW = 0.052  # a timestamp slot takes a timestamp of a recent other user
_BORROW_POOL = 40  # how many recent users a borrowed timestamp may come from
_P_AT_REGISTRATION = 0.01  # one reading exactly at the registration (often the consent) ms
_P_ODD_VALUE = 0.01  # an x/y/z triple that is not made of -1.0 / 0.0 / 1.0
_T0 = 1_655_561_994_131  # first registration of the real data (2022-06-18)
_FILE_EPOCH0 = 1_691_348_231_425  # suffix of the real customer file
_PHONE = "8015551212"

_FIRST = (
    "Angie Ashley Ben Bobby Chris Christina Craig Dan Danny David Edward Eric Frank Gail Jacob "
    "Jane Jason Jaya Jerry John Larry Liz Lyn Manoj Neeraj Santosh Sarah Sean Senthil Spencer "
    "Suresh Travis Trevor"
).split()
_LAST = (
    "Abram Ahmed Anandh Anderson Aristotle Clark Clayton Davis Doshi Fibonnaci Gonzalez Habschied "
    "Hansen Harris Howard Huey Jackson Jefferson Jones Khatib Lincoln Mitra Olson Phillips Sanchez "
    "Smith Spencer Staples Wu"
).split()

_UNIT = (-1.0, 0.0, 1.0)
# the 27 x/y/z triples made of -1.0, 0.0, 1.0, already in JSON (compact separators)
_TRIPLES = tuple(
    f'"x":{x!r},"y":{y!r},"z":{z!r}' for x in _UNIT for y in _UNIT for z in _UNIT
)



@dataclass(slots=True)
class _Customer:
    email_json: str  # the email already JSON-encoded, quotes included
    serial: str
    reg: int
    consent: int | None  # shareWithResearchAsOfDate, None when absent
    readings: bool
    seed: int  # seed of this customer's readings
    role: int = 0  # 1: first trusted user with readings, 2: second one


def _flags(rng: random.Random, n: int) -> tuple[list[bool], list[bool]]:
    """Research consent and has-readings flags; small draws are patched so that at least two
    consenting and two non-consenting customers have readings."""
    research = [rng.random() < _P_RESEARCH for _ in range(n)]
    readings = [rng.random() >= _P_NO_READINGS for _ in range(n)]
    trusted_with = sum(r and h for r, h in zip(research, readings))
    others_with = sum((not r) and h for r, h in zip(research, readings))
    if trusted_with < 2 or others_with < 2:
        for i, consent in enumerate((True, False, True, False)):
            research[i], readings[i] = consent, True
    return research, readings


def _schedule(
    crng: random.Random,
    reg: int,
    pool: deque[list[int]],
    force_before: bool,
    borrow_from: list[int] | None,
) -> tuple[list[int], list[int]]:
    """A user's reading timestamps and how many accelerometer rows each one gets."""
    interval = 2000 + int(crng.random() * 1850)
    if force_before:  # readings start well before the consent and end after it
        start = reg - 20_000 - int(crng.random() * 30_000)
    else:  # like the real data: readings end 65-73 s after the registration
        start = reg + 65_000 + int(crng.random() * 8_500) - (_TIMESTAMPS_PER_USER - 1) * interval
    ts = [start + j * interval for j in range(_TIMESTAMPS_PER_USER)]
    seen = set(ts)

    def take(j: int, t: int) -> None:
        if t not in seen:
            seen.discard(ts[j])
            ts[j] = t
            seen.add(t)

    rnd = crng.random
    if pool:
        for j in range(_TIMESTAMPS_PER_USER):
            if rnd() < _P_BORROW:
                src = pool[int(rnd() * len(pool))]
                take(j, src[int(rnd() * len(src))])
    if borrow_from:
        take(int(rnd() * _TIMESTAMPS_PER_USER), borrow_from[int(rnd() * len(borrow_from))])
    if force_before or rnd() < _P_AT_REGISTRATION:  # a reading at the very registration ms
        j = min(_TIMESTAMPS_PER_USER - 1, max(0, round((reg - start) / interval)))
        take(j, reg)
    counts = []
    for _ in ts:
        r = rnd()
        counts.append(3 if r < 0.8365 else 2 if r < 0.9965 else 1 if r < 0.9995 else 4)
    return ts, counts


class _Schedules:
    """Replays every user's schedule in order; it depends on the users before (borrowing)."""

    def __init__(self) -> None:
        self.pool: deque[list[int]] = deque(maxlen=_BORROW_POOL)
        self.first_trusted: list[int] | None = None

    def next(self, c: _Customer) -> tuple[random.Random, list[int], list[int]]:
        crng = random.Random(c.seed)
        ts, counts = _schedule(
            crng, c.reg, self.pool, c.role == 1, self.first_trusted if c.role == 2 else None
        )
        self.pool.append(ts)
        if c.role == 1:
            self.first_trusted = ts
        return crng, ts, counts



def _customers(
    rng: random.Random, n: int, research: list[bool], readings: list[bool]
) -> Iterator[tuple[_Customer, str]]:
    """Customers in registration order, each with its JSON line (default separators)."""
    combos = [(f, l) for f in _FIRST for l in _LAST]
    rng.shuffle(combos)
    serials: set[str] = set()
    reg = _T0
    role = 0
    for i in range(n):
        first, last = combos[i % len(combos)]
        rnd = i // len(combos)
        email = f"{first}.{last}{rnd + 1 if rnd else ''}@test.com"
        while True:
            serial = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            if serial not in serials:
                serials.add(serial)
                break
        year = 1000 + int(rng.random() * 965)
        if i:
            reg += 1 + int(rng.random() * 5130)
        r = rng.random()
        update = reg + 55_000 + int(rng.random() * 15_000) if r < _P_LATE_UPDATE else reg
        public = rng.random() < _P_PUBLIC
        friends = rng.random() < _P_FRIENDS
        seed = rng.getrandbits(64)
        this_role = 0
        if research[i] and readings[i] and role < 2:
            role += 1
            this_role = role
            if role == 1:
                update = reg  # consent at registration, readings straddle it
        rec: dict[str, Any] = {
            "customerName": f"{first} {last}",
            "email": email,
            "phone": _PHONE,
            "birthDay": f"{year:04d}-01-01",
            "serialNumber": serial,
            "registrationDate": reg,
            "lastUpdateDate": update,
        }
        if research[i]:
            rec["shareWithResearchAsOfDate"] = update
        if public:
            rec["shareWithPublicAsOfDate"] = update
        if friends:
            rec["shareWithFriendsAsOfDate"] = update
        cust = _Customer(
            email_json=json.dumps(email),
            serial=serial,
            reg=reg,
            consent=update if research[i] else None,
            readings=readings[i],
            seed=seed,
            role=this_role,
        )
        yield cust, json.dumps(rec)


def _odd_triple(rnd: Callable[[], float]) -> str:
    vals = []
    for _ in range(3):
        v = round(rnd() * 4.0 - 2.0, 2) or 0.0  # `or 0.0` turns -0.0 into 0.0
        vals.append(float(v))
    return f'"x":{vals[0]!r},"y":{vals[1]!r},"z":{vals[2]!r}'


def _readings(
    crng: random.Random, c: _Customer, ts: list[int], counts: list[int]
) -> tuple[list[str], list[str]]:
    """The accelerometer lines and step trainer lines of one user."""
    rnd = crng.random
    head = '{"user":' + c.email_json + ',"timestamp":'
    acc: list[str] = []
    for t, k in zip(ts, counts):
        chosen: list[str] = []
        while len(chosen) < k:
            triple = _odd_triple(rnd) if rnd() < _P_ODD_VALUE else _TRIPLES[int(rnd() * 27)]
            if triple not in chosen:
                chosen.append(triple)
        prefix = f"{head}{t},"
        acc.extend(prefix + triple + "}" for triple in chosen)
    crng.shuffle(acc)
    # step readings in the order their timestamps first show up among the phone's rows
    order: dict[int, None] = {}
    tpos = len(head)
    for line in acc:
        order[int(line[tpos : line.index(",", tpos)])] = None
    serial = json.dumps(c.serial)
    step = [
        f'{{"sensorReadingTime":{t},"serialNumber":{serial},'
        f'"distanceFromObject":{201 + int(rnd() * 100)}}}'
        for t in order
    ]
    return acc, step


# --------------------------------------------------------------------------------------------
# public


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
    n_bad = _count_malformed(malformed)
    out_dir = Path(out_dir)
    folders = _prepare(out_dir)
    rng = random.Random(seed)
    n = max(MIN_CUSTOMERS, round(REAL_CUSTOMERS * scale))
    research, has_readings = _flags(rng, n)

    # pass 1: customers (written now), and the size of every user's readings
    customers: list[_Customer] = []
    acc_total = step_total = 0
    schedules = _Schedules()
    cust_writer = _SplitWriter(
        folders["customer"], "customer", [_FILE_EPOCH0], n, n, n_bad["customer"], _truncate
    )
    for cust, line in _customers(rng, n, research, has_readings):
        cust_writer.write([line])
        customers.append(cust)
        if cust.readings:
            _, ts, counts = schedules.next(cust)
            acc_total += sum(counts)
            step_total += len(ts)
    cust_files = cust_writer.close()

    acc_per_file, acc_n = _per_file(acc_total)
    step_per_file, step_n = _per_file(step_total)
    acc_epochs = _epochs(rng, _FILE_EPOCH0, acc_n)
    step_epochs = _epochs(rng, acc_epochs[-1], step_n)
    acc_writer = _SplitWriter(
        folders["accelerometer"], "accelerometer", acc_epochs, acc_per_file, acc_total,
        n_bad["accelerometer"], _acc_bad,
    )
    step_writer = _SplitWriter(
        folders["step_trainer"], "step_trainer", step_epochs, step_per_file, step_total,
        n_bad["step_trainer"], _truncate,
    )

    # pass 2: readings, replaying the same schedules, and the expected counts
    c_ = {
        "customer_landing": n, "accelerometer_landing": 0, "step_trainer_landing": 0,
        "customer_trusted": 0, "accelerometer_trusted": 0, "customer_curated": 0,
        "step_trainer_trusted": 0, "machine_learning_curated": 0,
    }
    ac = {"accelerometer_trusted": 0, "customer_curated": 0, "step_trainer_trusted": 0,
          "machine_learning_curated": 0}
    # timestamp -> (trusted step rows << 32) | trusted accelerometer rows
    by_ts: dict[int, int] = {}
    schedules = _Schedules()
    for cust in customers:
        trusted = cust.consent is not None
        c_["customer_trusted"] += trusted
        if not cust.readings:
            continue
        crng, ts, counts = schedules.next(cust)
        acc, step = _readings(crng, cust, ts, counts)
        acc_writer.write(acc)
        step_writer.write(step)
        c_["accelerometer_landing"] += len(acc)
        c_["step_trainer_landing"] += len(step)
        if not trusted:
            continue
        rows_at = dict(zip(ts, counts))  # accelerometer rows of this user at each timestamp
        step_ts = set(ts)  # one step reading at each of the user's timestamps
        c_["accelerometer_trusted"] += len(acc)
        if acc:
            c_["customer_curated"] += 1
            c_["step_trainer_trusted"] += len(step)
            c_["machine_learning_curated"] += sum(rows_at.get(t, 0) for t in step_ts)
            for t in step_ts:
                by_ts[t] = by_ts.get(t, 0) + (1 << 32)
        for t, k in rows_at.items():
            by_ts[t] = by_ts.get(t, 0) + k
        after = {t: k for t, k in rows_at.items() if t >= cust.consent}
        ac["accelerometer_trusted"] += sum(after.values())
        if after:
            ac["customer_curated"] += 1
            ac["step_trainer_trusted"] += len(step)
            ac["machine_learning_curated"] += sum(after.get(t, 0) for t in step_ts)
    acc_files = acc_writer.close()
    step_files = step_writer.close()

    c_["machine_learning_curated_timestamp_only"] = sum(
        (v >> 32) * (v & 0xFFFFFFFF) for v in by_ts.values()
    )
    c_["after_consent"] = ac
    manifest = Manifest(
        scale=float(scale),
        seed=seed,
        files={"customer": cust_files, "accelerometer": acc_files, "step_trainer": step_files},
        malformed={
            "customer": cust_writer.n_bad_written,
            "accelerometer": acc_writer.n_bad_written,
            "step_trainer": step_writer.n_bad_written,
        },
        counts=c_,
    )
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return manifest
