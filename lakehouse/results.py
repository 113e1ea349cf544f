"""What a run produced, per zone and per expectation: plain data, imported by everyone, importing nothing.

The engine fills these in; the CLI, the Glue job, the reports and the ledger read them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OK, UP_TO_DATE, FAILED, SKIPPED = "ok", "up to date", "failed", "skipped"
FULL, INCREMENTAL = "full", "incremental"   # how a zone that did work computed its rows


@dataclass
class ExpectationOutcome:
    name: str
    type: str
    action: str
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    taken: str = "none"          # none | reported | quarantined | failed
    condition: str = ""          # Spark SQL selecting the unexpected rows (row-level expectations)
    error: str = ""              # GX could not evaluate the expectation

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["observed_value"] = None if self.observed_value is None else str(self.observed_value)[:200]
        return out


@dataclass(frozen=True)
class FileEntry:
    """A landing file as the store lists it: a changed size or time means changed content."""

    path: str
    size: int
    modified: int  # epoch milliseconds


@dataclass
class ZoneResult:
    zone: str
    table: str
    layer: str
    status: str = "pending"     # ok | up to date | failed | skipped
    mode: str = ""              # full | incremental (zones that did work)
    rows_read: int = 0
    malformed: int = 0          # landing lines that did not fit the schema: in <table>_quarantine
    deduplicated: int | None = None  # landing rows folded into another with the same key
    erased: int = 0             # landing lines of subjects erased on request, left out (lakehouse erase)
    rows_staged: int = 0
    quarantined: int = 0        # staged rows kept out by a quarantine expectation: in <table>_quarantine
    promoted: int = 0           # staged rows that passed the gate and went to the target
    suite: str | None = None
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    files_added: int = 0
    version: int | None = None  # the target's Delta version after the zone
    seconds: float = 0.0
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""
    input_versions: dict[str, int] = field(default_factory=dict)
    input_files: list[FileEntry] = field(default_factory=list)
    started_at: str = ""
    ended_at: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (OK, UP_TO_DATE)


@dataclass
class RunResult:
    run_id: str
    pipeline: str
    zones: list[ZoneResult] = field(default_factory=list)
    seconds: float = 0.0
    full_refresh: bool = False
    data_docs: str | None = None      # the Data Docs index.html
    summary_path: str | None = None   # the run's JSON summary

    @property
    def ok(self) -> bool:
        return all(z.ok for z in self.zones)

    def zone(self, name: str) -> ZoneResult:
        return next(z for z in self.zones if z.zone == name)
