"""The machine-readable record of a run: <reports_root>/runs/<run_id>.json, and latest.json."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from lakehouse.results import RunResult

ZONE_FIELDS = ("zone", "table", "layer", "status", "mode", "message", "rows_read", "malformed", "erased", "deduplicated",
               "rows_staged", "quarantined", "promoted", "inserted", "updated", "deleted", "files_added", "version",
               "input_versions", "seconds", "timings", "suite", "fingerprint")


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


def write_summary(result: RunResult, reports_root: str) -> str:
    runs = Path(reports_root) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_dict(result), indent=2, default=str)
    path = runs / f"{result.run_id}.json"
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

    def log_path(self, run_id: str) -> Path:
        """The run's log (each zone's stages, a failed zone's traceback), beside its summary."""
        runs = self.local / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        return runs / f"{run_id}.log"

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
        return f"{root}/runs/{result.run_id}.json"


def read_summary(reports_root: str, run_id: str | None = None) -> dict[str, Any]:
    if "://" in reports_root:
        from lakehouse.aws.s3 import list_keys, read_json

        root = reports_root.rstrip("/")
        uri = f"{root}/runs/{run_id}.json" if run_id else f"{root}/latest.json"
        data = read_json(uri)
        if data is None:
            known = sorted(k.rsplit("/", 1)[1].removesuffix(".json") for k in list_keys(f"{root}/runs/"))[-5:]
            hint = f"recent runs: {', '.join(known)}" if known else "no run has written a report there yet"
            raise ReportNotFound(f"no run report at {uri}; {hint}")
        return data
    root = Path(reports_root)
    path = root / "runs" / f"{run_id}.json" if run_id else root / "latest.json"
    if not path.exists():
        known = sorted(p.stem for p in (root / "runs").glob("*.json"))[-5:]
        hint = f"recent runs: {', '.join(known)}" if known else "no run has written a report there yet"
        raise ReportNotFound(f"no run report at {path}; {hint}")
    return json.loads(path.read_text())
