"""The machine-readable record of a run: <reports_root>/runs/<run_id>.json, and latest.json."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from lakehouse.results import RunResult

ZONE_FIELDS = ("zone", "table", "layer", "status", "mode", "message", "rows_read", "malformed", "erased", "deduplicated",
               "rows_staged", "quarantined", "promoted", "inserted", "updated", "deleted", "files_added", "version",
               "input_versions", "seconds", "timings", "suite", "fingerprint", "started_at", "ended_at")


class ReportNotFound(LakehouseError):
    exit_code = 2


def to_dict(result: RunResult) -> dict[str, Any]:
    zones = []
    for z in result.zones:
        entry = {f: getattr(z, f) for f in ZONE_FIELDS}
        entry["expectations"] = [e.to_dict() for e in z.expectations]
        zones.append(entry)
    return {"run_id": result.run_id, "pipeline": result.pipeline, "ok": result.ok, "seconds": result.seconds,
            "full_refresh": result.full_refresh, "data_docs": result.data_docs, "zones": zones}


def report_name(run_id: str, pipeline: str) -> str:
    """``<run_id>`` for a run of every zone, ``<run_id>.<pipeline>`` for part of one: the zones a
    Step Functions execution runs in parallel share its run id, and must not overwrite each
    other's summary or log. ``read_summary`` puts the parts back together."""
    return run_id if pipeline == "all" else f"{run_id}.{re.sub(r'[^A-Za-z0-9_-]+', '-', pipeline)}"


def write_summary(result: RunResult, reports_root: str) -> str:
    runs = Path(reports_root) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_dict(result), indent=2, default=str)
    path = runs / f"{report_name(result.run_id, result.pipeline)}.json"
    _write_whole(path, text)
    _write_whole(Path(reports_root) / "latest.json", text)  # a copy, not a link: also works on S3
    return str(path)


def _write_whole(path: Path, text: str) -> None:
    """Readers, and a run ending at the same moment, see one run's file or the other's, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class ReportFolder:
    """Where a run writes its reports: the reports root itself, or for s3:// a local folder that is
    uploaded when the run ends (GX writes Data Docs to a file system)."""

    DOCS = Path("gx") / "uncommitted" / "data_docs" / "local_site"

    def __init__(self, reports_root: str):
        self.root = reports_root
        self.remote = "://" in reports_root
        self.local = Path(tempfile.mkdtemp(prefix="lakehouse-reports-")) if self.remote else Path(reports_root)

    def log_path(self, run_id: str, pipeline: str = "all") -> Path:
        """The run's log (each zone's stages, a failed zone's traceback), beside its summary."""
        runs = self.local / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        return runs / f"{report_name(run_id, pipeline)}.log"

    def docs_location(self, local_index: str | None) -> str | None:
        if local_index is None or not self.remote:
            return local_index
        return f"{self.root.rstrip('/')}/data_docs/index.html"

    def save(self, result: RunResult) -> str:
        path = write_summary(result, str(self.local))
        if not self.remote:
            return path
        from lakehouse.aws.s3 import upload_dir, upload_file

        root = self.root.rstrip("/")
        upload_dir(self.local / "runs", f"{root}/runs")
        upload_file(self.local / "latest.json", f"{root}/latest.json")
        if (self.local / self.DOCS).is_dir():
            upload_dir(self.local / self.DOCS, f"{root}/data_docs")
        shutil.rmtree(self.local, ignore_errors=True)  # only a staging copy: S3 holds the reports
        return f"{root}/runs/{report_name(result.run_id, result.pipeline)}.json"


def read_summary(reports_root: str, run_id: str | None = None) -> dict[str, Any]:
    """The latest run's summary, or run ``run_id``'s, its parts (one per job run) put together."""
    if "://" in reports_root:
        from lakehouse.aws.s3 import list_keys, read_json

        root = reports_root.rstrip("/")
        if run_id is None:
            found = [data] if (data := read_json(f"{root}/latest.json")) is not None else []
        else:
            found = [read_json(f"{root}/runs/{k.rsplit('/', 1)[1]}") for k in list_keys(f"{root}/runs/{run_id}")
                     if _part_of(k.rsplit("/", 1)[1], run_id)]
        if not found:
            known = sorted(k.rsplit("/", 1)[1].removesuffix(".json") for k in list_keys(f"{root}/runs/")
                           if k.endswith(".json"))[-5:]
            where = f"{root}/runs/{run_id}.json" if run_id else f"{root}/latest.json"
            raise ReportNotFound(f"no run report at {where}; " + _hint(known))
        return _merged(found)
    root = Path(reports_root)
    if run_id is None:
        paths = [root / "latest.json"] if (root / "latest.json").exists() else []
    else:
        paths = sorted(p for p in (root / "runs").glob(f"{run_id}*.json") if _part_of(p.name, run_id))
    if not paths:
        known = sorted(p.stem for p in (root / "runs").glob("*.json"))[-5:]
        where = root / "runs" / f"{run_id}.json" if run_id else root / "latest.json"
        raise ReportNotFound(f"no run report at {where}; " + _hint(known))
    return _merged([json.loads(p.read_text()) for p in paths])


def _part_of(name: str, run_id: str) -> bool:
    return name == f"{run_id}.json" or (name.startswith(f"{run_id}.") and name.endswith(".json"))


def _hint(known: list[str]) -> str:
    return f"recent runs: {', '.join(known)}" if known else "no run has written a report there yet"


def _merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    zones = sorted((z for p in parts for z in p["zones"]), key=lambda z: z.get("started_at") or "")
    starts = [z["started_at"] for z in zones if z.get("started_at")]
    ends = [z["ended_at"] for z in zones if z.get("ended_at")]
    seconds = (round((datetime.fromisoformat(max(ends)) - datetime.fromisoformat(min(starts))).total_seconds(), 2)
               if starts and ends else sum(p["seconds"] for p in parts))
    return {"run_id": parts[0]["run_id"], "pipeline": ",".join(p["pipeline"] for p in parts),
            "ok": all(p["ok"] for p in parts), "seconds": seconds,
            "full_refresh": any(p["full_refresh"] for p in parts),
            "data_docs": next((p["data_docs"] for p in parts if p["data_docs"]), None), "zones": zones}
