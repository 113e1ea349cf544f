"""The generator's answer sheet: what was written and the counts a correct run must produce."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Manifest:
    """What was generated and the row counts a correct lakehouse run must produce.

    ``counts`` keys: ``customer_landing``, ``accelerometer_landing``, ``step_trainer_landing``
    (valid lines), ``customer_trusted`` (research consent present), ``accelerometer_trusted``
    (rows of trusted customers), ``customer_curated`` (trusted customers with at least one
    trusted accelerometer row), ``step_trainer_trusted`` (rows of curated customers' serial
    numbers), ``machine_learning_curated`` (step trainer trusted x accelerometer trusted on
    same timestamp and same customer), ``machine_learning_curated_timestamp_only`` (same on the
    timestamp alone) and ``after_consent`` (the accelerometer_trusted / customer_curated /
    step_trainer_trusted / machine_learning_curated chain when accelerometer_trusted keeps only
    readings at or after the customer's shareWithResearchAsOfDate).
    """

    scale: float
    seed: int
    files: dict[str, int] = field(default_factory=dict)
    malformed: dict[str, int] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        counts = dict(self.counts)
        if "after_consent" in counts:
            counts["after_consent"] = dict(counts["after_consent"])
        return {
            "scale": self.scale,
            "seed": self.seed,
            "files": dict(self.files),
            "malformed": dict(self.malformed),
            "counts": counts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        return cls(
            scale=data["scale"],
            seed=data["seed"],
            files=dict(data["files"]),
            malformed=dict(data["malformed"]),
            counts={k: (dict(v) if isinstance(v, dict) else v) for k, v in data["counts"].items()},
        )

    @classmethod
    def load(cls, path: Path | str) -> "Manifest":
        """Read a manifest.json (give the file or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
