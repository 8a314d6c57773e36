"""Union records in bulk (for result pages, SRU and exports) and source records as received."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

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


def union_id_page(services: Services, offset: int, limit: int) -> tuple[int, list[str]]:
    """(number of union records, ``limit`` of their ids from ``offset`` in id order), read from the
    store, which pages without the search engine's depth limit (for whole-catalogue harvests)."""
    with services.db() as session:
        total = session.scalar(select(func.count()).select_from(Cluster).where(Cluster.size > 0)) or 0
        ids = list(
            session.scalars(
                select(Cluster.id).where(Cluster.size > 0).order_by(Cluster.id).offset(offset).limit(limit)
            )
        ) if limit else []
    return total, ids
