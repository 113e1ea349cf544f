"""What a deployment uploads: the job script, the package wheel, configs and suites.

Each object carries the sha256 of its content in its S3 metadata, so a deploy uploads only what
changed. A wheel's zip carries build times, so its hash is taken over its members' contents.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import LakehouseError

ROOT = Path(__file__).resolve().parents[2]
JOB_SCRIPT = ROOT / "pipelines" / "lakehouse_job.py"


class BuildFailed(LakehouseError):
    exit_code = 1


@dataclass(frozen=True)
class Artifact:
    path: Path
    key: str       # S3 key under the bucket
    sha256: str


def file_sha256(path: Path) -> str:
    if path.suffix == ".whl":
        digest = hashlib.sha256()
        with zipfile.ZipFile(path) as wheel:
            for name in sorted(wheel.namelist()):
                digest.update(name.encode() + b"\0" + wheel.read(name))
        return digest.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_wheel(out_dir: Path) -> Path:
    """The lakehouse package as a wheel, from setup.cfg, with no dependencies bundled."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("lakehouse-*.whl"):
        old.unlink()
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out_dir), str(ROOT)], capture_output=True, text=True)
    wheels = sorted(out_dir.glob("lakehouse-*.whl"))
    if done.returncode != 0 or not wheels:
        raise BuildFailed(f"building the wheel failed: {done.stderr.strip()[-500:]}")
    return wheels[0]


def collect(config_dir: Path, suites_dir: Path, wheel: Path, prefix: str,
            wheelhouse: list[Path] = ()) -> list[Artifact]:
    """Every file the job needs, and the key it lives at under the code prefix."""
    prefix = prefix.strip("/")
    project = config_dir.name
    files = [(JOB_SCRIPT, f"{prefix}/pipelines/{JOB_SCRIPT.name}"), (wheel, f"{prefix}/dist/{wheel.name}")]
    files += [(p, f"{prefix}/wheelhouse/{p.name}") for p in wheelhouse]
    files += [(p, f"{prefix}/configs/{project}/{p.relative_to(config_dir).as_posix()}")
              for p in sorted(config_dir.rglob("*.yml"))]
    files += [(p, f"{prefix}/expectations/{p.name}") for p in sorted(suites_dir.glob("*.json"))]
    return [Artifact(path, key, file_sha256(path)) for path, key in files]


def wheelhouse_wheels(folder: str | None) -> list[Path]:
    """The wheels of an offline wheelhouse (relative to the current directory), sorted; none without one."""
    if folder is None:
        return []
    wheels = sorted(Path(folder).expanduser().glob("*.whl"))
    if not wheels:
        raise BuildFailed(f"the wheelhouse {folder!r} holds no .whl files (see README, 'Run on AWS Glue')")
    return wheels
