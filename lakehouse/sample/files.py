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


def _count_malformed(malformed: int | None) -> dict[str, int]:
    if malformed is None:
        return dict(DEFAULT_MALFORMED)
    if isinstance(malformed, bool) or not isinstance(malformed, int) or malformed < 0:
        raise ValueError(f"malformed must be None or an int >= 0, got {malformed!r}")
    return {s: malformed for s in SOURCES}



def _truncate(line: str, k: int) -> str:
    """A prefix of a JSON object line: never valid JSON, its closing brace is gone."""
    cut = max(1, len(line) * (k % 3 + 1) // 4)
    return line[:cut]


def _acc_bad(line: str, k: int) -> str:
    if k % 2 == 1:  # valid JSON, but x is not a number
        rec = json.loads(line)
        rec["x"] = "abc"
        return json.dumps(rec, separators=(",", ":"))
    if k % 4 == 0:  # cut right after the timestamp key, as a writer killed mid-line would
        return line[: line.index('"timestamp":') + len('"timestamp":')]
    return _truncate(line, k)


class _SplitWriter:
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
        # malformed line k goes to one of the files big enough, after `pos` valid lines
        hosts = [i for i, s in enumerate(self.sizes) if s >= 2] or [0]
        per_host: dict[int, list[int]] = {}
        for k in range(n_bad):
            per_host.setdefault(hosts[k % len(hosts)], []).append(k)
        self.bad: dict[int, deque[tuple[int, int]]] = {}
        for f, ks in per_host.items():
            size = self.sizes[f]
            self.bad[f] = deque(
                (min(max(1, (i + 1) * size // (len(ks) + 1)), max(1, size - 1)), k)
                for i, k in enumerate(ks)
            )
        self.file_index = -1
        self.in_file = 0
        self.fh = None
        self.last = ""
        self.n_bad_written = 0

    def _open_next(self) -> None:
        if self.fh is not None:
            self._flush_bad(final=True)
            self.fh.close()
        self.file_index += 1
        path = self.folder / f"{self.prefix}-{self.epochs[self.file_index]}.json"
        self.fh = open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)
        self.in_file = 0

    def _flush_bad(self, final: bool = False) -> None:
        queue = self.bad.get(self.file_index)
        while queue and (final or queue[0][0] <= self.in_file) and self.last:
            _, k = queue.popleft()
            self.fh.write(self.make_bad(self.last, k) + "\n")
            self.n_bad_written += 1

    def write(self, lines: list[str]) -> None:
        i, n = 0, len(lines)
        while i < n:
            if self.fh is None or self.in_file >= self.per_file:
                self._open_next()
            stop = min(n, i + self.per_file - self.in_file)
            queue = self.bad.get(self.file_index)
            if queue and queue[0][0] < self.in_file + (stop - i):
                stop = i + max(0, queue[0][0] - self.in_file)
            if stop > i:
                self.fh.write("\n".join(lines[i:stop]) + "\n")
                self.in_file += stop - i
                self.last = lines[stop - 1]
                i = stop
            self._flush_bad()

    def close(self) -> int:
        """Close the last file; returns how many files were written."""
        if self.fh is None:
            self._open_next()
        self._flush_bad(final=True)
        self.fh.close()
        self.fh = None
        return self.file_index + 1


def _prepare(out_dir: Path) -> dict[str, Path]:
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


def _per_file(total: int) -> tuple[int, int]:
    """Rows per file and number of files: 10,000 a file, never fewer than 2 files."""
    per_file = max(1, min(ROWS_PER_FILE, math.ceil(total / 2)))
    return per_file, max(2, math.ceil(total / per_file))


def _epochs(rng: random.Random, start: int, n: int) -> list[int]:
    out, t = [], start
    for _ in range(n):
        t += 40 + int(rng.random() * 110)
        out.append(t)
    return out
