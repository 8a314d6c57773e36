"""Fewer garbage collections during bulk work.

A harvest allocates millions of short-lived containers (rows, documents, match keys). With
CPython's default thresholds (700, 10, 10) that triggers a young collection every few records and
a full one, which walks every object the process holds (modules, SQLAlchemy metadata, OpenCC's
tables, caches), every 70,000 allocations. Measured on 20,000-record harvests: 2.9 s of the
pipeline process's CPU went to the collector, 145 µs per record, and the harvest took 16-18 s
against 13.6-13.8 s with the thresholds below. Almost everything a harvest allocates is freed by
reference counting; cycles are still collected, only less often.

Less often must still be regularly: SQLAlchemy's statement objects are reference cycles (an
expression and its memoised comparator; bind parameters holding a batch's ids), a few hundred
containers per stored page, and a page leaves few *net* container allocations behind, so with
the thresholds below alone a young collection came only every ~200 pages and that garbage piled
up: 16 MiB more resident memory after 20,000 records than with a collection per page. So bulk
loops also call :func:`between_batches` after each page or batch: the young and middle
generations every :data:`YOUNG_EVERY` batches (after every one they took 46 ms of wall time per
500-record page on the shared 2-core machine, 3.7 s over a 40,000-record harvest), the whole heap
(80 ms of CPU) every :data:`FULL_EVERY` batches.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Young collections after this many net container allocations (default 700); a middle one after
#: 20 young ones, a full one after 100 middle ones (and only when CPython's own ratio allows).
BULK_THRESHOLDS = (50_000, 20, 100)


#: The young and middle generations are collected after every this many batches. A young
#: collection walks every container allocated since the last one that is still alive, and right
#: after a page that is mostly the page itself (its documents, on their way to the index):
#: ~34,000 objects, ~10 ms of CPU, whether one page's garbage cycles wait for it or four. Measured
#: with ``gc.callbacks`` on 5,000-record harvests (pages of 500): 18-30 µs of collector CPU a record
#: after every page, 7-10 µs after every fourth; the cycles of at most four pages wait meanwhile.
YOUNG_EVERY = 4
#: A full collection (every object of the process) after this many batches (a multiple of
#: :data:`YOUNG_EVERY`).
FULL_EVERY = 100


def between_batches(number: int) -> None:
    """Collect the garbage cycles a bulk job's batches (harvested pages, batches of a rebuild) left.

    ``number`` counts the batches of the job: every :data:`YOUNG_EVERY`-th collects the young
    generations, every :data:`FULL_EVERY`-th everything, so a cycle that lived across batches
    (and was promoted to the oldest generation) goes too."""
    if number % YOUNG_EVERY == 0:
        gc.collect(2 if number % FULL_EVERY == 0 else 1)


class _Raised:
    """How many bulk jobs of this process run now, and the thresholds to restore after the last.

    Counted rather than saved per job: the worker runs several harvests at once in threads, and
    their spans overlap without nesting (the first to end must not restore, the last must)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.saved: tuple[int, int, int] = gc.get_threshold()


_RAISED = _Raised()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's thresholds while the block runs; the last block of the process to
    end restores the thresholds found when the first began."""
    with _RAISED.lock:
        if _RAISED.running == 0:
            _RAISED.saved = gc.get_threshold()
            gc.set_threshold(*(max(new, old) for new, old in zip(BULK_THRESHOLDS, _RAISED.saved, strict=True)))
        _RAISED.running += 1
    try:
        yield
    finally:
        with _RAISED.lock:
            _RAISED.running -= 1
            if _RAISED.running == 0:
                gc.set_threshold(*_RAISED.saved)
