"""YAML-driven Delta Lake lakehouse engine.

The data's path through the package: ``config`` (typed models, loading, validation) ->
``plan`` (zone graph) -> ``zone`` (read -> transform -> validate -> promote) -> ``catalog`` and
run reports. ``runtime`` owns the one Spark session; ``cli`` and ``pipelines/`` are thin shells.
"""

__version__ = "0.1.0"
