"""Whether a zone's rows are one per key by construction, so its dedupe can be left out.

Every table a zone writes holds one row per merge key: each batch is one row per dedupe key
(which ``config.models`` keeps among the merge keys), and MERGEs or appends by the merge keys.
A zone over such a table keeps that property when nothing it does can make two rows of one key:

- it reads a table (source kind ``table``), and its keys carry, unchanged, every merge key of that
  table (``lineage.scope_of``);
- each join is a semi or anti join (it only drops rows), or an inner or left join whose ``on``
  equates every merge key of the joined table to a plain column of another alias (at most one
  match);
- no expression makes several rows of one (a generator such as ``explode``; a window already
  stops the key's lineage).

Then the dedupe, a shuffle and a sort of every staged row, would keep every row: at 10x the
sample data it is about a tenth of a first run. Anything the YAML says that this module does not
understand keeps the dedupe.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lakehouse.plan.lineage import expressions, scope_of

if TYPE_CHECKING:
    from lakehouse.config.models import Join, Zone
    from lakehouse.plan.graph import ZoneGraph

_GENERATOR = re.compile(r"\b(?:explode|explode_outer|posexplode|posexplode_outer|inline|inline_outer|stack)`?\s*\(",
                        re.I)
_AND = re.compile(r"\s+and\s+", re.I)
_EQUALS = re.compile(r"^(?P<left>[^=<>!]+?)\s*==?\s*(?P<right>[^=<>!]+)$")
_COLUMN = r"^`?{alias}`?\.`?(?P<col>\w+)`?$"
_QUALIFIED = re.compile(r"^`?(?P<alias>\w+)`?\.`?\w+`?$")


def unique_by_construction(zone: Zone, graph: ZoneGraph) -> bool:
    """True when the zone's rows hold at most one row per dedupe key without deduplicating."""
    scope = scope_of(zone)
    if scope is None or zone.source is None or not zone.source.table or zone.source.kind not in (None, "table"):
        return False
    source_keys = unique_keys(graph, zone.source.table)
    traced = {c.lower() for c in scope.source_columns}
    if source_keys is None or not source_keys <= traced:
        return False
    if any(_GENERATOR.search(e) for e in expressions(zone)):
        return False
    return all(_at_most_one_match(join, graph) for join in zone.joins)


def new_source_keys_stay_new(zone: Zone, graph: ZoneGraph) -> bool:
    """A key new to the zone's source table is new to the zone's table too: the table mirrors the
    source (an upsert or append table keeps keys the source dropped, which may come back), holds
    one row per source key, and reads the source only once (a self-join makes new rows reach old
    ones). What the commits of a run then say decides (``zone.sources``)."""
    return (zone.target_mode == "mirror" and unique_by_construction(zone, graph)
            and zone.source.table not in {j.table for j in zone.joins})


def unique_keys(graph: ZoneGraph, table: str) -> set[str] | None:
    """The columns ``table`` holds one row per (lower case): its merge keys, which its zone's
    dedupe keys are among (``config.models``); None for a table no zone writes."""
    producer = graph.zones.get(graph.producer.get(table, ""))
    return None if producer is None else {k.lower() for k in producer.target.merge_keys}


def _at_most_one_match(join: Join, graph: ZoneGraph) -> bool:
    if join.type in ("semi", "anti"):
        return True
    keys = unique_keys(graph, join.table)
    return keys is not None and keys <= _bound_columns(join.on, join.name)


def _bound_columns(on: str, alias: str) -> set[str]:
    """Columns of ``alias`` that ``on`` equates to a column of another alias, when ``on`` is a
    conjunction (any other conjunct only narrows the match); anything else binds nothing."""
    if re.search(r"\bor\b", on, re.I):
        return set()
    terms = [t.strip() for t in _AND.split(on.strip())]
    if any(t.count("(") != t.count(")") for t in terms):  # an AND inside a call or a bracket
        return set()
    own = re.compile(_COLUMN.format(alias=re.escape(alias)), re.I)
    bound = set()
    for term in terms:
        m = _EQUALS.match(term[1:-1].strip() if term.startswith("(") and term.endswith(")") else term)
        if not m:
            continue
        for side, other in ((m["left"], m["right"]), (m["right"], m["left"])):
            # The other side a plain column of another alias: an unqualified name or an
            # expression may be the joined table's own, or fold several keys into one value.
            column, theirs = own.match(side.strip()), _QUALIFIED.match(other.strip())
            if column and theirs and theirs["alias"].lower() != alias.lower():
                bound.add(column["col"].lower())
    return bound
