"""Before the quality gate: can the staged rows be promoted at all?

The keys and partition columns named in the YAML must be among the zone's output columns; only
Spark knows those, so this runs on the staged plan (no data is read). The suites run after it, in
``lakehouse.quality.gate``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.errors import ZoneFailed

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakehouse.config.models import Zone


def check_promotable(zone: Zone, staged: DataFrame, file: str) -> None:
    columns = set(staged.columns)
    for key, wanted in (("target.merge_keys", zone.target.merge_keys), ("target.partition_by", zone.target.partition_by),
                        ("dedupe.keys", zone.dedupe_keys)):
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise ZoneFailed(zone.name, file, f"{key}: {', '.join(missing)} not among the zone's output columns "
                             f"({', '.join(staged.columns)}); fix the key list or keep the column in 'columns'")
