"""Configuration: typed models of zone, environment and project YAML, and their loading."""
from lakehouse.config.models import Environment, Zone

__all__ = ["Environment", "Zone"]
