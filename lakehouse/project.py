"""A project assembled: its zones and environment (config), their graph (plan) and each zone's
expectation suite (quality), loaded and checked once, without Spark, and carried by every caller.

Config knows nothing of the graph or of GX; this is the one place that puts them together.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lakehouse.config.loader import PROJECT_FILE, load_environment, load_settings, load_suites_dir, load_zones
from lakehouse.config.models import Environment, ProjectSettings, Zone
from lakehouse.errors import ConfigError, Problem
from lakehouse.plan.graph import ZoneGraph
from lakehouse.quality.suites import SuiteSpec, load_suite, with_key_checks


LEDGER_TABLE = "lakehouse_runs"
ERASURES_TABLE = "lakehouse_erasures"


def ledger_location(env: Environment) -> str:
    return f"{env.lake_root.rstrip('/')}/_ledger/runs"


def erasures_location(env: Environment) -> str:
    return f"{env.lake_root.rstrip('/')}/_ledger/erasures"


def quarantine_table(zone: Zone) -> str:
    return f"{zone.target.table}_quarantine"


@dataclass(frozen=True)
class Project:
    """A validated set of zones plus the environment they run in."""

    config_dir: Path
    env: Environment
    zones: dict[str, Zone]
    files: dict[str, Path] = field(default_factory=dict)
    suites: dict[str, SuiteSpec] = field(default_factory=dict)  # zone -> its suite, merge-key checks included
    graph: ZoneGraph | None = None
    suites_dir: Path | None = None
    settings: ProjectSettings = ProjectSettings()

    @property
    def project_file(self) -> Path:
        return self.config_dir / PROJECT_FILE

    def file_of(self, zone: str) -> str:
        return str(self.files.get(zone, self.config_dir / "zones"))

    def table_locations(self) -> dict[str, str]:
        """Every table the project keeps, by name: targets, quarantines, the ledger and the erasures."""
        env = self.env
        tables = {LEDGER_TABLE: ledger_location(env), ERASURES_TABLE: erasures_location(env)}
        for zone in self.zones.values():
            tables[zone.target.table] = env.table_path(zone.layer, zone.target.table)
            tables[quarantine_table(zone)] = env.table_path(zone.layer, quarantine_table(zone))
        return tables


def load_project(config_dir: str | Path, env: str = "local", overrides: dict[str, Any] | None = None,
                 with_suites: bool = True) -> Project:
    """Load and validate everything (models, the zone graph, the suites) without starting Spark.

    ``with_suites=False`` is for looking at the lake (counts, history, sql): checking suites
    imports Great Expectations, which alone takes seconds."""
    config_dir = Path(config_dir)
    if not config_dir.is_dir():
        raise ConfigError([Problem(str(config_dir), "", "config directory not found",
                                   "pass --config-dir pointing at a folder with zones/ and env/")])
    zones, files = load_zones(config_dir)
    environment = load_environment(config_dir, env, overrides)
    settings = load_settings(config_dir)
    project = Project(config_dir, environment, zones, files)
    graph = ZoneGraph.build(zones, project.file_of)  # ConfigError on unknown tables, duplicates and cycles
    project = Project(config_dir, environment, zones, files, graph=graph, settings=settings)
    return with_suites_of(project) if with_suites else project


def with_suites_of(project: Project) -> Project:
    """The project with each zone's suite loaded and checked (ConfigError otherwise). Apart from
    ``load_project`` so a caller can start Spark first: the JVM boots while GX imports."""
    suites_dir = load_suites_dir(project.config_dir, project.settings)
    suites = load_suites(project.zones, project.files, suites_dir)
    return replace(project, suites=suites, suites_dir=suites_dir)


def load_suites(zones: dict[str, Zone], files: dict[str, Path], suites_dir: Path) -> dict[str, SuiteSpec]:
    """Each zone's suite, which must exist unless the zone's YAML says ``expectations: false``."""
    problems: list[Problem] = []
    suites: dict[str, SuiteSpec] = {}
    for name, zone in zones.items():
        quality = zone.quality
        suite = quality.suite or zone.target.table
        path = suites_dir / f"{suite}.json"
        loaded = None
        if zone.unguarded:
            pass
        elif path.exists():
            loaded = load_suite(path, suite, quality.actions, quality.max_quarantined_fraction, problems)
        else:
            known = ", ".join(sorted(p.stem for p in suites_dir.glob("*.json"))) or "(none)"
            problems.append(Problem(str(files[name]), "expectations", f"no suite file {path}",
                                    f"create it, name one of the suites ({known}), or write 'expectations: false' "
                                    "to run this zone with only its merge keys checked"))
        suites[name] = with_key_checks(loaded, zone.target.merge_keys, zone.target.table, files[name])
    if problems:
        raise ConfigError(problems)
    return suites
