"""Union records in bulk (for result pages, SRU and exports) and source records as received."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.context import Services
from indexer.project import load_sources, members_by_code
from indexer.union import build_union
from store.models import Cluster, SourceRecord


def union_records(services: Services, union_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The union records of ``union_ids`` (as :func:`indexer.union.build_union` makes them), read
    from the store in batches; ids that no longer name a live union record are left out."""
    if not union_ids:
        return {}
    with services.db() as session:
        views = load_sources(session, list(dict.fromkeys(union_ids)), members_by_code(session))
    return {uid: build_union(uid, sources) for uid, sources in views.items() if sources}


@dataclass(frozen=True)
class StoredSource:
    """One member's record exactly as it was received."""

    member: str
    local_id: str
    encoding: str  # "iso2709" | "xml"
    syntax: str | None
    raw: bytes


def source_records(services: Services, union_id: str) -> list[StoredSource]:
    """The live source records of a union record, as received, in (member, local id) order."""
    with services.db() as session:
        rows = session.execute(
            select(
                SourceRecord.member_code,
                SourceRecord.local_id,
                SourceRecord.encoding,
                SourceRecord.syntax,
                SourceRecord.raw,
                SourceRecord.deleted,
            )
            .where(SourceRecord.cluster_id == union_id)
            .order_by(SourceRecord.member_code, SourceRecord.local_id)
        ).all()
    return [StoredSource(r.member_code, r.local_id, r.encoding, r.syntax, r.raw) for r in rows if not r.deleted]


def live_union_count(session: Session) -> int:
    """How many union records hold at least one live record (a pass over the whole union table)."""
    return session.scalar(select(func.count()).select_from(Cluster).where(Cluster.size > 0)) or 0


#: How many page ends are remembered, and for how long (seconds).
BOOKMARKS = 4096
BOOKMARK_SECONDS = 3600.0
#: How long a walk goes on with the number of union records counted at an earlier page (seconds).
TOTAL_SECONDS = 60.0


@dataclass(frozen=True)
class PageEnd:
    last_id: str
    total: int
    counted_at: float


class PageEnds:
    """Where the whole-catalogue pages served lately ended: position -> the last union id before it.

    A harvester asks for the page after the one it just read, so that page is read from that id on
    (a range of the primary key) instead of by counting every union record up to its position
    (``OFFSET``), which made a whole-catalogue harvest cost the square of the catalogue's size: a
    page at position 200,000 of 270,000 union records read 200,000 rows first. It also keeps a
    harvester from skipping a record when one before its position is merged away between pages.
    Each API process keeps its own; a page asked of another process is read by position."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ends: OrderedDict[int, PageEnd] = OrderedDict()

    def at(self, position: int) -> PageEnd | None:
        with self.lock:
            found = self.ends.get(position)
            if found is None or time.monotonic() - found.counted_at > BOOKMARK_SECONDS:
                return None
            self.ends.move_to_end(position)
            return found

    def remember(self, position: int, end: PageEnd) -> None:
        with self.lock:
            self.ends[position] = end
            self.ends.move_to_end(position)
            while len(self.ends) > BOOKMARKS:
                self.ends.popitem(last=False)


def _page_ends(services: Services) -> PageEnds:
    ends = services.extras.get("sru_page_ends")
    if not isinstance(ends, PageEnds):
        ends = services.extras["sru_page_ends"] = PageEnds()
    return ends


def union_id_page(services: Services, offset: int, limit: int) -> tuple[int, list[str], bool]:
    """(number of union records, ``limit`` of their ids from ``offset`` in id order, whether more
    follow), read from the store, which pages without the search engine's depth limit (for
    whole-catalogue harvests). A walk that goes on from its previous page keeps the number counted
    then for up to :data:`TOTAL_SECONDS` (counting is a pass over the whole table)."""
    ends = _page_ends(services)
    previous = ends.at(offset) if offset else None
    page = select(Cluster.id).where(Cluster.size > 0).order_by(Cluster.id).limit(limit + 1)
    page = page.where(Cluster.id > previous.last_id) if previous else page.offset(offset)
    kept = previous if previous and time.monotonic() - previous.counted_at <= TOTAL_SECONDS else None
    with services.db() as session:
        total = kept.total if kept else live_union_count(session)
        ids = list(session.scalars(page)) if limit else []
    more = len(ids) > limit
    ids = ids[:limit]
    if ids:
        ends.remember(offset + len(ids), PageEnd(ids[-1], total, kept.counted_at if kept else time.monotonic()))
    return total, ids, more
