"""Projection during a harvest: Elasticsearch indexes one page while the pipeline stores the next.

After each committed page the pipeline builds the documents of what the outbox holds and hands
the bulk request to a thread; it settles that request (failures stored, projected ids removed from
the outbox) after committing the following page. Only the alias check and the bulk request run on
the thread: every read and write of the store stays on the caller's thread and session.

The outbox semantics are those of :func:`indexer.project.drain_queue`: ids whose documents failed
stay queued and are recorded in ``index_failure``; ids a later page touched while their documents
were in flight stay queued too, so they are projected again from the newer state. If the index is
unreachable, projection stops for the rest of the run and the outbox keeps the work.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError as EsTransportError

from catalog.context import Services
from indexer.es import describe_es_error
from indexer.index import ensure_alias, refresh
from indexer.project import DocCache, ProjectionReport, Queued, actions_for, dequeue, queued, record, send
from store.db import transaction


@dataclass
class _InFlight:
    ids: Queued
    report: ProjectionReport
    results: Future[list[tuple[bool, dict]]]


class Projector:
    """One harvest's projection: :meth:`page_stored` after each page, :meth:`finish` at the end."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.alias = services.settings.records_alias
        self.indexed = self.failed = 0
        #: Why projection stopped (the index is unreachable), or None.
        self.deferred: str | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="unicat-bulk")
        self._flight: _InFlight | None = None
        self._touched: set[str] = set()  # queued again since the in-flight documents were built

    def page_stored(self, touched: set[str], cache: DocCache) -> None:
        """Call after each committed page with the union ids it queued and the documents it stored."""
        if self.deferred:
            return
        self._touched |= touched

        def step() -> None:
            self._settle()
            self._launch(cache)

        self._guarded(step)

    def finish(self) -> None:
        """Project everything still queued and stop the thread (the harvest's last step)."""

        def drain() -> None:
            report = self._settle()
            while report is not None and report.indexed + report.deleted and not report.failed:
                self._launch(None)
                report = self._settle()
            if self.indexed:  # the index refreshes only every 30 s on its own (see the mapping)
                refresh(self.services.es, self.alias)

        if not self.deferred:
            self._guarded(drain)
        self.close()

    def close(self) -> None:
        """Stop the thread, leaving any unsettled work in the outbox (it is projected later)."""
        self._thread.shutdown(wait=True)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except (EsTransportError, EsApiError) as exc:
            # The store has the pages; the outbox keeps the work for `unicat reindex --pending`.
            self.deferred = f"search index unreachable, projection deferred: {describe_es_error(exc)}"
            self._flight = None

    def _launch(self, cache: DocCache | None) -> None:
        report = ProjectionReport()
        with self.services.db() as session:
            ids = queued(session)
            actions = list(actions_for(session, self.alias, list(ids), report, cache))
        self._touched.clear()
        if ids:
            self._flight = _InFlight(ids, report, self._thread.submit(self._index, actions))

    def _index(self, actions: list[dict]) -> list[tuple[bool, dict]]:
        """On the thread: make sure the alias has an index (a round trip that took ~30 ms a page
        while Elasticsearch was busy indexing the previous one), then send the bulk request.
        Raises when the index is unreachable; :meth:`_settle` meets the error."""
        ensure_alias(self.services.es, self.alias, self.services.index_layout)
        return list(send(self.services.es, actions))

    def _settle(self) -> ProjectionReport | None:
        """Wait for the request in flight; record its outcome. Returns its report (None if idle)."""
        if self._flight is None:
            return None
        flight, self._flight = self._flight, None
        results = self.wait(flight.results)
        report = flight.report
        with transaction(self.services.db) as session:
            record(session, self.alias, results, report)
            failed = {uid for uid, _ in report.failures}
            dequeue(session, {u: t for u, t in flight.ids.items() if u not in failed and u not in self._touched})
        self.indexed += report.indexed + report.deleted
        self.failed += report.failed
        return report

    def wait(self, results: Future[list[tuple[bool, dict]]]) -> list[tuple[bool, dict]]:
        """The bulk outcome (a method of its own so that benchmarks can time the wait)."""
        return results.result()
