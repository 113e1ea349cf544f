"""Rendering a run for people: the per-zone summary and the expectation results."""
from __future__ import annotations

from typing import Any

from rich.table import Table

_STYLE = {"ok": "green", "failed": "red", "skipped": "yellow"}
_TAKEN = {"none": "green", "reported": "yellow", "quarantined": "magenta", "failed": "red"}


def summary_table(run: Any) -> Table:
    """Per zone: where its rows went, and where its time went. Takes a RunResult or its dict."""
    run = run if isinstance(run, dict) else _as_dict(run)
    table = Table(title=f"run {run['run_id']}  --pipeline {run['pipeline']}  ({run['seconds']}s)")
    columns = ("zone", "status", "read", "malformed", "deduped", "staged", "quarantined", "promoted",
               "inserted", "updated", "seconds", "validate")
    for column in columns:
        table.add_column(column, justify="left" if column in ("zone", "status") else "right")
    for z in run["zones"]:
        def n(v):
            return "-" if v is None or z["status"] == "skipped" else f"{v:,}"
        share = z["timings"].get("validate", 0) / z["seconds"] if z["seconds"] else 0
        table.add_row(z["zone"], f"[{_STYLE.get(z['status'], '')}]{z['status']}[/]", n(z["rows_read"]),
                      n(z["malformed"]), n(z["deduplicated"]), n(z["rows_staged"]), n(z["quarantined"]),
                      n(z["promoted"]), n(z["inserted"]), n(z["updated"]), f"{z['seconds']:.1f}",
                      "-" if z["status"] == "skipped" else f"{share:.0%}")
    return table


def expectations_table(run: dict[str, Any]) -> Table:
    table = Table(title=f"expectations of run {run['run_id']}")
    for column in ("zone", "suite", "expectation", "action", "success", "unexpected", "%", "taken"):
        table.add_column(column, justify="right" if column in ("unexpected", "%") else "left")
    for z in run["zones"]:
        if z["status"] == "skipped":
            table.add_row(z["zone"], z["suite"] or "-", "[yellow]skipped[/]", "", "", "", "", "")
            continue
        if not z["expectations"]:
            table.add_row(z["zone"], "-", "(no suite)", "", "", "", "", "")
        for e in z["expectations"]:
            pct = "" if e["unexpected_percent"] is None else f"{e['unexpected_percent']:.2f}"
            count = "" if e["unexpected_count"] is None else f"{e['unexpected_count']:,}"
            table.add_row(z["zone"], z["suite"], e["name"], e["action"], "yes" if e["success"] else "[red]no[/]",
                          count, pct, f"[{_TAKEN.get(e['taken'], '')}]{e['taken']}[/]")
    return table


def _as_dict(result) -> dict[str, Any]:
    from lakehouse.reports.summary import to_dict

    return to_dict(result)
