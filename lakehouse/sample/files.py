"""Writing the sample's landing files: rows split into files, malformed lines slipped in."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path
from collections import deque
from typing import Callable

SOURCES = ("customer", "accelerometer", "step_trainer")
#: rows per accelerometer / step trainer file, as in the real data.
ROWS_PER_FILE = 10_000
#: default malformed lines per source when ``malformed`` is None.
DEFAULT_MALFORMED = {"customer": 2, "accelerometer": 3, "step_trainer": 3}
#: files per reading source at least, so that a reader always has to combine several files.
MIN_FILES_PER_SOURCE = 2
#: epoch-ms suffix of the real customer file; the reading files' suffixes follow it.
CUSTOMER_FILE_EPOCH_MS = 1_691_348_231_425
#: consecutive real landing files' suffixes are 40-150 ms apart (one export, file after file).
FILE_GAP_MIN_MS = 40
FILE_GAP_SPREAD_MS = 110
#: a malformed line needs a valid line before it (it is made from it) and one after it.
MIN_ROWS_TO_HOST_BAD_LINE = 2
#: truncated lines stop at 1/4, 2/4 or 3/4 of the line, so the cut falls in varied places.
TRUNCATION_POINTS = ((1, 4), (2, 4), (3, 4))
#: what replaces ``x`` in the malformed accelerometer lines that are still valid JSON.
NOT_A_NUMBER = "abc"


def malformed_per_source(malformed: int | None) -> dict[str, int]:
    """How many malformed lines each source gets, from ``generate``'s ``malformed`` argument."""
    if malformed is None:
        return dict(DEFAULT_MALFORMED)
    if isinstance(malformed, bool) or not isinstance(malformed, int) or malformed < 0:
        raise ValueError(f"malformed must be None or an int >= 0, got {malformed!r}")
    return {s: malformed for s in SOURCES}


def truncated_line(line: str, k: int) -> str:
    """A prefix of a JSON object line: never valid JSON, its closing brace is gone."""
    numerator, denominator = TRUNCATION_POINTS[k % len(TRUNCATION_POINTS)]
    cut = max(1, len(line) * numerator // denominator)
    return line[:cut]


def malformed_accelerometer_line(line: str, k: int) -> str:
    """The ``k``-th bad accelerometer line: a wrong type, or JSON cut short in two ways."""
    if k % 2 == 1:  # valid JSON with x not a number: only a type check catches it
        rec = json.loads(line)
        rec["x"] = NOT_A_NUMBER
        return json.dumps(rec, separators=(",", ":"))
    if k % 4 == 0:  # cut right after the timestamp key, as a writer killed mid-line would
        return line[: line.index('"timestamp":') + len('"timestamp":')]
    return truncated_line(line, k)


class LandingFileWriter:
    """Writes valid lines into files of ``per_file`` lines and slips malformed lines in the
    middle of the files, each made from the valid line just before it."""

    def __init__(
        self,
        folder: Path,
        prefix: str,
        epochs: list[int],
        per_file: int,
        total: int,
        n_bad: int,
        make_bad: Callable[[str, int], str],
    ) -> None:
        self.folder, self.prefix, self.epochs = folder, prefix, epochs
        self.per_file, self.make_bad = per_file, make_bad
        self.sizes = [min(per_file, total - i * per_file) for i in range(len(epochs))]
        # bad lines are dealt round-robin to the files that can host one, then spread evenly
        # through each file, after a valid line and (room permitting) before another
        host_files = [
            i for i, size in enumerate(self.sizes) if size >= MIN_ROWS_TO_HOST_BAD_LINE
        ] or [0]
        bad_by_file: dict[int, list[int]] = {}
        for k in range(n_bad):
            bad_by_file.setdefault(host_files[k % len(host_files)], []).append(k)
        # file index -> queue of (valid lines written before it, bad line number k)
        self.pending_bad: dict[int, deque[tuple[int, int]]] = {}
        for file_index, bad_ks in bad_by_file.items():
            size = self.sizes[file_index]
            self.pending_bad[file_index] = deque(
                (min(max(1, (i + 1) * size // (len(bad_ks) + 1)), max(1, size - 1)), k)
                for i, k in enumerate(bad_ks)
            )
        self.file_index = -1
        self.in_file = 0
        self.fh = None
        self.last_valid_line = ""
        self.n_bad_written = 0

    def _open_next(self) -> None:
        if self.fh is not None:
            self._write_due_bad_lines(final=True)
            self.fh.close()
        self.file_index += 1
        path = self.folder / f"{self.prefix}-{self.epochs[self.file_index]}.json"
        self.fh = open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self.in_file = 0

    def _write_due_bad_lines(self, final: bool = False) -> None:
        queue = self.pending_bad.get(self.file_index)
        while queue and (final or queue[0][0] <= self.in_file) and self.last_valid_line:
            _, k = queue.popleft()
            self.fh.write(self.make_bad(self.last_valid_line, k) + "\n")
            self.n_bad_written += 1

    def write(self, lines: list[str]) -> None:
        i, n = 0, len(lines)
        while i < n:
            if self.fh is None or self.in_file >= self.per_file:
                self._open_next()
            stop = min(n, i + self.per_file - self.in_file)
            queue = self.pending_bad.get(self.file_index)
            if queue and queue[0][0] < self.in_file + (stop - i):
                stop = i + max(0, queue[0][0] - self.in_file)
            if stop > i:
                self.fh.write("\n".join(lines[i:stop]) + "\n")
                self.in_file += stop - i
                self.last_valid_line = lines[stop - 1]
                i = stop
            self._write_due_bad_lines()

    def close(self) -> int:
        """Close the last file; returns how many files were written."""
        if self.fh is None:
            self._open_next()
        self._write_due_bad_lines(final=True)
        self.fh.close()
        self.fh = None
        return self.file_index + 1


def prepare_landing_folders(out_dir: Path) -> dict[str, Path]:
    """Create each source's landing folder, emptied of old ``*.json`` files and manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    folders = {}
    for source in SOURCES:
        folder = out_dir / source / "landing"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.json"):
            if old.is_file():
                old.unlink()
        folders[source] = folder
    manifest = out_dir / "manifest.json"
    if manifest.is_file():
        manifest.unlink()
    return folders


def split_into_files(total: int) -> tuple[int, int]:
    """Rows per file and number of files: 10,000 a file, never fewer than 2 files."""
    per_file = max(1, min(ROWS_PER_FILE, math.ceil(total / MIN_FILES_PER_SOURCE)))
    return per_file, max(MIN_FILES_PER_SOURCE, math.ceil(total / per_file))


def file_epochs(rng: random.Random, start: int, n: int) -> list[int]:
    """The epoch-ms suffixes of ``n`` files written one after another after ``start``."""
    out, t = [], start
    for _ in range(n):
        t += FILE_GAP_MIN_MS + int(rng.random() * FILE_GAP_SPREAD_MS)
        out.append(t)
    return out
