"""Configuration: typed models of zone and environment YAML, and their loading."""
from lakehouse.config.loader import Project, load_project
from lakehouse.config.models import Environment, Zone

__all__ = ["Environment", "Project", "Zone", "load_project"]
