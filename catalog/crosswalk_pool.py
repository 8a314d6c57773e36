"""Crosswalking a page of records on several cores.

Parsing MARC is most of a harvest's CPU time, so pages are mapped in worker processes while the
main process does the database and index work. Small pages, and machines with one core, map in
process. The result of each record is its document as the JSON text the store writes (encoded
here, so the main process neither unpickles a nested dict nor encodes it again to store it) and
its match keys (computed here too, where the document is at hand: the key strings always, the
fields only compared when records share a key when they are likely to be, see :class:`PageKeys`),
or the :class:`CrosswalkError` text.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import operator
import os
import pickle
from collections.abc import Hashable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from catalog.context import Services
from mappings import CrosswalkError, MatchKeys, crosswalk, key_strings, match_keys
from mappings.document import BibDocument
from store.db import decode_json, encode_json

Item = tuple[bytes, str, str | None]  # raw, encoding, syntax
#: (the document's JSON text, None, its match keys), or (None, the reason it could not be mapped, None).
Mapped = tuple[str | None, str | None, "PageKeys | None"]
#: A record as a worker process sends it back: as :data:`Mapped`, with its keys as
#: ``(strong, weak, every other field pickled or None)``.
Sent = tuple[str | None, str | None, tuple[tuple[str, ...], str | None, bytes | None] | None]

#: Pages smaller than this are mapped in process (a round trip to the workers costs more).
MIN_PARALLEL = 64
#: When more than this share of a page's records had their keys compared (they shared a key with
#: another record), the worker processes compute every record's keys whole (see :class:`PageKeys`).
WHOLE_KEYS_SHARE = 0.2


def map_one(item: Item, whole_keys: bool = False) -> Mapped:
    """Crosswalk one record; its match keys whole, or (``whole_keys`` False) only the key strings
    until a comparison asks for the rest (see :class:`PageKeys`)."""
    raw, encoding, syntax = item
    try:
        doc = crosswalk(raw, encoding, syntax)
    except CrosswalkError as exc:
        return None, str(exc), None
    text = _document_json(doc)
    if whole_keys:
        keys = match_keys(doc)
        return text, None, PageKeys(keys.strong, keys.weak, text, keys=keys)
    return text, None, PageKeys(*key_strings(doc), text)


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
    """Map a batch in this process (match keys computed whole only where compared)."""
    return [map_one(item) for item in items]


#: A :class:`MatchKeys`' field values in the order its constructor takes them.
_key_values = operator.attrgetter(*(field.name for field in dataclasses.fields(MatchKeys)))


class PageKeys:
    """A crosswalked record's :class:`MatchKeys`: the key strings at once, every other field the
    first time one is read (:meth:`unpacked`).

    The store writes and looks up every record's key strings (``strong``, ``weak``), but compares
    the other fields (:func:`mappings.matchrules.compatible`) only for records that share a key
    with another one. When a member's records match nothing yet (a consortium's first harvest of
    it, the build bench), computing those fields for every record was a quarter of the crosswalk
    (a worker's CPU 165 → 123 µs a record without them, bench/RESULTS.md); they are then computed
    here, from the stored document's text, for the few records compared. When most records of a
    page are compared (a member whose records the union catalogue already holds), the worker
    processes compute them whole instead (:meth:`CrosswalkPool.observe`), as the harvest's own
    process is its serial part; they arrive pickled and are unpickled when first read (~1.5 µs a
    record, against ~10 for unpickling the dataclass of every record)."""

    __slots__ = ("strong", "weak", "compared", "_text", "_packed", "_keys")

    def __init__(
        self,
        strong: tuple[str, ...],
        weak: str | None,
        text: str,
        packed: bytes | None = None,
        keys: MatchKeys | None = None,
    ) -> None:
        self.strong, self.weak, self._text, self._packed, self._keys = strong, weak, text, packed, keys
        self.compared = False

    def unpacked(self) -> MatchKeys:
        self.compared = True
        if self._keys is None:
            if self._packed is not None:
                self._keys = MatchKeys(*pickle.loads(self._packed))
            else:
                self._keys = match_keys(BibDocument.from_dict(decode_json(self._text)))
        return self._keys

    def sent(self) -> tuple[tuple[str, ...], str | None, bytes | None]:
        """What a worker process sends of these keys (the document's text travels beside them)."""
        packed = pickle.dumps(_key_values(self._keys), pickle.HIGHEST_PROTOCOL) if self._keys is not None else None
        return self.strong, self.weak, packed

    def __getattr__(self, name: str) -> Any:  # called for the fields that are not slots
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.unpacked(), name)

    def __eq__(self, other: object) -> bool:
        return self.unpacked() == (other.unpacked() if isinstance(other, PageKeys) else other)

    def __hash__(self) -> int:
        return hash(self.unpacked())


def _map_in_worker(items: list[Item], whole_keys: bool = False) -> list[Sent]:
    return [(text, problem, keys.sent() if keys else None) for text, problem, keys in
            (map_one(item, whole_keys) for item in items)]


def _received(sent: list[Sent]) -> list[Mapped]:
    """A worker's records as the main process uses them."""
    out: list[Mapped] = []
    for text, problem, keys in sent:
        if keys is None or text is None:
            out.append((text, problem, None))
        else:
            strong, weak, packed = keys
            out.append((text, problem, PageKeys(strong, weak, text, packed)))
    return out


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

    def __init__(self, items: list[Item], futures: list[Future[list[Sent]]] | None = None) -> None:
        self.items = items
        self._futures = futures
        self._done: list[Mapped] | None = None

    def result(self) -> list[Mapped]:
        if self._done is None:
            if self._futures is None:
                self._done = map_all(self.items)
            else:
                self._done = _received([sent for future in self._futures for sent in future.result()])
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
        #: Per source of pages (a member's feed), whether the worker processes compute every
        #: record's match keys whole (see :meth:`observe`); a source not seen yet: key strings only.
        self._whole: dict[Hashable, bool] = {}
        self._pool: ProcessPoolExecutor | None = None

    def whole_keys(self, source: Hashable = None) -> bool:
        """Whether the next pages of ``source`` get their match keys computed whole."""
        return self._whole.get(source, False)

    def observe(self, keys: Iterable[object], source: Hashable = None) -> None:
        """After a page of ``source`` is clustered: have the worker processes compute that
        source's next pages' match keys whole when more than :data:`WHOLE_KEYS_SHARE` of this
        page's were compared, so that the harvest's own process (its serial part) does not compute
        them (see :class:`PageKeys`). Kept per source: members harvested in turns (or by several
        harvests of one process) differ, one whose records the union catalogue already holds
        from one whose records match nothing yet."""
        page = [k for k in keys if isinstance(k, PageKeys)]
        if page:
            self._whole[source] = sum(k.compared for k in page) > WHOLE_KEYS_SHARE * len(page)

    def submit(self, items: list[Item], source: Hashable = None) -> CrosswalkJob:
        """Start mapping a batch of ``source`` in the worker processes and return at once."""
        if self.processes < 1 or len(items) < MIN_PARALLEL:
            return CrosswalkJob(items)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("fork"), initializer=_yield_to_the_pipeline
            )
        whole = self.whole_keys(source)
        size = -(-len(items) // (self.processes * 2))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        return CrosswalkJob(items, [self._pool.submit(_map_in_worker, chunk, whole) for chunk in chunks])

    def map(self, items: list[Item], source: Hashable = None) -> list[Mapped]:
        return self.submit(items, source).result()

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
