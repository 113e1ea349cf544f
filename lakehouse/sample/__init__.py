"""Deterministic STEDI-shaped sample data with its expected results (see ``generator``)."""
from lakehouse.sample.generator import Manifest, generate

__all__ = ["Manifest", "generate"]
