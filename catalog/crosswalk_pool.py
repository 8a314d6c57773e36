"""Crosswalking a page of records on several cores.

Parsing MARC is most of a harvest's CPU time, so pages are mapped in worker processes while the
main process does the database and index work. Small pages, and machines with one core, map in
process. The result of each record is its document as a dict, or the :class:`CrosswalkError` text.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from mappings import CrosswalkError, crosswalk

Item = tuple[bytes, str, str | None]  # raw, encoding, syntax
Mapped = tuple[dict | None, str | None]  # document, or the reason it could not be mapped

#: Pages smaller than this are mapped in process (a round trip to the workers costs more).
MIN_PARALLEL = 64


def map_one(item: Item) -> Mapped:
    raw, encoding, syntax = item
    try:
        return crosswalk(raw, encoding, syntax).to_dict(), None
    except CrosswalkError as exc:
        return None, str(exc)


def map_all(items: list[Item]) -> list[Mapped]:
    """Map a batch in this process."""
    return [map_one(item) for item in items]


class CrosswalkPool:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers if workers > 0 else min(os.cpu_count() or 1, 4)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, items: list[Item]) -> list[Mapped]:
        if self.workers < 2 or len(items) < MIN_PARALLEL:
            return map_all(items)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
        size = -(-len(items) // (self.workers * 2))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        return [mapped for part in self._pool.map(map_all, chunks) for mapped in part]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
