"""Second and later deliveries to a landing folder, as STEDI's sources would send them.

Each function writes one new file (never edits one that landed) and returns what it did, so a
test can check the effect. Customers are read back from the folder itself, so deliveries compose.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path


def _lines(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.json")):
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # the sample's planted malformed lines
            if isinstance(row, dict):
                rows.append(row)
    return rows


def customers(landing: Path) -> dict[str, dict]:
    """Each customer's newest record, by email (as customer_landing keeps them)."""
    latest: dict[str, dict] = {}
    for row in _lines(landing / "customer" / "landing"):
        email = row.get("email")
        if email and (email not in latest or row.get("lastUpdateDate", 0) >= latest[email].get("lastUpdateDate", 0)):
            latest[email] = row
    return latest


def readers(landing: Path) -> set[str]:
    return {r["user"] for r in _lines(landing / "accelerometer" / "landing") if isinstance(r.get("user"), str)}


def _next_file(folder: Path, prefix: str) -> Path:
    stamps = [int(p.stem.rsplit("-", 1)[1]) for p in folder.glob(f"{prefix}-*.json")]
    return folder / f"{prefix}-{max(stamps, default=1_700_000_000_000) + 1000}.json"


def _write(folder: Path, prefix: str, rows: list[dict]) -> Path:
    path = _next_file(folder, prefix)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _newest_update(landing: Path) -> int:
    return max(c.get("lastUpdateDate", 0) for c in customers(landing).values()) + 1000


def update_customer(landing: Path, rng: random.Random) -> dict:
    email = rng.choice(sorted(customers(landing)))
    record = {**customers(landing)[email], "phone": f"801555{rng.randrange(10000):04d}",
              "lastUpdateDate": _newest_update(landing)}
    _write(landing / "customer" / "landing", "customer", [record])
    return {"kind": "update", "email": email}


def withdraw(landing: Path, rng: random.Random) -> dict | None:
    """A consenting customer who has readings takes their consent back."""
    consenting = sorted(e for e, c in customers(landing).items() if c.get("shareWithResearchAsOfDate")
                        and e in readers(landing))
    if not consenting:
        return None
    email = rng.choice(consenting)
    record = {k: v for k, v in customers(landing)[email].items() if k != "shareWithResearchAsOfDate"}
    record["lastUpdateDate"] = _newest_update(landing)
    _write(landing / "customer" / "landing", "customer", [record])
    return {"kind": "withdraw", "email": email, "serialNumber": record.get("serialNumber")}


def consent(landing: Path, rng: random.Random) -> dict | None:
    """A customer who never consented, and already has readings, consents."""
    others = sorted(e for e, c in customers(landing).items() if not c.get("shareWithResearchAsOfDate")
                    and e in readers(landing))
    if not others:
        return None
    email = rng.choice(others)
    stamp = _newest_update(landing)
    record = {**customers(landing)[email], "shareWithResearchAsOfDate": stamp, "lastUpdateDate": stamp}
    _write(landing / "customer" / "landing", "customer", [record])
    return {"kind": "consent", "email": email}


def new_customer(landing: Path, rng: random.Random) -> dict:
    """Someone signs up, consenting to research, and has sent no readings yet."""
    stamp = _newest_update(landing)
    serial = "-".join(f"{rng.getrandbits(4 * n):0{n}x}" for n in (8, 4, 4, 4, 12))
    email = f"newcomer{rng.randrange(10**6)}@example.com"
    record = {"customerName": "New Comer", "email": email, "phone": "8015550100", "birthDay": "1990-01-01",
              "serialNumber": serial, "registrationDate": stamp, "lastUpdateDate": stamp,
              "shareWithResearchAsOfDate": stamp, "shareWithPublicAsOfDate": None, "shareWithFriendsAsOfDate": None}
    _write(landing / "customer" / "landing", "customer", [record])
    return {"kind": "new customer", "email": email, "serialNumber": serial}


def new_readings(landing: Path, rng: random.Random, readings: int = 40,
                 newcomer: tuple[str, str] | None = None, again: int = 5, steps: bool = True) -> dict:
    """New phone readings of consenting customers (with their step trainer readings at the same
    times, unless not ``steps``), plus ``again`` readings that already landed, sent again.
    ``newcomer`` (email, serial): a consenting customer who takes the first of the new timestamps."""
    people = sorted((e, c["serialNumber"]) for e, c in customers(landing).items()
                    if c.get("shareWithResearchAsOfDate") and c.get("serialNumber"))
    acc, trainer = [], []
    base = 1_800_000_000_000 + rng.randrange(10**9)
    for i in range(readings // 4):
        email, serial = newcomer if newcomer and i == 0 else rng.choice(people)
        t = base + i * 1000
        acc += [{"user": email, "timestamp": t, "x": rng.uniform(-1, 1), "y": rng.uniform(-1, 1),
                 "z": rng.uniform(-1, 1)} for _ in range(3)]
        trainer.append({"sensorReadingTime": t, "serialNumber": serial, "distanceFromObject": rng.randrange(300)})
    sent = rng.sample(_lines(landing / "accelerometer" / "landing"), again)
    _write(landing / "accelerometer" / "landing", "accelerometer", acc + sent)
    if steps:
        _write(landing / "step_trainer" / "landing", "step_trainer", trainer)
    return {"kind": "readings", "new": len(acc), "again": len(sent), "steps": trainer}


def redeliver(landing: Path, rng: random.Random) -> dict:
    """A file that already landed arrives again under a new name."""
    folder = landing / "accelerometer" / "landing"
    original = rng.choice(sorted(folder.glob("*.json")))
    shutil.copy(original, _next_file(folder, "accelerometer"))
    return {"kind": "redeliver", "file": original.name}


DELIVERIES = [update_customer, withdraw, consent, new_readings, redeliver]
