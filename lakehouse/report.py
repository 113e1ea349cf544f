"""Rendering a run's result for people."""
from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from lakehouse.engine import RunResult

_STYLE = {"ok": "green", "failed": "red", "skipped": "yellow"}


def summary_table(result: RunResult) -> Table:
    table = Table(title=f"run {result.run_id}  --pipeline {result.pipeline}  ({result.seconds}s)")
    for column in ("zone", "status", "read", "malformed", "deduped", "staged", "inserted", "updated", "seconds"):
        table.add_column(column, justify="left" if column in ("zone", "status") else "right")
    for z in result.zones:
        def n(v):
            return "-" if v is None or z.status == "skipped" else f"{v:,}"
        table.add_row(z.zone, f"[{_STYLE.get(z.status, '')}]{z.status}[/]", n(z.rows_read), n(z.malformed),
                      n(z.deduplicated), n(z.rows_staged), n(z.inserted), n(z.updated), f"{z.seconds:.1f}")
    return table
