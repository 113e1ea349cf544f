"""The one generic Glue job: run the zones named by --pipeline with the project's YAML.

    --JOB_NAME j --pipeline all [--env aws] [--config-uri s3://bucket/code/configs/stedi/] [--run-id ID]

Arguments are parsed by Glue's own getResolvedOptions (the awsglue library, as on Glue), which
ignores Glue's arguments (--TempDir, --job-bookmark-option, ...). On Glue the run is wrapped in a
GlueContext and Job init/commit; elsewhere it is a plain Spark process. Locally:

    python pipelines/lakehouse_job.py --JOB_NAME local --pipeline all
"""
from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
REQUIRED = ("JOB_NAME", "pipeline")
DEFAULTS = {"env": "local", "config-uri": str(CHECKOUT / "configs" / "stedi")}
OPTIONAL = ("env", "config-uri", "run-id", "full-refresh")


class ArgumentError(Exception):
    pass


def _given(argv: list[str], name: str) -> bool:
    """--name with a value (next word, or after '='): a bare --name counts as missing."""
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            return bool(arg.partition("=")[2])
        if arg == f"--{name}":
            return i + 1 < len(argv) and not argv[i + 1].startswith("--")
    return False


def resolve_options(argv: list[str]) -> dict[str, str]:
    """Our options from a Glue-style argv (without the program name); Glue's own are ignored."""
    missing = [k for k in REQUIRED if not _given(argv, k)]
    if missing:
        raise ArgumentError("missing required argument(s): " + ", ".join(f"--{k}" for k in missing)
                            + " (e.g. --JOB_NAME stedi --pipeline all)")
    wanted = [*REQUIRED, *(o for o in OPTIONAL if _given(argv, o))]
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:  # a machine without the awsglue library: the same contract, by argparse
        getResolvedOptions = _resolved_options  # noqa: N806
    try:
        parsed = getResolvedOptions(["lakehouse_job", *argv], wanted)
    except SystemExit:
        raise ArgumentError("could not parse the arguments; give each as --name value") from None
    # argparse turns --config-uri into config_uri; answer with the names the user wrote.
    found = {name: parsed.get(name, parsed.get(name.replace("-", "_"))) for name in wanted}
    empty = [k for k in REQUIRED if not found.get(k)]
    if empty:
        raise ArgumentError("empty value for " + ", ".join(f"--{k}" for k in empty))
    return {**DEFAULTS, **{k: v for k, v in found.items() if v}}


def full_refresh(options: dict[str, str]) -> bool:
    """--full-refresh true re-reads every landing file and recomputes every zone (Glue passes values)."""
    value = options.get("full-refresh", "false").strip().lower()
    if value not in ("true", "false"):
        raise ArgumentError(f"--full-refresh takes true or false, not {value!r}")
    return value == "true"


def _resolved_options(args: list[str], options: list[str]) -> dict[str, str]:
    import argparse

    parser = argparse.ArgumentParser()
    for option in options:
        parser.add_argument(f"--{option}", required=True)
    parsed, _ = parser.parse_known_args(args[1:])
    return vars(parsed)


def fetch_configs(config_uri: str, workdir: Path) -> Path:
    """A local project folder: the path itself, or s3://.../configs/<project>/ downloaded with the
    suites beside it (s3://.../expectations/), keeping the repository's layout."""
    if not config_uri.startswith(("s3://", "s3a://")):
        return Path(config_uri)
    from lakehouse.aws.s3 import download_prefix

    uri = config_uri.rstrip("/")
    project = uri.rsplit("/", 1)[1]
    code_root = uri.rsplit("/", 2)[0]
    target = workdir / "configs" / project
    download_prefix(uri + "/", target)
    download_prefix(code_root + "/expectations/", workdir / "expectations")
    return target


def _glue_context(spark):
    """Glue's context and Job when running on Glue; (None, None) anywhere else."""
    try:
        from awsglue.context import GlueContext
        from awsglue.job import Job

        context = GlueContext(spark.sparkContext)
        return context, Job(context)
    except Exception:  # no Glue runtime classes in this JVM: a plain Spark process
        return None, None


def _log_to_stderr():
    """The ``lakehouse`` logger's stages and tracebacks on stderr, which Glue sends to CloudWatch
    (the run's log file is uploaded with its summary too). Removed again when the job ends."""
    import logging

    class _Stderr(logging.StreamHandler):
        # Whatever sys.stderr is when a record is written, not when the job started.
        stream = property(lambda self: sys.stderr, lambda self, value: None)

    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("lakehouse")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(CHECKOUT))  # run from a checkout without installing the package
    import tempfile

    from rich.console import Console

    from lakehouse.project import load_project, with_suites_of
    from lakehouse.engine import check_pipeline, run_pipeline
    from lakehouse.errors import ConfigError, LakehouseError
    from lakehouse.reports.render import summary_table
    from lakehouse.runtime.session import start_session

    import logging

    console = Console(soft_wrap=True, width=250)  # CloudWatch is no terminal: never cut a line
    handler = _log_to_stderr()
    argv = sys.argv[1:] if argv is None else argv
    try:
        options = resolve_options(argv)
        with tempfile.TemporaryDirectory(prefix="lakehouse-configs-") as workdir:
            config_dir = fetch_configs(options["config-uri"], Path(workdir))
            project = load_project(config_dir, options["env"], with_suites=False)
            check_pipeline(project, options["pipeline"])  # an unknown name, kind or mode fails before Spark starts
            full_refresh(options)
            session = start_session(project.env)
            project = with_suites_of(project)  # GX imports while the JVM boots
        spark = session.result()
        _, job = _glue_context(spark)
        if job is not None:
            job.init(options["JOB_NAME"], options)
        result = run_pipeline(project, options["pipeline"], spark=spark, run_id=options.get("run-id"),
                              full_refresh=full_refresh(options))
        if job is not None:
            job.commit()
    except ArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print("configuration error:\n" + "\n".join(f"  {p}" for p in exc.problems), file=sys.stderr)
        return exc.exit_code
    except LakehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        logging.getLogger("lakehouse").removeHandler(handler)
    console.print(summary_table(result))
    console.print(f"report: {result.summary_path}")
    for zone in result.zones:
        if not zone.ok:
            print(f"{zone.zone}: {zone.message}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
