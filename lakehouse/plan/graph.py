"""The zone graph: which zone produces each table, who reads it, and a run order.

Defining the graph is separate from executing it (as in Spark's declarative pipelines):
``ZoneGraph`` only knows names and edges, never DataFrames.
"""
from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Callable

from lakehouse.errors import ConfigError, Problem

if TYPE_CHECKING:
    from lakehouse.config.models import Zone

LAYERS = ("landing", "trusted", "curated")


@dataclass(frozen=True)
class ZoneGraph:
    zones: dict[str, Zone]
    producer: dict[str, str]          # table -> zone name
    depends_on: dict[str, list[str]]  # zone -> upstream zone names
    order: list[str]                  # every zone, upstream first

    @classmethod
    def build(cls, zones: dict[str, Zone], file_of: Callable[[str], str]) -> ZoneGraph:
        """The graph of ``zones``; every broken reference is a Problem in ``file_of(zone)``."""
        problems: list[Problem] = []
        producer: dict[str, str] = {}
        for name, zone in zones.items():
            table = zone.target.table
            if table in producer:
                other = producer[table]
                problems.append(Problem(file_of(name), "target.table",
                                        f"table {table!r} is also written by zone {other!r} ({file_of(other)})",
                                        "each table has exactly one zone that writes it"))
            else:
                producer[table] = name

        depends_on: dict[str, list[str]] = {}
        for name, zone in zones.items():
            ups: list[str] = []
            for key, table in _references(zone):
                if table not in producer:
                    problems.append(Problem(file_of(name), key, f"no zone produces table {table!r}",
                                            f"known tables: {', '.join(sorted(producer))}"))
                elif producer[table] == name:
                    problems.append(Problem(file_of(name), key, "a zone cannot read the table it writes",
                                            "read the upstream table instead"))
                elif producer[table] not in ups:
                    ups.append(producer[table])
            depends_on[name] = ups
        if problems:
            raise ConfigError(problems)

        # Layer then name breaks ties, so the order is stable and reads landing -> curated.
        rank = {n: (LAYERS.index(z.layer), n) for n, z in zones.items()}
        sorter = TopologicalSorter({n: depends_on[n] for n in sorted(depends_on, key=rank.get)})
        try:
            sorter.prepare()
        except CycleError as exc:
            cycle = exc.args[1]  # each zone is read by the next one
            key = next(k for k, t in _references(zones[cycle[1]]) if producer.get(t) == cycle[0])
            raise ConfigError([Problem(file_of(cycle[1]), key,
                                       "dependency cycle: " + " -> ".join(cycle),
                                       "a zone may only read tables of zones that do not read it back")]) from None
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=rank.get)
            order.extend(ready)
            sorter.done(*ready)
        return cls(dict(zones), producer, depends_on, order)

    def select(self, pipeline: str) -> list[str]:
        """Zones to run for --pipeline: 'all', a layer, a zone or table name, or a comma list of these."""
        wanted: set[str] = set()
        for part in (p.strip() for p in pipeline.split(",")):
            if part == "all":
                wanted.update(self.zones)
            elif part in LAYERS:
                wanted.update(n for n, z in self.zones.items() if z.layer == part)
            elif part in self.zones:
                wanted.add(part)
            elif part in self.producer:
                wanted.add(self.producer[part])
            else:
                raise ConfigError([Problem("--pipeline", part, "is not a zone, table or layer",
                                           "use 'all', one of " + ", ".join(LAYERS) + ", or a zone: "
                                           + ", ".join(self.order))])
        return [n for n in self.order if n in wanted]

    def downstream(self, zone: str) -> set[str]:
        """Every zone that reads, directly or not, what ``zone`` writes."""
        found: set[str] = set()
        frontier = [zone]
        while frontier:
            current = frontier.pop()
            for name, ups in self.depends_on.items():
                if current in ups and name not in found:
                    found.add(name)
                    frontier.append(name)
        return found


def _references(zone: Zone) -> list[tuple[str, str]]:
    """(key path, table) for every upstream table a zone names."""
    if zone.sql is not None:
        return [(f"sql.uses[{i}]", t) for i, t in enumerate(zone.sql.uses)]
    refs = [("source.table", zone.source.table)] if zone.source and zone.source.table else []
    return refs + [(f"joins[{i}].table", j.table) for i, j in enumerate(zone.joins)]
