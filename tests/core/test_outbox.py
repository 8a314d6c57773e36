"""The projection outbox on the real store: a drain never drops work queued while it ran."""

from __future__ import annotations

from catalog.context import Services
from indexer.project import dequeue, queue, queued
from store.db import transaction


def test_union_record_queued_again_during_a_drain_stays_queued(services: Services) -> None:
    with transaction(services.db) as session:
        queue(session, ["u1", "u2"])
    with services.db() as session:
        seen = queued(session)  # a drain reads the outbox and builds the documents ...
    with transaction(services.db) as session:
        queue(session, ["u1"])  # ... while another process changes u1 and queues it again
    with transaction(services.db) as session:
        dequeue(session, seen)  # the drain settles what it sent
    with services.db() as session:
        assert set(queued(session)) == {"u1"}, "u1's newer state must still be projected"
