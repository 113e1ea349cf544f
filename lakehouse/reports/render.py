"""Rendering a run for people: the per-zone summary and the expectation results."""
from __future__ import annotations

from typing import Any

from rich.table import Table

_STYLE = {"ok": "green", "up to date": "dim", "failed": "red", "skipped": "yellow"}
_TAKEN = {"none": "green", "reported": "yellow", "quarantined": "magenta", "failed": "red"}


def summary_table(run: Any) -> Table:
    """Per zone: where its rows went, and where its time went. Takes a RunResult or its dict."""
    run = run if isinstance(run, dict) else _as_dict(run)
    table = Table(title=f"run {run['run_id']}  --pipeline {run['pipeline']}  ({run['seconds']}s)")
    erased = any(z.get("erased") for z in run["zones"])  # a column only when erasure left lines out
    columns = ("zone", "status", "mode", "read", "malformed", *(("erased",) if erased else ()), "deduped", "staged",
               "quarantined", "promoted", "inserted", "updated", "deleted", "seconds", "validate")
    for column in columns:
        table.add_column(column, justify="left" if column in ("zone", "status", "mode") else "right")
    for z in run["zones"]:
        idle = z["status"] in ("skipped", "up to date")

        def n(v):
            return "-" if v is None or idle else f"{v:,}"
        share = z["timings"].get("validate", 0) / z["seconds"] if z["seconds"] else 0
        table.add_row(z["zone"], f"[{_STYLE.get(z['status'], '')}]{z['status']}[/]", z.get("mode") or "-",
                      n(z["rows_read"]), n(z["malformed"]), *((n(z.get("erased", 0)),) if erased else ()),
                      n(z["deduplicated"]), n(z["rows_staged"]), n(z["quarantined"]), n(z["promoted"]),
                      n(z["inserted"]), n(z["updated"]), n(z.get("deleted", 0)), f"{z['seconds']:.1f}",
                      "-" if idle else f"{share:.0%}")
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


def ledger_table(rows: list[dict[str, Any]]) -> Table:
    """The run ledger, newest first: what each zone did in each run."""
    table = Table(title="run ledger (newest first)")
    columns = ("run", "zone", "status", "mode", "started", "seconds", "inputs", "version", "read", "quarantined",
               "inserted", "updated", "deleted")
    for column in columns:
        table.add_column(column, justify="right" if column in ("seconds", "version", "read", "quarantined",
                                                                "inserted", "updated", "deleted") else "left")
    for r in rows:
        inputs = ", ".join(f"{t}@{v}" for t, v in sorted((r["input_versions"] or {}).items()))
        if r["input_files"]:
            inputs = f"{len(r['input_files'])} file(s)"
        table.add_row(r["run_id"], r["zone"], f"[{_STYLE.get(r['status'], '')}]{r['status']}[/]", r["mode"] or "-",
                      str(r["started_at"])[:19], f"{r['seconds']:.1f}", inputs or "-",
                      "-" if r["output_version"] is None else str(r["output_version"]),
                      *(f"{r[k]:,}" for k in ("rows_read", "quarantined", "inserted", "updated", "deleted")))
    return table


def delta_history_table(name: str, entries: list[dict[str, Any]]) -> Table:
    """A table's Delta history, newest first: what each commit did."""
    table = Table(title=f"{name}: Delta history (newest first)")
    for column in ("version", "time (UTC)", "operation", "metrics"):
        table.add_column(column, justify="right" if column == "version" else "left")
    for e in entries:
        metrics = ", ".join(f"{k}={v}" for k, v in sorted(e["metrics"].items()) if k in _METRICS)
        table.add_row(str(e["version"]), e["timestamp"][:19].replace("T", " "), e["operation"] or "-", metrics or "-")
    return table


# The metrics a person reads; Delta keeps many more (all in --json).
_METRICS = {"numOutputRows", "numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted",
            "numDeletedRows", "numAddedFiles", "numRemovedFiles", "numFilesAdded", "numFilesRemoved",
            "numRestoredFiles", "numDeletedFiles", "num_added_files", "num_removed_files", "num_deleted_rows",
            "num_target_rows_inserted"}
