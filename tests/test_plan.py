"""The zone graph and config loading, without Spark: run order, --pipeline selection, env files, YAML 1.2."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lakehouse.config.loader import load_environment, load_zones
from lakehouse.project import load_project
from lakehouse.errors import ConfigError
from lakehouse.plan.graph import ZoneGraph
from tests.conftest import STEDI_CONFIGS

ORDER = ["accelerometer_landing", "customer_landing", "step_trainer_landing", "customer_trusted",
         "accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated"]
ENV_VARS = ("STEDI_LANDING_ROOT", "STEDI_LAKE_ROOT", "STEDI_DATABASE", "STEDI_REPORTS_ROOT")


@pytest.fixture(autouse=True)
def _no_stedi_env(monkeypatch):
    """The tests decide which STEDI_* variables are set, not the shell that runs them."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def graph() -> ZoneGraph:
    return load_project(STEDI_CONFIGS).graph


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}: the test's edit no longer applies"
    path.write_text(text.replace(old, new, 1))


# --- order ---

def test_order_has_every_zone_once(graph):
    assert sorted(graph.order) == sorted(ORDER)
    assert len(graph.order) == 8


def test_dependencies_run_before_dependents(graph):
    position = {name: i for i, name in enumerate(graph.order)}
    for name, ups in graph.depends_on.items():
        for up in ups:
            assert position[up] < position[name], f"{up} must run before {name}: {graph.order}"


def test_order_is_stable_landing_first_then_by_layer_and_name(graph):
    assert graph.order == ORDER


def test_edges_follow_source_and_joins(graph):
    assert graph.depends_on == {
        "accelerometer_landing": [], "customer_landing": [], "step_trainer_landing": [],
        "customer_trusted": ["customer_landing"],
        "accelerometer_trusted": ["accelerometer_landing", "customer_trusted"],
        "customer_curated": ["customer_trusted", "accelerometer_trusted"],
        "step_trainer_trusted": ["step_trainer_landing", "customer_curated"],
        "machine_learning_curated": ["step_trainer_trusted", "customer_curated", "accelerometer_trusted"],
    }
    assert graph.producer == {name: name for name in ORDER}  # STEDI names each table after its zone


def test_sql_zone_depends_on_what_it_uses(config_dir):
    edit(config_dir / "zones" / "customer_trusted.yml",
         "source:\n  table: customer_landing\nfilters:\n  - shareWithResearchAsOfDate IS NOT NULL\n"
         "columns:\n  drop: [_source_file, _ingested_at]\n",
         "sql:\n  uses: [customer_landing]\n  query: SELECT * FROM customer_landing\n")
    graph = load_project(config_dir).graph
    assert graph.depends_on["customer_trusted"] == ["customer_landing"]
    assert graph.order == ORDER


# --- select (--pipeline) ---

def test_select_all(graph):
    assert graph.select("all") == ORDER


@pytest.mark.parametrize("layer, zones", [
    ("landing", ["accelerometer_landing", "customer_landing", "step_trainer_landing"]),
    ("trusted", ["customer_trusted", "accelerometer_trusted", "step_trainer_trusted"]),
    ("curated", ["customer_curated", "machine_learning_curated"]),
])
def test_select_layer(graph, layer, zones):
    assert graph.select(layer) == zones


def test_select_one_zone(graph):
    assert graph.select("customer_curated") == ["customer_curated"]


def test_select_by_table_name(config_dir):
    # A zone named differently from its table, so the table name is what selects it.
    edit(config_dir / "zones" / "customer_trusted.yml", "name: customer_trusted", "name: consenting_customers")
    graph = load_project(config_dir).graph
    assert graph.producer["customer_trusted"] == "consenting_customers"
    assert graph.select("customer_trusted") == ["consenting_customers"]
    assert graph.select("consenting_customers") == ["consenting_customers"]


def test_select_comma_list_in_run_order_without_duplicates(graph):
    assert graph.select("machine_learning_curated, customer_landing") == ["customer_landing",
                                                                          "machine_learning_curated"]
    assert graph.select("customer_trusted,trusted,landing") == [
        "accelerometer_landing", "customer_landing", "step_trainer_landing",
        "customer_trusted", "accelerometer_trusted", "step_trainer_trusted"]


def test_select_unknown_name(graph):
    with pytest.raises(ConfigError) as info:
        graph.select("customer_trusted,nope")
    [problem] = info.value.problems
    assert (problem.file, problem.key) == ("--pipeline", "nope")
    assert problem.message == "is not a zone, table or layer"
    assert ", ".join(ORDER) in problem.hint
    assert info.value.exit_code == 2


# --- downstream ---

def test_downstream_of_customer_trusted(graph):
    assert graph.downstream("customer_trusted") == {
        "accelerometer_trusted", "customer_curated", "step_trainer_trusted", "machine_learning_curated"}


@pytest.mark.parametrize("zone, expected", [
    ("step_trainer_landing", {"step_trainer_trusted", "machine_learning_curated"}),
    ("customer_landing", set(ORDER) - {"accelerometer_landing", "customer_landing", "step_trainer_landing"}),
    ("machine_learning_curated", set()),
])
def test_downstream(graph, zone, expected):
    assert graph.downstream(zone) == expected


# --- env files ---

def test_env_var_fills_a_value(monkeypatch):
    monkeypatch.setenv("STEDI_DATABASE", "ci_db")
    assert load_environment(STEDI_CONFIGS, "local").database == "ci_db"


def test_env_var_default_when_unset():
    env = load_environment(STEDI_CONFIGS, "local")
    assert env.name == "local"
    assert env.database == "stedi"


def test_env_var_default_when_empty(monkeypatch):
    monkeypatch.setenv("STEDI_DATABASE", "")
    assert load_environment(STEDI_CONFIGS, "local").database == "stedi"


def test_relative_roots_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = load_environment(STEDI_CONFIGS, "local")
    for root, relative in [("landing_root", "data/sample/stedi"), ("lake_root", ".lake/stedi"),
                           ("reports_root", "reports/stedi")]:
        value = getattr(env, root)
        assert Path(value).is_absolute(), (root, value)
        assert value == str((tmp_path / relative).resolve())  # relative to the working directory
    assert env.table_path("trusted", "customer_trusted") == f"{env.lake_root}/trusted/customer_trusted"
    assert env.landing_path("/customer/landing/") == f"{env.landing_root}/customer/landing"


def test_env_var_roots_and_uris_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("STEDI_LANDING_ROOT", "s3://bucket/landing")
    monkeypatch.setenv("STEDI_LAKE_ROOT", str(tmp_path / "lake"))
    env = load_environment(STEDI_CONFIGS, "local")
    assert env.landing_root == "s3://bucket/landing"
    assert env.lake_root == str(tmp_path / "lake")


def test_overrides_win_over_the_file(tmp_path):
    project = load_project(STEDI_CONFIGS, "local", overrides={"database": "t1", "lake_root": str(tmp_path)})
    assert project.env.database == "t1"
    assert project.env.lake_root == str(tmp_path)


def test_env_var_in_spark_conf(config_dir, monkeypatch):
    monkeypatch.setenv("DRIVER_MEMORY", "5g")
    with (config_dir / "env" / "local.yml").open("a") as handle:
        handle.write("spark_conf:\n  spark.driver.memory: ${DRIVER_MEMORY:-2g}\n  spark.master: ${MASTER:-local[4]}\n")
    env = load_environment(config_dir, "local")
    assert env.spark_conf == {"spark.driver.memory": "5g", "spark.master": "local[4]"}


# --- YAML 1.2 booleans ---

def test_join_on_key_stays_a_string():
    assert yaml.safe_load("on: x") == {True: "x"}  # why the loader needs its own resolver
    zones, files = load_zones(STEDI_CONFIGS)
    assert zones["accelerometer_trusted"].joins[0].on == "acc.user = c.email"
    assert zones["customer_curated"].joins[0].on == "c.email = acc.user"
    assert files["customer_curated"] == STEDI_CONFIGS / "zones" / "customer_curated.yml"


def test_yaml11_words_stay_strings_and_true_false_stay_booleans(config_dir):
    (config_dir / "zones" / "customer_trusted.yml").write_text(
        "name: customer_trusted\n"
        "layer: trusted\n"
        "description: yes\n"
        "source:\n"
        "  table: customer_landing\n"
        "  alias: c\n"
        "joins:\n"
        "  - table: accelerometer_landing\n"
        "    alias: acc\n"
        "    type: semi\n"
        "    on: c.email = acc.user\n"
        "filters: [on, off, no, y]\n"
        "target:\n"
        "  table: customer_trusted\n"
        "  merge_keys: [email]\n"
    )
    zone = load_zones(config_dir)[0]["customer_trusted"]
    assert zone.description == "yes"
    assert zone.filters == ["on", "off", "no", "y"]
    assert zone.joins[0].on == "c.email = acc.user"
    # true/false are still booleans, so a string field rejects them with a clear message
    edit(config_dir / "zones" / "customer_trusted.yml", "description: yes", "description: true")
    with pytest.raises(ConfigError) as info:
        load_zones(config_dir)
    [problem] = info.value.problems
    assert problem.key == "description"
    assert "valid string" in problem.message
