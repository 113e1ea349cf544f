"""Which of a zone's keys are its source's own columns, passed through unchanged.

An incremental run recomputes a zone for the *scope* of what changed: the values of these
columns. That is exact only when every output row with a given scope value comes from source rows
with the same value, so dedupe never groups rows across scope values and a deleted source row
takes exactly its own outputs with it. This module finds those columns from the YAML alone (no
Spark): keys that are renamed or selected plainly trace back; keys made by a join, a derived
expression or a window function do not. A zone with no traceable key is recomputed in full.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse.config.models import Zone

_PLAIN = re.compile(r"^(?:`?(?P<qual>\w+)`?\.)?`?(?P<col>\w+)`?(?:\s+(?:as\s+)?`?(?P<alias>\w+)`?)?$", re.I)
_NAMED = re.compile(r"\bas\s+`?(\w+)`?\s*$", re.I)
_STAR = re.compile(r"^(?:`?(\w+)`?\.)?\*$")
_WINDOW = re.compile(r"\bover\s*\(", re.I)  # a value computed across rows: no row stands alone


@dataclass(frozen=True)
class Scope:
    """target key column -> the source column it is (same value, maybe another name)."""

    columns: tuple[tuple[str, str], ...]

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self.columns]

    @property
    def source_columns(self) -> list[str]:
        return [s for _, s in self.columns]

    def describe(self) -> str:
        return ", ".join(k if k == s else f"{k} (source {s})" for k, s in self.columns)


class _Columns:
    """Output column name -> source column (None: made here). Open until a select names columns."""

    def __init__(self) -> None:
        self.known: dict[str, str | None] = {}
        self.closed = False

    def lookup(self, name: str) -> str | None:
        key = name.lower()
        if key in self.known:
            return self.known[key]
        return None if self.closed else name

    def set(self, name: str, source: str | None) -> None:
        self.known[name.lower()] = source


def _output_name(expression: str) -> str | None:
    """The column name an expression produces, when the YAML gives one."""
    m = _PLAIN.match(expression.strip())
    if m:
        return m.group("alias") or m.group("col")
    named = _NAMED.search(expression)
    return named.group(1) if named else None


def expressions(zone: Zone) -> list[str]:
    """Every SQL expression of a declarative zone: filters, join conditions and kept columns,
    derived and selected columns."""
    found = [*zone.filters, *(c for j in zone.joins for c in j.columns), *(j.on for j in zone.joins)]
    if zone.columns is not None:
        found += [*zone.columns.derive.values(), *(zone.columns.select or [])]
    return found


def scope_of(zone: Zone) -> Scope | None:
    """The incremental scope of a declarative zone over an upstream table; None: recompute in full."""
    if zone.sql is not None or zone.source is None or not zone.source.table:
        return None
    if any(_WINDOW.search(e) for e in expressions(zone)):
        return None
    columns = zone.columns

    cols = _Columns()
    for join in zone.joins:
        for expression in join.columns:
            name = _output_name(expression)
            if name is not None:
                cols.set(name, None)  # made by the join, whatever the source has by that name
    if columns is not None:
        for name, expression in columns.derive.items():
            cols.set(name, _plain_source(expression, zone, cols))
        if columns.select is not None:
            stars = [e for e in columns.select if _STAR.match(e.strip())]
            selected = _Columns()
            selected.closed = cols.closed or not stars
            for expression in columns.select:
                if _STAR.match(expression.strip()):
                    for k, v in cols.known.items():
                        selected.known.setdefault(k, v)
                elif (name := _output_name(expression)) is not None:
                    selected.set(name, _plain_source(expression, zone, cols))
            cols = selected
        for old, new in columns.rename.items():
            source = cols.lookup(old)
            cols.set(old, None)  # that name no longer holds the source column
            cols.set(new, source)
        for name in columns.drop:
            cols.set(name, None)

    traced = tuple((k, s) for k in zone.dedupe_keys if (s := cols.lookup(k)) is not None)
    return Scope(traced) if traced else None


def _plain_source(expression: str, zone: Zone, cols: _Columns) -> str | None:
    """The source column a plain reference (``col``, ``alias.col``, ``col AS x``) names, if any."""
    m = _PLAIN.match(expression.strip())
    if not m:
        return None
    qualifier = m.group("qual")
    if qualifier and qualifier.lower() != zone.source.name.lower():
        return None  # a joined table's column
    return cols.lookup(m.group("col"))
