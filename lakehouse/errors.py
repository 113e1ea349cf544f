"""Errors a user can act on. The CLI prints them without a traceback."""
from __future__ import annotations

from dataclasses import dataclass


class LakehouseError(Exception):
    """Base of every error that is the user's to fix; exit_code tells the CLI how to leave."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One mistake in the configuration: where it is, what is wrong, how to fix it."""

    file: str
    key: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        text = f"{where}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


class ConfigError(LakehouseError):
    """One or more configuration problems, all reported at once before any Spark work."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ZoneFailed(LakehouseError):
    """A zone could not run (bad SQL against real data, unreadable input...)."""

    exit_code = 1

    def __init__(self, zone: str, file: str, message: str):
        self.zone, self.file = zone, file
        super().__init__(f"zone {zone} ({file}): {message}")


# Spark's words when a local checkpoint's blocks are gone (their executor died, see zone.handoff).
LOST_ROWS = "Checkpoint block"


class RowsLost(RuntimeError):
    """Rows held in memory are gone: the zone is computed again from the tables."""


def lost_rows(exc: BaseException | str) -> bool:
    return isinstance(exc, RowsLost) or LOST_ROWS in str(exc)[:3000]


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (Spark's run to pages), or its type if it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
