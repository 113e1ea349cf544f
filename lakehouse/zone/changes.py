"""From upstream change feeds to the scope an incremental run recomputes.

For each upstream table that changed, its Change Data Feed since the version the ledger recorded
(inserts, deletes, and both images of updates) is matched the way the zone reads that table:

- the zone's source table: the changed rows' own scope values;
- a joined table: the source rows that, joined as the YAML says up to that join, meet a changed
  row under the join's condition. A new consenting customer thus brings in all their readings,
  and a withdrawn one takes all of theirs away.

A source row whose path through an earlier join changed is already caught by that join's
changes, so evaluating the later joins on the current tables is exact. A join whose changed rows
lie outside the source's value ranges on an equated integer column meets no source row
(``keyranges.cannot_meet``) and adds nothing, with no join run.
"""
from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse.storage import delta_rs
from lakehouse.zone.keyranges import cannot_meet, equated_columns
from lakehouse.zone.transform import join_step

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakehouse.plan.lineage import Scope
    from lakehouse.zone.context import ZoneContext


def affected_scope(ctx: ZoneContext, changed: dict[str, int]) -> DataFrame:
    """Distinct scope values (named as the target's key columns) touched by the changed tables;
    ``changed`` maps each changed upstream table to the version last processed."""
    zone, scope, tables = ctx.zone, ctx.scope, ctx.tables
    alias, source = zone.source.name, tables.read(zone.source.table)
    rust = delta_rs(ctx.env.lake_root)
    parts = []
    if zone.source.table in changed:
        parts.append(scope_values(tables.changes(zone.source.table, changed[zone.source.table]), scope, distinct=False))
    for i, join in enumerate(zone.joins):
        if join.table not in changed:
            continue
        base = source.alias(alias)
        for earlier in zone.joins[:i]:
            base = join_step(base, alias, tables.read(earlier.table), earlier)
        delta = tables.changes(join.table, changed[join.table]).alias(join.name)
        # Source columns only: one an earlier join added has no statistics of its own.
        pairs = [(s, c) for s, c in equated_columns(join.on, alias, join.name)
                 if [n.lower() for n in base.columns].count(s.lower()) == 1]
        if rust and pairs:
            delta = ctx.cache(delta)  # its ranges first, then (if they overlap) the join
            if cannot_meet(source, delta, pairs, rust, tables.location(zone.source.table),
                           tables.version(zone.source.table)):
                continue
        hit = base.join(delta, F.expr(join.on), "left_semi")
        parts.append(hit.select(*(F.col(f"{alias}.`{s}`").alias(k) for k, s in scope.columns)))
    if not parts:  # no change reaches a source row
        return scope_values(source.limit(0), scope)
    return reduce(lambda a, b: a.unionByName(b), parts).distinct()


def scope_values(rows: DataFrame, scope: Scope, distinct: bool = True) -> DataFrame:
    """The scope values (named as the target's key columns) of source ``rows``."""
    values = rows.select(*(F.col(f"`{s}`").alias(k) for k, s in scope.columns))
    return values.distinct() if distinct else values


def semi_join_scope(rows: DataFrame, scope_values: DataFrame, scope: Scope) -> DataFrame:
    """``rows`` (the source table) whose scope columns hold one of ``scope_values``; null-safe."""
    same = [F.col(f"r.`{s}`").eqNullSafe(F.col(f"v.`{k}`")) for k, s in scope.columns]
    return rows.alias("r").join(scope_values.alias("v"), reduce(lambda a, b: a & b, same), "left_semi")


def absent(scope_values: DataFrame, table: DataFrame, keys: list[str]) -> DataFrame:
    """The scope values no row of ``table`` holds."""
    return outside(scope_values, table.select(*keys), keys)


def within(target: DataFrame, scope_values: DataFrame, keys: list[str]) -> DataFrame:
    """The target's rows in the scope (``keys``: the scope's columns, named alike on both sides)."""
    return target.alias("t").join(scope_values.alias("v"), _same(keys), "left_semi")


def outside(target: DataFrame, scope_values: DataFrame, keys: list[str]) -> DataFrame:
    """The target's rows out of the scope: those an incremental run leaves as they are."""
    return target.alias("t").join(scope_values.alias("v"), _same(keys), "left_anti")


def _same(keys: list[str]):
    return reduce(lambda a, b: a & b, [F.col(f"t.`{k}`").eqNullSafe(F.col(f"v.`{k}`")) for k in keys])
