"""Whether a batch's keys can be in its table at all, from the value ranges Delta keeps per file.

Every data file's commit records the minimum, maximum and null count of its first columns. A
staged row can equal a stored one under the MERGE's null-safe key condition only in a file whose
range, on every key column, holds that row's value. So when, for each of the table's files, some
integer key column of the batch lies wholly outside the file's range, every staged row adds a key
the table lacks: the zone appends, with no scan of the table to compare against. That is the usual
delivery of time-series readings (later timestamps than any stored); a re-delivered file overlaps
and takes the long way, which is always right.

The same ranges answer a join's question for an incremental run (``cannot_meet``): when a joined
table's changed rows hold, on some column the join's condition equates with a source column,
values outside every source file's range, no source row meets them, and the join's part of the
affected scope is empty without a Spark job over the source. New phone readings at later times
than any step reading thus reach no machine-learning row.

Read with delta-rs from the log alone (no Spark job); off a local lake, or wherever a file's
statistics are missing, the answer is "cannot tell" and the table is compared as before.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F
from pyspark.sql.types import ByteType, IntegerType, LongType, ShortType

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger("lakehouse.zone")
# Integers only: Delta truncates string statistics, and a double's -0.0 or NaN compare unlike Spark.
_INTEGRAL = (ByteType, ShortType, IntegerType, LongType)
_EQUALS = re.compile(r"^`?(\w+)`?\.`?(\w+)`?\s*=\s*`?(\w+)`?\.`?(\w+)`?$")


@dataclass(frozen=True)
class Range:
    low: int | None    # None: the batch holds no non-null value in the column
    high: int | None
    nulls: bool


def integral_keys(df: DataFrame, keys: list[str]) -> list[str]:
    types = {f.name: f.dataType for f in df.schema.fields}
    return [k for k in keys if isinstance(types.get(k), _INTEGRAL)]


def count_with_ranges(df: DataFrame, columns: list[str]) -> tuple[int, dict[str, Range]]:
    """The rows of ``df`` and each column's range, in one Spark job."""
    aggs = [F.count("*")]
    for c in columns:
        aggs += [F.min(F.col(f"`{c}`")), F.max(F.col(f"`{c}`")), F.count(F.when(F.col(f"`{c}`").isNull(), 1))]
    row = df.agg(*aggs).first()
    return row[0], {c: Range(row[1 + 3 * i], row[2 + 3 * i], row[3 + 3 * i] > 0) for i, c in enumerate(columns)}


def count_past_table(staged: DataFrame, keys: list[str], rust, location: str, version: int) -> tuple[int, bool]:
    """``staged``'s rows, and whether none of their keys can be in the table at ``version``."""
    columns = integral_keys(staged, keys)
    if not columns:
        return staged.count(), False
    rows, ranges = count_with_ranges(staged, columns)
    return rows, beyond_table(rust, location, version, ranges)


def past_table(rows: DataFrame, keys: list[str], rust, location: str, version: int) -> bool:
    """Whether none of ``rows``' keys can be in the table at ``version``."""
    return bool(integral_keys(rows, keys)) and count_past_table(rows, keys, rust, location, version)[1]


def beyond_table(rust, location: str, version: int, ranges: dict[str, Range]) -> bool:
    """True when no file of the table at ``version`` can hold a key of the batch (see above)."""
    if not ranges:
        return False
    import pyarrow as pa

    try:
        files = pa.table(rust.DeltaTable(location, version=version).get_add_actions(flatten=True)).to_pylist()
    except Exception as exc:  # noqa: BLE001 - a table feature delta-rs cannot read: Spark compares as before
        log.info("%s: key ranges unread (%s), comparing with the table", location, exc)
        return False
    return all(any(_outside(f, column, r) for column, r in ranges.items()) for f in files)


def _outside(stats: dict, column: str, batch: Range) -> bool:
    """Whether no row of the file can match a batch row on ``column`` (unknown statistics: no)."""
    low, high = stats.get(f"min.{column}"), stats.get(f"max.{column}")
    nulls, records = stats.get(f"null_count.{column}"), stats.get("num_records")
    if nulls is None or records is None:
        return False
    if batch.nulls and nulls > 0:  # null <=> null: a batch null may match a stored one
        return False
    if nulls == records or batch.low is None:  # one side holds no value to match
        return True
    if low is None or high is None:
        return False
    return batch.high < low or batch.low > high


def equated_columns(on: str, left: str, right: str) -> list[tuple[str, str]]:
    """The (``left`` alias's, ``right`` alias's) column pairs a join condition requires equal: its
    ``a.x = b.y`` conjuncts. None of a condition that is more than a conjunction (OR, parentheses,
    literals): reading it apart could be wrong, and only an exact reading may skip work."""
    if re.search(r"\bor\b|[()'\"]", on, re.IGNORECASE):
        return []
    pairs = []
    for part in re.split(r"\s+and\s+", on.strip(), flags=re.IGNORECASE):
        found = _EQUALS.match(part.strip())
        if not found:
            continue  # another kind of conjunct only narrows the join further
        a, x, b, y = found.groups()
        if (a.lower(), b.lower()) == (left.lower(), right.lower()):
            pairs.append((x, y))
        elif (a.lower(), b.lower()) == (right.lower(), left.lower()):
            pairs.append((y, x))
    return pairs


def cannot_meet(source: DataFrame, changed: DataFrame, pairs: list[tuple[str, str]], rust, location: str,
                version: int) -> bool:
    """True when no row of the source table (at ``location``, ``version``; read as ``source``) can
    equal a ``changed`` row on every pair of (source, changed) columns. ``=`` never holds for a
    null, so nulls on either side meet nothing."""
    left = {f.name.lower(): f for f in source.schema.fields}
    right = {f.name.lower(): f for f in changed.schema.fields}
    usable = [(left[s.lower()].name, right[c.lower()].name) for s, c in pairs
              if isinstance(getattr(left.get(s.lower()), "dataType", None), _INTEGRAL)
              and isinstance(getattr(right.get(c.lower()), "dataType", None), _INTEGRAL)]
    if not usable:
        return False
    rows, ranges = count_with_ranges(changed, [c for _, c in usable])
    if not rows:
        return True
    return beyond_table(rust, location, version, {s: Range(ranges[c].low, ranges[c].high, False) for s, c in usable})
