"""A zone's fingerprint: what its output depends on besides its inputs' data.

Equal fingerprints and equal inputs mean an equal result, so the run can skip the zone. It covers
the zone's YAML (as parsed, so comments and key order do not count), its suite with the zone's
overrides, and the engine's revision of how zones are computed. Not the environment's roots: a
lake copied or moved with its landing files stays up to date.
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakehouse.config.models import Zone

# Raise when a change to the engine changes what a zone computes: every zone then runs in full once.
ENGINE_REVISION = 2


def fingerprint(zone: Zone, suite: dict[str, Any] | None) -> str:
    parts = {"engine": ENGINE_REVISION, "zone": zone.model_dump(mode="json", by_alias=True), "suite": suite}
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
