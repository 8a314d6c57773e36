"""Crosswalking a page of records on several cores.

Parsing MARC is most of a harvest's CPU time, so pages are mapped in worker processes while the
main process does the database and index work. Small pages, and machines with one core, map in
process. The result of each record is its document as the JSON text the store writes (encoded
here, so the main process neither unpickles a nested dict nor encodes it again to store it) and
its match keys (computed here too, where the document is at hand), or the :class:`CrosswalkError`
text.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import operator
import os
import pickle
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from catalog.context import Services
from mappings import CrosswalkError, MatchKeys, crosswalk, match_keys
from mappings.document import BibDocument
from store.db import encode_json

Item = tuple[bytes, str, str | None]  # raw, encoding, syntax
#: (the document's JSON text, None, its match keys), or (None, the reason it could not be mapped, None);
#: match keys mapped in a worker process come back as :class:`SentKeys`.
Mapped = tuple[str | None, str | None, "MatchKeys | SentKeys | None"]

#: Pages smaller than this are mapped in process (a round trip to the workers costs more).
MIN_PARALLEL = 64


def map_one(item: Item) -> Mapped:
    raw, encoding, syntax = item
    try:
        doc = crosswalk(raw, encoding, syntax)
    except CrosswalkError as exc:
        return None, str(exc), None
    return _document_json(doc), None, match_keys(doc)


def _document_json(doc: BibDocument) -> str:
    """``encode_json(doc.to_dict())``, encoded from the dataclass itself: orjson writes a
    dataclass's fields in their order, as ``to_dict`` lists them (the same text for 7,000 LC
    records, Latin and Chinese, and for the build snapshot's MARC 21 and UNIMARC records), in a
    third of the time (3.3 against 10.9 µs a record). A value orjson does not take (a set) goes
    through ``to_dict``."""
    try:
        return encode_json(doc)
    except TypeError:
        return encode_json(doc.to_dict())


def map_all(items: list[Item]) -> list[Mapped]:
    """Map a batch in this process."""
    return [map_one(item) for item in items]


#: A :class:`MatchKeys`' field values in the order its constructor takes them.
_key_values = operator.attrgetter(*(field.name for field in dataclasses.fields(MatchKeys)))


class SentKeys:
    """A record's :class:`MatchKeys` as a worker process sends them back: the key strings at once,
    every other field unpickled the first time one is read.

    The main process writes every record's key strings, but compares the other fields
    (:func:`mappings.matchrules.compatible`) only for records that share a key with another one,
    a few on most pages; unpickling the whole frozen dataclass (token sets, words) for every
    record cost ~10 µs a record on its serial thread, against ~1.5 µs for this.

    The rest is pickled as the tuple of the fields' values, not as the dataclass: 3.5-4.2 µs a
    record in the worker against 5.5-6.8 (the class's reduce protocol and a state dict per record)."""

    __slots__ = ("strong", "weak", "_packed", "_keys")

    def __init__(self, strong: tuple[str, ...], weak: str | None, packed: bytes, keys: MatchKeys | None = None) -> None:
        self.strong, self.weak, self._packed, self._keys = strong, weak, packed, keys

    @classmethod
    def of(cls, keys: MatchKeys) -> SentKeys:
        return cls(keys.strong, keys.weak, pickle.dumps(_key_values(keys), pickle.HIGHEST_PROTOCOL), keys)

    def unpacked(self) -> MatchKeys:
        if self._keys is None:
            self._keys = MatchKeys(*pickle.loads(self._packed))
        return self._keys

    def __getattr__(self, name: str) -> Any:  # called for the fields that are not slots
        return getattr(self.unpacked(), name)

    def __reduce__(self) -> tuple[Any, ...]:
        return SentKeys, (self.strong, self.weak, self._packed)

    def __eq__(self, other: object) -> bool:
        return self.unpacked() == (other.unpacked() if isinstance(other, SentKeys) else other)

    def __hash__(self) -> int:
        return hash(self.unpacked())


def _map_in_worker(items: list[Item]) -> list[Mapped]:
    return [(text, problem, SentKeys.of(keys) if keys else None) for text, problem, keys in map_all(items)]


#: Niceness of the worker processes. The main process is the harvest's serial path (store,
#: cluster, index) and the workers run a page ahead of it; when the cores are shared (with
#: Elasticsearch, the API) the main process should get a core first. Measured on 2 cores, 20,000
#: records, 6 runs each: wall time 0.95 of the un-niced run (median; spread 0.76-1.02).
WORKER_NICENESS = 5


def _yield_to_the_pipeline() -> None:
    os.nice(WORKER_NICENESS)


class CrosswalkJob:
    """A batch handed to the pool; :meth:`result` waits for it (a batch mapped in process is
    mapped on the first call)."""

    def __init__(self, items: list[Item], futures: list[Future[list[Mapped]]] | None = None) -> None:
        self.items = items
        self._futures = futures
        self._done: list[Mapped] | None = None

    def result(self) -> list[Mapped]:
        if self._done is None:
            if self._futures is None:
                self._done = map_all(self.items)
            else:
                self._done = [mapped for future in self._futures for mapped in future.result()]
        return self._done


#: At most this many worker processes are started by default.
MAX_AUTO_WORKERS = 4


def auto_workers() -> int:
    """Worker processes for ``crosswalk_workers = 0``: one per core but one, at most
    :data:`MAX_AUTO_WORKERS`; none (map in process) on one core.

    The core left over is the harvest's own process (store, clustering, union records), which
    with Elasticsearch needs about as much CPU as the crosswalk. On 2 cores one worker process
    keeps up with a harvest (the harvest waited 0.4 s of 47 for the crosswalk with two), and with
    one process fewer competing for the cores every process used less CPU per record: 100,000 LC
    records, 2 alternating pairs, the crosswalk 215 and 228 µs a record against 232 and 231, wall
    43.7 and 45.7 s against 47.5 and 47.0 (bench/RESULTS.md)."""
    return min((os.cpu_count() or 1) - 1, MAX_AUTO_WORKERS)


class CrosswalkPool:
    """Worker processes mapping pages: ``workers`` of them (``0``: :func:`auto_workers`; ``1``:
    none, pages are mapped in process)."""

    def __init__(self, workers: int = 0) -> None:
        self.processes = auto_workers() if workers < 1 else 0 if workers == 1 else workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, items: list[Item]) -> CrosswalkJob:
        """Start mapping a batch in the worker processes and return at once."""
        if self.processes < 1 or len(items) < MIN_PARALLEL:
            return CrosswalkJob(items)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("fork"), initializer=_yield_to_the_pipeline
            )
        size = -(-len(items) // (self.processes * 2))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        return CrosswalkJob(items, [self._pool.submit(_map_in_worker, chunk) for chunk in chunks])

    def map(self, items: list[Item]) -> list[Mapped]:
        return self.submit(items).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def shared_pool(services: Services) -> CrosswalkPool:
    """The process's pool (started on first use, closed with the services)."""
    pool = services.extras.get("crosswalk_pool")
    if not isinstance(pool, CrosswalkPool):
        pool = CrosswalkPool(services.settings.crosswalk_workers)
        services.extras["crosswalk_pool"] = pool
    return pool
