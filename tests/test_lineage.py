"""Which keys an incremental run may scope by: traced from the YAML, without Spark."""
from __future__ import annotations

import pytest
import yaml

from lakehouse.config.loader import _Loader
from lakehouse.project import load_project
from lakehouse.config.models import Zone
from lakehouse.plan.lineage import scope_of
from tests.conftest import STEDI_CONFIGS


def _zone(text: str) -> Zone:
    return Zone.model_validate(yaml.load(text, Loader=_Loader))  # noqa: S506 - a SafeLoader


def test_stedi_zones_scope_by_the_keys_their_source_carries():
    zones = load_project(STEDI_CONFIGS).zones
    scopes = {n: (scope_of(z).keys if scope_of(z) else None) for n, z in zones.items()}
    assert scopes == {
        "customer_landing": None, "accelerometer_landing": None, "step_trainer_landing": None,  # files
        "customer_trusted": ["email"],
        "accelerometer_trusted": ["user", "timestamp", "x", "y", "z"],
        "customer_curated": ["email"],
        "step_trainer_trusted": ["serialNumber", "sensorReadingTime"],
        # x, y, z come from the joined accelerometer: a change there is found through the join
        "machine_learning_curated": ["serialNumber", "sensorReadingTime"],
    }


BASE = """
name: z
layer: curated
source: {table: accelerometer_trusted, alias: a}
joins:
  - {table: customer_curated, alias: c, on: a.user = c.email, columns: [c.serialNumber, c.email AS owner]}
"""


@pytest.mark.parametrize("extra, keys, expected", [
    ("", "[user, timestamp]", [("user", "user"), ("timestamp", "timestamp")]),
    ("columns: {rename: {user: email}}", "[email, timestamp]", [("email", "user"), ("timestamp", "timestamp")]),
    ("columns: {select: [a.user AS who, timestamp]}", "[who, timestamp]", [("who", "user"), ("timestamp", "timestamp")]),
    ("columns: {select: ['*']}", "[user]", [("user", "user")]),
    # made by the join, or derived: not the source's own column
    ("", "[owner, timestamp]", [("timestamp", "timestamp")]),
    ("", "[serialNumber]", None),
    ("columns: {derive: {day: to_date(timestamp_millis(timestamp))}}", "[user, day]", [("user", "user")]),
    ("columns: {derive: {user: lower(user)}}", "[user, timestamp]", [("timestamp", "timestamp")]),
    ("columns: {select: [user, 'x * 2 AS timestamp']}", "[user, timestamp]", [("user", "user")]),
    # a window makes rows depend on each other: no row can be recomputed alone
    ("columns: {derive: {n: row_number() OVER (PARTITION BY user ORDER BY timestamp)}}", "[user, timestamp]", None),
])
def test_scope_follows_renames_and_stops_at_made_columns(extra, keys, expected):
    zone = _zone(BASE + extra + f"\ntarget: {{table: z, merge_keys: {keys}}}\n")
    scope = scope_of(zone)
    assert (list(scope.columns) if scope else None) == expected


def test_sql_zones_and_dedupe_keys():
    sql = _zone("name: s\nlayer: curated\nsql: {uses: [t], query: SELECT 1 AS k}\ntarget: {table: s, merge_keys: [k]}")
    assert scope_of(sql) is None
    narrowed = _zone(BASE + "dedupe: {keys: [user]}\ntarget: {table: z, merge_keys: [user, timestamp]}\n")
    assert scope_of(narrowed).keys == ["user"], "dedupe groups by its keys: the scope must not split a group"
