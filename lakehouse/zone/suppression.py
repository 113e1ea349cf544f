"""Recognising an erased data subject's rows from a SHA-256 of their key, never the key itself.

A key is compared normalised (trimmed, lower case). Typed rows match on the project's subject
columns; raw text (a malformed line, a quarantined row's JSON) matches when any of its quoted
strings is the key, which is how both a JSON line and ``to_json`` of a row hold it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def normalise(key: str) -> str:
    return key.strip().lower()


def digest(key: str) -> str:
    return hashlib.sha256(normalise(key).encode("utf-8")).hexdigest()


def _hashed(value: Column) -> Column:
    return F.sha2(F.lower(F.trim(value)), 256)


def _quoted(raw: Column) -> Column:
    """Every "..." string in the text: JSON's values and names, lower case."""
    return F.regexp_extract_all(F.lower(raw), F.lit(r'"([^"\\]*)"'), F.lit(1))


@dataclass(frozen=True)
class Suppression:
    """The subjects erased so far (as digests) and the columns that hold a subject's key."""

    columns: tuple[str, ...]
    digests: frozenset[str]

    def subject_columns(self, df: DataFrame) -> list[str]:
        return [c for c in self.columns if c in df.columns]

    def row_matches(self, df: DataFrame) -> Column | None:
        """True for a row of an erased subject; None when ``df`` has no subject column."""
        present = self.subject_columns(df)
        if not present or not self.digests:
            return None
        hashes = sorted(self.digests)
        condition = F.lit(False)
        for column in present:
            condition = condition | F.coalesce(_hashed(F.col(column)).isin(hashes), F.lit(False))
        return condition

    def raw_matches(self, raw: Column) -> Column:
        hashes = sorted(self.digests)
        return F.coalesce(F.exists(_quoted(raw), lambda s: _hashed(s).isin(hashes)), F.lit(False))
