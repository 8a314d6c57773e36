"""Union records read from the record store (the source of truth), not from the search index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from catalog.context import Services
from indexer.clusterstore import redirect_target
from indexer.project import load_sources, members_by_code
from indexer.union import build_union
from mappings import CrosswalkError, to_marcxml
from store.models import Cluster, SourceRecord


def get_record(services: Services, union_id: str, *, with_marcxml: bool = False) -> dict[str, Any] | None:
    """The union record with holdings and sources, or None when there is no such union record."""
    with services.db() as session:
        cluster = session.get(Cluster, union_id)
        if cluster is None:
            return None
        views = load_sources(session, [union_id], members_by_code(session))[union_id]
        if not views:
            return None
        record = build_union(union_id, views)
        record["oversized"] = cluster.oversized
        names = {v.member.code: {"zh": v.member.name_zh, "en": v.member.name_en} for v in views}
        for source in record["sources"]:
            source["member_name"] = names[source["member"]]
        if with_marcxml:
            rows = session.execute(
                select(SourceRecord.member_code, SourceRecord.local_id, SourceRecord.raw, SourceRecord.encoding).where(
                    SourceRecord.cluster_id == union_id, SourceRecord.deleted.is_(False)
                )
            )
            raw = {(m, lid): (data, enc) for m, lid, data, enc in rows}
            for source in record["sources"]:
                data, encoding = raw[(source["member"], source["local_id"])]
                try:
                    source["record"] = to_marcxml(data, encoding)
                except CrosswalkError as exc:  # pragma: no cover - stored records were mapped once
                    source["record"] = None
                    source["record_error"] = str(exc)
    return record


def find_by_source(services: Services, member: str, local_id: str) -> dict[str, Any] | None:
    """The union record a member's own record belongs to: ``{"id", "member", "local_id", ...}``."""
    with services.db() as session:
        row = session.execute(
            select(SourceRecord.cluster_id, SourceRecord.deleted, SourceRecord.datestamp).where(
                SourceRecord.member_code == member, SourceRecord.local_id == local_id
            )
        ).first()
    if row is None or row.deleted or row.cluster_id is None:
        return None
    return {"id": row.cluster_id, "member": member, "local_id": local_id, "datestamp": row.datestamp}


def moved_to(services: Services, union_id: str) -> str | None:
    """Where a union id that disappeared in a merge lives on (None: never merged away, or live)."""
    with services.db() as session:
        if session.get(Cluster, union_id) is not None:
            return None
        return redirect_target(session, union_id)
