"""The sample's readings: each user's timestamps, its accelerometer lines and step trainer lines."""
from __future__ import annotations

import json
import random
from collections import deque
from typing import Callable

from lakehouse.sample.customers import Customer, Role

#: every real user has exactly 30 distinct reading timestamps.
TIMESTAMPS_PER_USER = 30
#: real readings are 2.0-4.0 s apart, regularly, within one user.
INTERVAL_MIN_MS = 2000
INTERVAL_SPREAD_MS = 1850
#: most real users' readings end 65-73.5 s after their registration.
LAST_READING_MIN_MS = 65_000
LAST_READING_SPREAD_MS = 8_500
#: the first sharer's readings start 20-50 s before its consent, so some fall before it.
FIRST_SHARER_LEAD_MIN_MS = 20_000
FIRST_SHARER_LEAD_SPREAD_MS = 30_000
#: chance a timestamp is taken from a recent other user: about 5% of the real timestamps are
#: shared by more than one user.
P_BORROW = 0.052
#: how many recent users a borrowed timestamp may come from.
BORROW_POOL = 40
#: one reading exactly at the registration (often the consent) ms: one real user has one; made
#: commoner here so that a ``>`` consent filter loses rows a ``>=`` one keeps.
P_AT_REGISTRATION = 0.01
# Accelerometer rows sharing one timestamp, as cumulative shares of the real timestamps:
#: 83.65% of real timestamps have 3 rows,
P_3_ROWS = 0.8365
#: 16% have 2 (cumulative 99.65%),
P_3_OR_2_ROWS = 0.9965
#: 0.3% have 1 (cumulative 99.95%); the rest have 4.
P_3_2_OR_1_ROWS = 0.9995
#: an x/y/z triple not made of -1.0 / 0.0 / 1.0; the real data holds only those three values,
#: a few others keep consumers from relying on it.
P_ODD_VALUE = 0.01
#: such odd values are uniform in [-2.0, 2.0) with 2 decimals.
ODD_VALUE_MAX = 2.0
ODD_VALUE_SPAN = 4.0
ODD_VALUE_DECIMALS = 2
#: real distanceFromObject values are integers from 201 to 300.
DISTANCE_MIN = 201
DISTANCE_SPREAD = 100

_UNIT = (-1.0, 0.0, 1.0)
# the 27 x/y/z triples made of -1.0, 0.0, 1.0, already in JSON (compact separators)
_TRIPLES = tuple(
    f'"x":{x!r},"y":{y!r},"z":{z!r}' for x in _UNIT for y in _UNIT for z in _UNIT
)


def reading_schedule(
    customer_rng: random.Random,
    registration: int,
    pool: deque[list[int]],
    force_before: bool,
    borrow_from: list[int] | None,
) -> tuple[list[int], list[int]]:
    """A user's reading timestamps and how many accelerometer rows each one gets."""
    draw = customer_rng.random
    interval = INTERVAL_MIN_MS + int(draw() * INTERVAL_SPREAD_MS)
    if force_before:  # readings start well before the consent and end after it
        start = registration - FIRST_SHARER_LEAD_MIN_MS - int(draw() * FIRST_SHARER_LEAD_SPREAD_MS)
    else:
        start = (
            registration + LAST_READING_MIN_MS + int(draw() * LAST_READING_SPREAD_MS)
            - (TIMESTAMPS_PER_USER - 1) * interval
        )
    ts = [start + j * interval for j in range(TIMESTAMPS_PER_USER)]
    seen = set(ts)

    def take(j: int, t: int) -> None:
        if t not in seen:  # the user's timestamps stay distinct
            seen.discard(ts[j])
            ts[j] = t
            seen.add(t)

    if pool:
        for j in range(TIMESTAMPS_PER_USER):
            if draw() < P_BORROW:
                src = pool[int(draw() * len(pool))]
                take(j, src[int(draw() * len(src))])
    if borrow_from:
        take(int(draw() * TIMESTAMPS_PER_USER), borrow_from[int(draw() * len(borrow_from))])
    if force_before or draw() < P_AT_REGISTRATION:  # a reading at the very registration ms
        j = min(TIMESTAMPS_PER_USER - 1, max(0, round((registration - start) / interval)))
        take(j, registration)
    rows = []
    for _ in ts:
        share = draw()
        rows.append(
            3 if share < P_3_ROWS else 2 if share < P_3_OR_2_ROWS else 1 if share < P_3_2_OR_1_ROWS
            else 4
        )
    return ts, rows


class ScheduleReplay:
    """Replays every user's schedule in order; it depends on the users before (borrowing), so
    both passes over the customers must go through all of them in the same order."""

    def __init__(self) -> None:
        self.pool: deque[list[int]] = deque(maxlen=BORROW_POOL)
        self.first_sharer_ts: list[int] | None = None

    def next(self, customer: Customer) -> tuple[random.Random, list[int], list[int]]:
        """This customer's random.Random (to draw its readings next), timestamps and rows."""
        customer_rng = random.Random(customer.readings_seed)
        ts, rows = reading_schedule(
            customer_rng,
            customer.registration,
            self.pool,
            customer.role == Role.FIRST_SHARER,
            self.first_sharer_ts if customer.role == Role.SECOND_SHARER else None,
        )
        self.pool.append(ts)
        if customer.role == Role.FIRST_SHARER:
            self.first_sharer_ts = ts
        return customer_rng, ts, rows


def _odd_triple(draw: Callable[[], float]) -> str:
    vals = []
    for _ in range(3):
        value = round(draw() * ODD_VALUE_SPAN - ODD_VALUE_MAX, ODD_VALUE_DECIMALS) or 0.0  # no -0.0
        vals.append(float(value))
    return f'"x":{vals[0]!r},"y":{vals[1]!r},"z":{vals[2]!r}'


def reading_lines(
    customer_rng: random.Random, customer: Customer, ts: list[int], rows: list[int]
) -> tuple[list[str], list[str]]:
    """The accelerometer lines and step trainer lines of one user."""
    draw = customer_rng.random
    head = '{"user":' + customer.email_json + ',"timestamp":'
    acc: list[str] = []
    for t, n_rows in zip(ts, rows):
        chosen: list[str] = []
        while len(chosen) < n_rows:  # no two rows of a user are identical
            if draw() < P_ODD_VALUE:
                triple = _odd_triple(draw)
            else:
                triple = _TRIPLES[int(draw() * len(_TRIPLES))]
            if triple not in chosen:
                chosen.append(triple)
        prefix = f"{head}{t},"
        acc.extend(prefix + triple + "}" for triple in chosen)
    customer_rng.shuffle(acc)
    # step readings in the order their timestamps first show up among the phone's rows
    order: dict[int, None] = {}
    tpos = len(head)
    for line in acc:
        order[int(line[tpos : line.index(",", tpos)])] = None
    serial = json.dumps(customer.serial)
    step = [
        f'{{"sensorReadingTime":{t},"serialNumber":{serial},'
        f'"distanceFromObject":{DISTANCE_MIN + int(draw() * DISTANCE_SPREAD)}}}'
        for t in order
    ]
    return acc, step
