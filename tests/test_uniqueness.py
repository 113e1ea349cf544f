"""When a zone's rows are one per key without a dedupe: decided from the YAML alone, no Spark."""
from __future__ import annotations

import pytest
import yaml

from lakehouse.config.loader import _Loader
from lakehouse.config.models import Zone
from lakehouse.plan.graph import ZoneGraph
from lakehouse.plan.uniqueness import new_source_keys_stay_new, unique_by_construction
from lakehouse.project import load_project
from tests.conftest import STEDI_CONFIGS


def _zone(text: str) -> Zone:
    return Zone.model_validate(yaml.load(text, Loader=_Loader))  # noqa: S506 - a SafeLoader


def _graph_with(*extra: Zone) -> ZoneGraph:
    zones = {**load_project(STEDI_CONFIGS).zones, **{z.name: z for z in extra}}
    return ZoneGraph.build(zones, lambda name: f"{name}.yml")


def test_stedi_trusted_and_curated_zones_skip_the_dedupe_except_the_fan_out_join():
    project = load_project(STEDI_CONFIGS)
    assert {n: unique_by_construction(z, project.graph) for n, z in project.zones.items()} == {
        # files: the same reading may land twice
        "customer_landing": False, "accelerometer_landing": False, "step_trainer_landing": False,
        "customer_trusted": True,        # a filter over customer_landing, keyed by email too
        "accelerometer_trusted": True,   # inner join on c.email, customer_trusted's key
        "customer_curated": True,        # a semi join
        "step_trainer_trusted": True,    # a semi join
        # joined on the serial number, which two customers may share: a reading may pair twice
        "machine_learning_curated": False,
    }


ACC = """
name: z
layer: curated
source: {table: accelerometer_trusted, alias: a}
"""
KEYS = "\ntarget: {table: z, merge_keys: [user, timestamp, x, y, z]}\n"


@pytest.mark.parametrize("body, unique", [
    ("filters: [x > 0]", True),
    ("joins: [{table: customer_curated, alias: c, on: a.user = c.email, columns: [c.serialNumber]}]", True),
    ("joins: [{table: customer_curated, alias: c, type: left, on: '`c`.`email` = `a`.user'}]", True),
    ("joins: [{table: customer_curated, alias: c, on: c.email = a.user AND c.birthDay > '2000'}]", True),
    ("joins: [{table: customer_curated, alias: c, type: semi, on: a.user = c.phone}]", True),
    ("joins: [{table: customer_curated, alias: c, type: anti, on: a.user = c.phone}]", True),
    ("columns: {rename: {user: email}}", None),  # keys follow the rename: see below
    # the joined table holds several rows per serial number, or per anything but its key
    ("joins: [{table: customer_curated, alias: c, on: a.user = c.phone}]", False),
    ("joins: [{table: customer_curated, alias: c, on: a.user = c.email OR a.user = c.phone}]", False),
    ("joins: [{table: customer_curated, alias: c, on: c.email = c.phone}]", False),
    ("joins: [{table: customer_curated, alias: c, on: a.user <=> c.email}]", False),
    # the other side not a plain column of another alias: it may be the joined table's own column,
    # fold several keys into one value, or be a predicate on the whole comparison
    ("joins: [{table: customer_curated, alias: c, on: c.email = lower(a.user)}]", False),
    ("joins: [{table: customer_curated, alias: c, on: c.email = user}]", False),
    ("joins: [{table: customer_curated, alias: c, on: c.email = a.user IS NOT NULL}]", False),
    # a key made here, or rows made several of one
    ("columns: {derive: {user: lower(user)}}", False),
    ("columns: {derive: {x: 'explode(array(x, y))'}}", False),
    ("columns: {derive: {x: '`explode`(array(x, y))'}}", False),
    ("columns: {select: [user, timestamp, x, y, 'posexplode(array(z)) AS (p, z)']}", False),
])
def test_joins_and_columns_decide(body, unique):
    if unique is None:  # renamed keys still carry the source's: unique
        zone = _zone(ACC + body + "\ntarget: {table: z, merge_keys: [email, timestamp, x, y, z]}\n")
        unique = True
    else:
        zone = _zone(ACC + body + KEYS)
    assert unique_by_construction(zone, _graph_with(zone)) is unique


def test_keys_must_carry_every_key_of_the_source():
    coarser = _zone(ACC + "\ntarget: {table: z, merge_keys: [user, timestamp]}\n")
    assert not unique_by_construction(coarser, _graph_with(coarser)), "three readings share (user, timestamp)"
    finer = _zone(ACC + "\ntarget: {table: z, merge_keys: [user, timestamp, x, y, z, _ingested]}\n")
    assert unique_by_construction(finer, _graph_with(finer))


def test_an_and_inside_a_call_binds_nothing():
    inside = _zone(ACC + "joins: [{table: customer_curated, alias: c, on: 'a.user = c.phone AND if(a.x > 0 AND "
                   "c.email = a.user, true, false)'}]" + KEYS)
    assert not unique_by_construction(inside, _graph_with(inside))
    wrapped = _zone(ACC + "joins: [{table: customer_curated, alias: c, on: '(a.user = c.email) AND (c.phone = a.user)'}]"
                    + KEYS)
    assert unique_by_construction(wrapped, _graph_with(wrapped))


def test_sql_and_files_zones_keep_the_dedupe():
    sql = _zone("name: s\nlayer: curated\nsql: {uses: [customer_trusted], query: SELECT email FROM customer_trusted}\n"
                "target: {table: s, merge_keys: [email]}")
    assert not unique_by_construction(sql, _graph_with(sql))


def test_new_source_keys_stay_new_only_in_a_mirror_that_reads_its_source_once():
    project = load_project(STEDI_CONFIGS)
    assert [n for n, z in project.zones.items() if new_source_keys_stay_new(z, project.graph)] == [
        "accelerometer_trusted", "customer_curated", "customer_trusted", "step_trainer_trusted"]
    # An upsert table keeps keys its source dropped; they come back as "new" source keys.
    kept = _zone(ACC + "\ntarget: {table: z, merge_keys: [user, timestamp, x, y, z], mode: upsert}\n")
    assert unique_by_construction(kept, _graph_with(kept)) and not new_source_keys_stay_new(kept, _graph_with(kept))
    # Joined to itself: a new row reaches old ones, whose keys the table holds.
    itself = _zone(ACC + "joins: [{table: accelerometer_trusted, alias: b, type: semi, on: b.user = a.user}]" + KEYS)
    assert unique_by_construction(itself, _graph_with(itself)) and not new_source_keys_stay_new(itself, _graph_with(itself))
