"""Source kinds and target modes are registered pieces: a new one is a class, not a runner branch."""
from __future__ import annotations

import pytest

from lakehouse.engine import run_pipeline
from lakehouse.errors import ConfigError
from lakehouse.results import FULL
from lakehouse.zone.context import Batch
from lakehouse.zone.sources import SOURCE_KINDS, SourceKind, register
from tests.conftest import project_for
from tests.helpers import count


class Squares(SourceKind):
    """Defined here, outside the package: n rows of (n, n squared)."""

    name = "squares"

    def read(self, ctx, inputs, incremental):
        n = int(ctx.zone.source.options["n"])
        return Batch(ctx.spark.range(1, n + 1).selectExpr("id AS n", "id * id AS square"), FULL)


@pytest.fixture
def squares():
    register(Squares)
    yield
    SOURCE_KINDS.pop("squares")


ZONE = """
name: squares
layer: curated
source: {kind: squares, options: {n: 12}}
filters: [square % 2 = 0]
expectations: false  # a test zone: only its merge keys are checked
target: {table: squares, merge_keys: [n]}
"""


def test_a_source_kind_from_outside_the_package_runs_a_zone(spark, squares, config_dir, sample, tmp_path):
    (config_dir / "zones" / "squares.yml").write_text(ZONE)
    project = project_for(config_dir, sample[0], tmp_path / "lake")
    result = run_pipeline(project, "squares", spark=spark)
    assert result.ok, result.zones[0].message
    assert count(spark, project, "squares") == 6  # the even squares of 1..12: the YAML's filter applied
    again = run_pipeline(project, "squares", spark=spark)  # a kind that cannot tell its inputs always runs
    assert (again.zones[0].status, again.zones[0].inserted, again.zones[0].updated) == ("ok", 0, 0)


def test_unknown_kind_or_mode_is_a_config_error_naming_the_file(config_dir, sample, tmp_path):
    (config_dir / "zones" / "squares.yml").write_text(ZONE.replace("merge_keys: [n]", "merge_keys: [n], mode: mirrror"))
    project = project_for(config_dir, sample[0], tmp_path / "lake")
    with pytest.raises(ConfigError) as raised:
        run_pipeline(project, "squares")
    text = str(raised.value)
    assert "squares.yml: source.kind: unknown source kind 'squares'" in text
    assert "squares.yml: target.mode: unknown target mode 'mirrror'" in text and "mirror" in text
