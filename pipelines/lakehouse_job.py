"""The one generic Glue job: run the zones named by --pipeline with the project's YAML.

Glue passes arguments as ``--KEY value`` pairs, its own (--JOB_NAME, --TempDir,
--job-bookmark-option, ...) mixed with ours; like Glue's getResolvedOptions we pick the ones we
know and ignore the rest. Locally:

    python pipelines/lakehouse_job.py --JOB_NAME local --pipeline all
"""
from __future__ import annotations

import sys
from pathlib import Path

REQUIRED = ("JOB_NAME", "pipeline")
OPTIONAL = {"env": "local", "config-dir": str(Path(__file__).resolve().parents[1] / "configs" / "stedi")}


class ArgumentError(Exception):
    pass


def resolve_options(argv: list[str]) -> dict[str, str]:
    """Glue-style parsing: ``--KEY value`` or ``--KEY=value``; unknown keys are ignored."""
    found: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            if not eq:
                value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
                i += 0 if value == "" else 1
            found[key] = value
        i += 1
    missing = [k for k in REQUIRED if not found.get(k)]
    if missing:
        raise ArgumentError("missing required argument(s): " + ", ".join(f"--{k}" for k in missing)
                            + " (e.g. --JOB_NAME stedi --pipeline all)")
    given = {k: v for k, v in found.items() if k in REQUIRED or (k in OPTIONAL and v)}
    return {**OPTIONAL, **given}


def main(argv: list[str] | None = None) -> int:
    # Importable without the package on sys.path when run as a plain script from a checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lakehouse.config import load_project
    from lakehouse.engine import run_pipeline
    from lakehouse.errors import ConfigError, LakehouseError
    from lakehouse.reports.render import summary_table
    from rich.console import Console

    console = Console(soft_wrap=True)
    try:
        options = resolve_options(sys.argv[1:] if argv is None else argv)
        project = load_project(options["config-dir"], options["env"])
        result = run_pipeline(project, options["pipeline"])
    except ArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print("configuration error:\n" + "\n".join(f"  {p}" for p in exc.problems), file=sys.stderr)
        return exc.exit_code
    except LakehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    console.print(summary_table(result))
    for zone in result.zones:
        if zone.status != "ok":
            print(f"{zone.zone}: {zone.message}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
