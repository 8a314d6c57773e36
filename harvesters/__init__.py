"""Harvesters: one module per protocol. A harvester only yields pages of records and checkpoints;
it never writes to the record store or the index (the pipeline in ``catalog`` does)."""

from harvesters.base import HarvestedRecord, Harvester, HarvestError, Page

__all__ = ["HarvestError", "HarvestedRecord", "Harvester", "Page"]
