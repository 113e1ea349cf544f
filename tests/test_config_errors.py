"""Bad config and bad CLI use: exit 2, a message naming the file and the key, never a traceback.

No Spark here: every check happens while loading and planning, so the whole file runs in seconds.
Each test breaks a private copy of the STEDI configs (the ``config_dir`` fixture) by editing text,
never by re-dumping YAML (PyYAML would turn a join's ``on:`` key into True).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lakehouse.cli import cli
from lakehouse.project import load_project
from tests.conftest import ROOT, STEDI_CONFIGS

ORDER = ["accelerometer_landing", "customer_landing", "step_trainer_landing", "customer_trusted",
         "accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}: the test's edit no longer applies"
    path.write_text(text.replace(old, new, 1))


def zone_file(config_dir: Path, zone: str) -> Path:
    return config_dir / "zones" / f"{zone}.yml"


def invoke(*args: str, config_dir: Path | None = None) -> Result:
    prefix = ["--config-dir", str(config_dir)] if config_dir is not None else []
    # Wide, so rich never wraps or truncates a line the test looks for.
    return CliRunner(env={"COLUMNS": "400"}).invoke(cli, [*prefix, *args])


def assert_config_error(result: Result, *fragments: str, problems: int | None = None) -> str:
    """Exit 2 through SystemExit (not an escaped exception), on stderr, each fragment present."""
    assert result.exit_code == 2, f"exit {result.exit_code}\nstderr: {result.stderr}\nstdout: {result.stdout}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == "", "errors belong on stderr"
    text = result.stderr
    assert "configuration error" in text
    if problems is not None:
        assert f"({problems} problem(s))" in text, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    return text


# --- one class of bad zone config per case: (zone, old text, new text, key path, message words) ---

ZONE_CASES = {
    "unknown_key": ("customer_trusted", "filters:", "filtres:", "filtres", "unknown key"),
    "unknown_nested_key": ("customer_trusted", "  merge_keys: [email]", "  merge_keys: [email]\n  partition: [email]",
                           "target.partition", "unknown key"),
    "missing_required": ("customer_trusted", "  merge_keys: [email]\n", "", "target.merge_keys", "Field required"),
    "merge_keys_not_a_list": ("customer_trusted", "merge_keys: [email]", "merge_keys: 5", "target.merge_keys",
                              "valid list"),
    "filters_a_string": ("customer_trusted", "filters:\n  - shareWithResearchAsOfDate IS NOT NULL",
                         "filters: shareWithResearchAsOfDate IS NOT NULL", "filters", "valid list"),
    "empty_merge_keys": ("customer_trusted", "merge_keys: [email]", "merge_keys: []", "target.merge_keys",
                         "at least 1"),
    "unknown_spark_type": ("accelerometer_landing", "x: double", "x: dubble", "source.schema",
                           "column 'x' has unknown type 'dubble'"),
    "unknown_layer": ("customer_trusted", "layer: trusted", "layer: silver", "layer", "'landing', 'trusted'"),
    "yaml11_yes_is_not_a_join_type": ("customer_curated", "type: semi ", "type: yes ", "joins[0].type",
                                      "'inner', 'left', 'semi' or 'anti'"),
    "bad_table_name": ("customer_trusted", "  table: customer_trusted", "  table: customer-trusted",
                       "target.table", "letters, digits and underscores"),
    "landing_zone_without_schema": ("step_trainer_landing",
                                    "  schema:\n    sensorReadingTime: bigint   # epoch milliseconds\n"
                                    "    serialNumber: string\n    distanceFromObject: int\n",
                                    "", "source", "needs 'schema'"),
    "trusted_zone_reading_files": ("customer_trusted", "  table: customer_landing",
                                   "  table: customer_landing\n  path: customer/landing", "source",
                                   "give either 'path' (with 'schema')"),
    "semi_join_with_columns": ("customer_curated", "    on: c.email = acc.user",
                               "    on: c.email = acc.user\n    columns: [acc.x]", "joins[0].columns",
                               "a semi join keeps no columns"),
    "dedupe_keys_outside_merge_keys": ("customer_curated", "dedupe:\n", "dedupe:\n  keys: [phone]\n", "dedupe.keys",
                                       "must be some of target.merge_keys"),
}


@pytest.mark.parametrize("case", list(ZONE_CASES), ids=list(ZONE_CASES))
def test_bad_zone_names_file_and_key(config_dir, case):
    zone, old, new, key, message = ZONE_CASES[case]
    path = zone_file(config_dir, zone)
    edit(path, old, new)
    where = f"{path}: {key}:" if key else f"{path}:"
    assert_config_error(invoke("validate", config_dir=config_dir), where, message, problems=1)


def test_unknown_key_hint_says_what_to_do(config_dir):
    edit(zone_file(config_dir, "customer_trusted"), "filters:", "filtres:")
    text = assert_config_error(invoke("validate", config_dir=config_dir), "filtres: unknown key")
    assert "hint: remove it, or check its spelling" in text


def test_sql_zone_with_source(config_dir):
    path = zone_file(config_dir, "customer_trusted")
    edit(path, "filters:\n  - shareWithResearchAsOfDate IS NOT NULL\n",
         "sql:\n  uses: [customer_landing]\n  query: SELECT * FROM customer_landing\n")
    assert_config_error(invoke("validate", config_dir=config_dir), f"{path}: source: a 'sql' zone",
                        "drop source, columns or drop sql", problems=1)


def test_invalid_yaml_names_file_and_line(config_dir):
    path = zone_file(config_dir, "customer_trusted")
    edit(path, "  merge_keys: [email]", "  merge_keys: [email")
    line = path.read_text().splitlines().index("  merge_keys: [email") + 1
    assert_config_error(invoke("validate", config_dir=config_dir), f"{path}: line ", "not valid YAML",
                        "check indentation")
    # The reported line is where PyYAML noticed the problem: the broken line or the one after it.
    text = invoke("validate", config_dir=config_dir).stderr
    assert f"{path}: line {line}," in text or f"{path}: line {line + 1}," in text, text


def test_invalid_yaml_is_one_problem(config_dir):
    edit(zone_file(config_dir, "customer_trusted"), "  merge_keys: [email]", "  merge_keys: [email")
    text = assert_config_error(invoke("validate", config_dir=config_dir), "not valid YAML")
    assert "expected a YAML mapping" not in text
    assert "(1 problem(s))" in text


def test_duplicate_yaml_key(config_dir):
    path = zone_file(config_dir, "customer_trusted")
    edit(path, "layer: trusted", "layer: trusted\nlayer: curated")
    assert_config_error(invoke("validate", config_dir=config_dir), str(path), "layer")


def test_zone_file_that_is_not_a_mapping(config_dir):
    path = zone_file(config_dir, "customer_trusted")
    path.write_text("- customer_trusted\n- customer_landing\n")
    assert_config_error(invoke("validate", config_dir=config_dir), f"{path}: expected a YAML mapping", problems=1)


def test_every_problem_is_reported_at_once(config_dir):
    trusted, landing = zone_file(config_dir, "customer_trusted"), zone_file(config_dir, "accelerometer_landing")
    edit(trusted, "filters:", "filtres:")
    edit(landing, "x: double", "x: dubble")
    assert_config_error(invoke("validate", config_dir=config_dir),
                        f"{trusted}: filtres:", f"{landing}: source.schema:", problems=2)


# --- problems across files: the zone graph ---

def test_join_to_a_table_no_zone_produces(config_dir):
    path = zone_file(config_dir, "accelerometer_trusted")
    edit(path, "  - table: customer_trusted", "  - table: customer_trustd")
    text = assert_config_error(invoke("validate", config_dir=config_dir),
                               f"{path}: joins[0].table: no zone produces table 'customer_trustd'", problems=1)
    assert "known tables: accelerometer_landing" in text and "customer_trusted" in text


def test_source_table_no_zone_produces(config_dir):
    path = zone_file(config_dir, "customer_trusted")
    edit(path, "  table: customer_landing", "  table: customers")
    assert_config_error(invoke("validate", config_dir=config_dir),
                        f"{path}: source.table: no zone produces table 'customers'", problems=1)


def test_zone_reading_its_own_table(config_dir):
    path = zone_file(config_dir, "customer_trusted")
    edit(path, "  table: customer_landing", "  table: customer_trusted")
    assert_config_error(invoke("validate", config_dir=config_dir),
                        f"{path}: source.table: a zone cannot read the table it writes", problems=1)


def test_dependency_cycle(config_dir):
    # customer_trusted now reads customer_curated, which reads customer_trusted
    edit(zone_file(config_dir, "customer_trusted"), "  table: customer_landing", "  table: customer_curated")
    text = assert_config_error(invoke("validate", config_dir=config_dir), "dependency cycle:", problems=1)
    line = next(line for line in text.splitlines() if "dependency cycle:" in line)
    where, chain = line.split(" dependency cycle: ")
    cycle = chain.split(" -> ")
    # Two cycles exist (directly, and through accelerometer_trusted); either is a right answer.
    assert cycle[0] == cycle[-1] and len(cycle) >= 3, line
    assert {"customer_trusted", "customer_curated"} <= set(cycle) <= {
        "customer_trusted", "accelerometer_trusted", "customer_curated"}, line
    # The file and key of the zone that reads the one before it in the cycle.
    assert where.strip() in {f"{zone_file(config_dir, cycle[1])}: {key}:" for key in ("source.table", "joins[0].table")}


def test_two_zones_writing_one_table(config_dir):
    path = zone_file(config_dir, "step_trainer_trusted")
    edit(path, "  table: step_trainer_trusted\n", "  table: customer_trusted\n")
    text = assert_config_error(invoke("validate", config_dir=config_dir),
                               f"{path}: target.table: table 'customer_trusted' is also written by zone "
                               f"'customer_trusted' ({zone_file(config_dir, 'customer_trusted')})")
    assert "hint: each table has exactly one zone that writes it" in text


def test_duplicate_zone_names(config_dir):
    extra = config_dir / "zones" / "customer_trusted_copy.yml"
    text = zone_file(config_dir, "customer_trusted").read_text()
    extra.write_text(text.replace("  table: customer_trusted", "  table: customer_trusted_copy"))
    assert_config_error(invoke("validate", config_dir=config_dir),
                        f"{extra}: name: zone 'customer_trusted' is also defined in "
                        f"{zone_file(config_dir, 'customer_trusted')}", problems=1)


# --- bad environment and bad CLI use ---

def test_unknown_env_lists_known_envs(config_dir):
    (config_dir / "env" / "aws.yml").write_text((config_dir / "env" / "local.yml").read_text())
    text = assert_config_error(invoke("--env", "prod", "validate", config_dir=config_dir),
                               f"{config_dir / 'env' / 'prod.yml'}: no environment named 'prod'", problems=1)
    assert "use --env with one of: aws, local" in text


def test_unknown_key_in_env_file(config_dir):
    path = config_dir / "env" / "local.yml"
    edit(path, "reports_root:", "report_root:")
    assert_config_error(invoke("validate", config_dir=config_dir), f"{path}: report_root: unknown key",
                        f"{path}: reports_root: Field required", problems=2)


def test_config_dir_that_does_not_exist(tmp_path):
    missing = tmp_path / "nowhere"
    assert_config_error(invoke("validate", config_dir=missing), f"{missing}: config directory not found",
                        "--config-dir", problems=1)


def test_config_dir_without_zones(tmp_path):
    assert_config_error(invoke("validate", config_dir=tmp_path), f"{tmp_path / 'zones'}: no zone files",
                        problems=1)


def test_plan_unknown_pipeline(config_dir):
    text = assert_config_error(invoke("plan", "--pipeline", "nope", config_dir=config_dir),
                               "--pipeline: nope: is not a zone, table or layer", problems=1)
    assert "use 'all', one of landing, trusted, curated, or a zone: " + ", ".join(ORDER) in text


def test_run_unknown_pipeline_fails_before_spark(config_dir, monkeypatch):
    import lakehouse.engine
    import lakehouse.runtime.session

    def no_spark(*args, **kwargs):
        raise AssertionError("Spark must not start for an unknown --pipeline")

    monkeypatch.setattr(lakehouse.engine, "get_session", no_spark)
    monkeypatch.setattr(lakehouse.runtime.session, "get_session", no_spark)
    result = invoke("run", "--pipeline", "customer_trusted,nope", config_dir=config_dir)
    assert_config_error(result, "--pipeline: nope: is not a zone, table or layer", problems=1)


def test_run_without_pipeline_is_a_usage_error(config_dir):
    result = invoke("run", config_dir=config_dir)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Missing option '--pipeline'" in result.stderr
    assert "Usage:" in result.stderr and "Traceback" not in result.output


def test_unknown_command_is_a_usage_error():
    result = invoke("valdiate")
    assert result.exit_code == 2
    assert "No such command 'valdiate'" in result.stderr
    assert "Traceback" not in result.output


def test_error_message_with_brackets_is_printed_verbatim(config_dir, monkeypatch):
    import lakehouse.cli.shell
    from lakehouse.errors import ZoneFailed

    def fail(*args, **kwargs):
        raise ZoneFailed("customer_landing", "zones/customer_landing.yml", "cannot read [/landing/customer]")

    monkeypatch.setattr(lakehouse.cli.shell, "load_project", fail)
    result = invoke("validate", config_dir=config_dir)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), repr(result.exception)
    assert "cannot read [/landing/customer]" in result.stderr


# --- the good configs ---

def test_validate_good_configs(spark):
    result = invoke("validate", config_dir=STEDI_CONFIGS)
    assert result.exit_code == 0, result.output
    assert f"ok: 8 zones in {STEDI_CONFIGS}, envs aws, local, every column found" in result.stdout
    assert "columns not checked" not in result.stdout and "without a suite" not in result.stdout
    assert result.stderr == ""


def test_validate_checks_every_env_file(config_dir):
    aws = config_dir / "env" / "aws.yml"
    aws.write_text(aws.read_text().replace("number_of_workers: 2", "number_of_workers: two"))
    result = invoke("validate", config_dir=config_dir)
    assert result.exit_code == 2 and f"{aws}: aws.number_of_workers:" in result.stderr


def test_a_zone_without_suite_file_is_an_error(config_dir):
    (config_dir.parent.parent / "expectations" / "customer_curated.json").unlink()
    zone = config_dir / "zones" / "customer_curated.yml"
    text = assert_config_error(invoke("validate", config_dir=config_dir),
                               f"{zone}: expectations: no suite file", problems=1)
    assert "write 'expectations: false'" in text


def test_a_zone_may_say_it_has_no_suite(config_dir):
    (config_dir.parent.parent / "expectations" / "customer_curated.json").unlink()
    zone = config_dir / "zones" / "customer_curated.yml"
    zone.write_text(zone.read_text().replace("target:", "expectations: false\ntarget:"))
    result = invoke("validate", "--fast", config_dir=config_dir)
    assert result.exit_code == 0, result.output
    assert "zones without a suite on purpose (only their merge keys are checked): customer_curated" in result.stdout
    project = load_project(config_dir)
    assert [e.name for e in project.suites["customer_curated"].expectations] == ["merge key email is present"]


def test_a_project_copied_without_its_suites_fails(tmp_path):
    """--config-dir at a copy elsewhere once ran every zone with no suite at all."""
    copy = tmp_path / "elsewhere" / "stedi"
    shutil.copytree(STEDI_CONFIGS, copy)
    project_file = copy / "project.yml"
    text = assert_config_error(invoke("validate", config_dir=copy),
                               f"{project_file}: expectations: '../../expectations' names "
                               f"{tmp_path / 'expectations'}, which is not a folder", problems=1)
    assert "set 'expectations:'" in text
    project_file.write_text(f"expectations: {ROOT / 'expectations'}\n")  # an absolute folder is fine too
    result = invoke("validate", "--fast", config_dir=copy)
    assert result.exit_code == 0, result.output
    assert load_project(copy).suites_dir == ROOT / "expectations"


def test_project_file_with_unknown_key(config_dir):
    (config_dir / "project.yml").write_text("expectation: ../../expectations\n")
    assert_config_error(invoke("validate", config_dir=config_dir),
                        f"{config_dir / 'project.yml'}: expectation: unknown key", problems=1)


def test_plan_lists_zones_in_run_order(monkeypatch):
    monkeypatch.setenv("STEDI_DATABASE", "plan_db")
    result = invoke("plan", config_dir=STEDI_CONFIGS)
    assert result.exit_code == 0, result.output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]]
            for line in result.stdout.splitlines() if line.startswith("│")]
    assert [row[0] for row in rows] == [str(i) for i in range(1, 9)]
    zones = [row[1] for row in rows]
    assert zones == ORDER
    assert [row[2] for row in rows[:3]] == ["landing"] * 3
    assert zones[-1] == "machine_learning_curated"
    by_zone = {row[1]: row for row in rows}
    assert by_zone["customer_landing"][3] == "files: customer/landing"
    assert by_zone["accelerometer_trusted"][3] == "accelerometer_landing, customer_trusted"
    assert by_zone["machine_learning_curated"][4] == "plan_db.machine_learning_curated"
    assert by_zone["step_trainer_landing"][5] == "serialNumber, sensorReadingTime"
    assert by_zone["customer_trusted"][7] == "not needed"  # one row per key already
    assert by_zone["machine_learning_curated"][7] == "by keys"


def test_plan_one_layer():
    result = invoke("plan", "--pipeline", "trusted", config_dir=STEDI_CONFIGS)
    assert result.exit_code == 0, result.output
    zones = [line.split("│")[2].strip() for line in result.stdout.splitlines() if line.startswith("│")]
    assert zones == ["customer_trusted", "accelerometer_trusted", "step_trainer_trusted"]


# --- the real console entry: no traceback on a real stderr ---

def _console_entry() -> list[str]:
    script = Path(sys.executable).with_name("lakehouse")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lakehouse.cli"]


@pytest.mark.parametrize("args, expected", [
    (["validate"], "source.schema: column 'x' has unknown type 'dubble'"),
    (["run", "--pipeline", "nope"], "--pipeline: nope: is not a zone, table or layer"),
    (["--env", "prod", "validate"], "no environment named 'prod'"),
], ids=["validate", "run", "env"])
def test_console_entry_exits_2_without_traceback(config_dir, tmp_path, args, expected):
    landing = zone_file(config_dir, "accelerometer_landing")
    if args == ["validate"]:
        edit(landing, "x: double", "x: dubble")
    proc = subprocess.run([*_console_entry(), "--config-dir", str(config_dir), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "COLUMNS": "400"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr
    if args == ["validate"]:
        assert f"{landing}: source.schema:" in proc.stderr
    assert proc.stdout == ""


def test_module_entry_runs_from_a_checkout():
    proc = subprocess.run([sys.executable, "-m", "lakehouse.cli", "--config-dir", str(STEDI_CONFIGS), "validate",
                           "--fast"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ok: 8 zones" in proc.stdout


def test_piped_output_is_never_cut(config_dir):
    """Not a terminal (CI, CloudWatch, | less): zone names and headers whole; --json parses."""
    import json

    proc = subprocess.run([*_console_entry(), "--config-dir", str(config_dir), "plan"], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout and "a change recomputes" in proc.stdout
    for zone in ORDER:
        assert f" {zone} " in proc.stdout, zone
    proc = subprocess.run([*_console_entry(), "--config-dir", str(config_dir), "plan", "--json"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    plan = json.loads(proc.stdout)
    assert [z["zone"] for z in plan] == ORDER
    assert set(plan[-1]["depends_on"]) == {"customer_curated", "step_trainer_trusted", "accelerometer_trusted"}
