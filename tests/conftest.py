"""Shared fixtures: ONE Spark session for the whole suite, tiny generated data, real data if present.

Every test that runs zones gets its own lake root and catalog database, so tests never see each
other's tables although they share the session (and its one embedded metastore).
"""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from lakehouse.project import Project, load_project
from tests.helpers import copy_lake

ROOT = Path(__file__).resolve().parents[1]
STEDI_CONFIGS = ROOT / "configs" / "stedi"
SUITES = ROOT / "expectations"
REAL_DATA = ROOT.parent / "shared" / "data" / "stedi"
_ids = itertools.count(1)
# Two zones at a time wherever the suite runs zones (in process and in the CLI processes it starts):
# every test comparing tables with a rebuild then also shows that running zones side by side
# changes nothing; on tiny data it is also faster, the driver work of two zones overlapping.
os.environ.setdefault("STEDI_PARALLEL_ZONES", "2")


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def spark(session_dir):
    from lakehouse.config.models import Environment
    from lakehouse.runtime.session import get_session, stop_session

    env = Environment(name="test", landing_root=str(session_dir / "landing"), lake_root=str(session_dir / "lake"),
                      database="lakehouse_test", reports_root=str(session_dir / "reports"),
                      spark_conf={"spark.master": "local[2]", "spark.driver.memory": "3g",
                                  # One JVM for the whole suite: C2's compiles pay off (C1 only: 2x slower).
                                  "spark.driver.defaultJavaOptions": ""})
    session = get_session(env)
    yield session
    stop_session()


def copy_project(into: Path) -> Path:
    """configs/stedi and expectations/ copied with the repository's layout; the project folder."""
    target = into / "configs" / "stedi"
    shutil.copytree(STEDI_CONFIGS, target)
    shutil.copytree(SUITES, into / "expectations")
    return target


@pytest.fixture
def config_dir(tmp_path) -> Path:
    """A private copy of the STEDI configs and suites that a test may edit."""
    return copy_project(tmp_path)


def project_for(config_dir: Path, landing_root: Path | str, lake_root: Path) -> Project:
    """The project with roots pointing at test folders and a database of its own."""
    return load_project(config_dir, "local", overrides={
        "landing_root": str(landing_root), "lake_root": str(lake_root),
        "database": f"t{next(_ids)}", "reports_root": str(lake_root.parent / "reports")})


@pytest.fixture(scope="session")
def sample(session_dir):
    """Tiny generated landing data (with malformed lines) and its manifest of expected counts."""
    from lakehouse.sample.generator import generate

    out = session_dir / "sample"
    manifest = generate(out, scale=0.02, seed=11)
    return out, manifest.to_dict()


def run_all(spark, project: Project, pipeline: str = "all", **kwargs):
    """Run ``pipeline`` in the shared session; every zone must succeed."""
    from lakehouse.engine import run_pipeline

    result = run_pipeline(project, pipeline, spark=spark, **kwargs)
    assert result.ok, [z.message for z in result.zones if not z.ok]
    return result


@pytest.fixture(scope="session")
def first_run(spark, sample, tmp_path_factory):
    """The tiny sample landed and run once, for the whole suite: (its folder, the run's result).
    Tests copy its lake (``first_delivery``) rather than paying for another first run."""
    root = tmp_path_factory.mktemp("first")
    shutil.copytree(sample[0], root / "landing", ignore=shutil.ignore_patterns("manifest.json"))
    return root, run_all(spark, project_for(STEDI_CONFIGS, root / "landing", root / "lake"))


@pytest.fixture(scope="session")
def first_delivery(first_run) -> Path:
    """The first run's folder: landing/ and lake/ (copy before changing either)."""
    return first_run[0]


@pytest.fixture
def landing(first_delivery, tmp_path):
    """A private copy of the landed files (times kept, so the ledger knows them) for deliveries to add to."""
    return Path(shutil.copytree(first_delivery / "landing", tmp_path / "landing"))


@pytest.fixture
def project(first_delivery, landing, tmp_path):
    """The project over the private landing copy and a copy of the first delivery's lake and ledger."""
    return project_for(STEDI_CONFIGS, landing, copy_lake(first_delivery / "lake", tmp_path / "lake"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not (REAL_DATA / "customer" / "landing").is_dir():
        pytest.skip(f"real STEDI data not found at {REAL_DATA} (only present beside the project on dev/CI machines)")
    return REAL_DATA


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto in server mode on loopback: S3, Glue, Step Functions and IAM for the whole session."""
    import os
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ[key] = value
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
