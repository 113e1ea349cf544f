"""Planning: the zone graph built from the tables zones read and write."""
from lakehouse.plan.graph import ZoneGraph

__all__ = ["ZoneGraph"]
