"""Crosswalking the next page while this one is stored.

The pipeline fetches page N+1 before it stores page N and hands N+1's records to the worker
processes, so the main process no longer waits for them. Only the work is early: what the next
page's transaction stores is decided inside that transaction, as before, and a record it wants
mapped but that was not sent ahead (the store changed in between) is simply mapped then.
Checkpoints are unaffected: a page's checkpoint is still committed with the page itself.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable, Hashable, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.crosswalk_pool import CrosswalkJob, CrosswalkPool, Item, Mapped
from harvesters.base import HarvestedRecord, Page
from store.db import chunks, in_values
from store.models import SourceRecord


def with_next(pages: Iterable[Page]) -> Iterator[tuple[Page, Page | None]]:
    """Each page with the one after it (``None`` after the last).

    A fault while fetching the next page is raised only after the current page was handed out,
    so that page is stored first, exactly as without the look-ahead. Pages are copied when
    fetched: a harvester may reuse its checkpoint objects for the following page.
    """
    it = iter(pages)
    current = _copied(next(it, None))
    while current is not None:
        try:
            upcoming = _copied(next(it, None))
        except Exception:
            yield current, None
            raise
        yield current, upcoming
        current = upcoming


def _copied(page: Page | None) -> Page | None:
    if page is None:
        return None
    return dataclasses.replace(
        page, records=list(page.records), checkpoint=copy.deepcopy(page.checkpoint), notes=list(page.notes)
    )


def crosswalk_item(rec: HarvestedRecord, default_syntax: str | None) -> Item:
    return rec.raw, rec.encoding, rec.syntax or default_syntax


def checksum(rec: HarvestedRecord) -> str:
    return hashlib.sha256(rec.raw).hexdigest()


def likely_to_map(
    session: Session, member_code: str, default_syntax: str | None, records: list[HarvestedRecord]
) -> list[Item]:
    """The live records of a page that the store does not hold, live and with the same checksum,
    as of now. (``deleted`` is read, not filtered on: in the WHERE clause SQLite's planner would
    pick its index over the unique (member, local id) one.)"""
    live = [r for r in records if r.local_id and not r.error and not r.deleted]
    stored: dict[str, tuple[str, bool]] = {}
    ids = [r.local_id for r in live]
    for batch in chunks(ids):
        rows = session.execute(
            select(SourceRecord.local_id, SourceRecord.checksum, SourceRecord.deleted).where(
                SourceRecord.member_code == member_code,
                in_values(session, SourceRecord.local_id, batch),
            )
        )
        stored.update({local_id: (digest, bool(deleted)) for local_id, digest, deleted in rows})
    return [crosswalk_item(r, default_syntax) for r in live if _changed(stored.get(r.local_id), r)]


def _changed(stored: tuple[str, bool] | None, rec: HarvestedRecord) -> bool:
    """Whether ``rec`` differs from what the store holds (a new record needs no checksum)."""
    return stored is None or stored != (checksum(rec), False)


def mapper_with(
    pool: CrosswalkPool, ahead: CrosswalkJob | None, source: Hashable = None
) -> Callable[[list[Item]], list[Mapped]]:
    """A batch mapper that takes results from ``ahead`` and maps only what it lacks (as pages of
    ``source``, see :meth:`CrosswalkPool.observe`)."""

    def mapper(items: list[Item]) -> list[Mapped]:
        done = dict(zip(ahead.items, ahead.result(), strict=True)) if ahead else {}
        missing = list(dict.fromkeys(item for item in items if item not in done))
        if missing:
            done.update(zip(missing, pool.map(missing, source), strict=True))
        return [done[item] for item in items]

    return mapper
