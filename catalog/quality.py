"""Data-quality reports on clustering and cataloguers' split/merge decisions."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError as EsTransportError
from sqlalchemy import func, select

from catalog.context import Services
from indexer.clusterstore import recluster
from indexer.index import latest_spec, mapping_state
from indexer.project import queue
from mappings import BibDocument, match_keys
from mappings.fingerprint import crosswalk_fingerprint, matcher_fingerprint
from store.db import chunks, in_values, transaction
from store.models import Cluster, ClusterOverride, SourceRecord
from store.state import CROSSWALK_STATE, MATCHER_STATE, read_state


class OverrideError(ValueError):
    """A split/merge decision names a record that does not exist or is malformed."""


#: Union records a duplicates report looks into for suspicious merges: the largest and the most
#: recently changed. Looking into all of them read every stored document (a million at a regional
#: consortium's size) for one page.
REVIEWED = 2000


def duplicates_report(services: Services, *, top: int = 20, member: str | None = None,
                      reviewed: int = REVIEWED) -> dict[str, Any]:
    """The largest union records and the suspicious merges among the ``reviewed`` most recently
    changed (and the largest), of all union records or of those ``member`` has a record in."""
    with services.db() as session:
        if member:
            largest, recent, merged, oversized = _member_scope(session, member, top, reviewed)
        else:
            multi = select(*_CLUSTER_ROW).where(Cluster.size > 1)
            largest = session.execute(multi.order_by(Cluster.size.desc(), Cluster.id).limit(top)).all()
            recent = session.execute(multi.order_by(Cluster.updated_at.desc(), Cluster.id).limit(reviewed)).all()
            merged = session.scalar(select(func.count()).select_from(Cluster).where(Cluster.size > 1)) or 0
            oversized = list(session.scalars(select(Cluster.id).where(Cluster.oversized.is_(True))))
        looked = {c.id: c for c in [*largest, *recent]}
        documents = _live_documents(session, list(looked))
    rows = {cid: _report_row(cluster, documents.get(cid, [])) for cid, cluster in looked.items()}
    suspicious = []
    for cluster in sorted(looked.values(), key=lambda c: (-c.size, c.id)):
        why = _why_to_look(rows[cluster.id], [d for _, d in documents.get(cluster.id, []) if d])
        if why:
            suspicious.append({**rows[cluster.id], "why": "; ".join(why)})
    return {"largest": [rows[c.id] for c in largest], "suspicious": suspicious[:top], "oversized": oversized,
            "reviewed": len(looked), "merged": merged, **derivation_state(services)}


_CLUSTER_ROW = (Cluster.id, Cluster.size, Cluster.updated_at, Cluster.oversized)


def _member_scope(session: Any, member: str, top: int, reviewed: int) -> tuple[list[Any], list[Any], int, list[str]]:
    """Largest, most recently changed, count and oversized of the merged union records ``member``
    holds a record in: read once (one pass over the member's index entries) and ranked here,
    where four queries would each have gone through the member's records again."""
    held = select(SourceRecord.cluster_id).where(SourceRecord.member_code == member, SourceRecord.deleted.is_(False))
    rows = session.execute(select(*_CLUSTER_ROW).where(Cluster.size > 1, Cluster.id.in_(held))).all()
    largest = heapq.nsmallest(top, rows, key=lambda r: (-r.size, r.id))
    recent = heapq.nsmallest(reviewed, rows, key=lambda r: (-_seconds(r.updated_at), r.id))
    return largest, recent, len(rows), sorted(r.id for r in rows if r.oversized)


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def _live_documents(session: Any, union_ids: list[str]) -> dict[str, list[tuple[str, dict[str, Any] | None]]]:
    """(member, stored document) of the live records of each union record, in record order."""
    found: dict[str, list[tuple[str, dict[str, Any] | None]]] = {}
    for batch in chunks(union_ids):
        rows = session.execute(
            select(SourceRecord.cluster_id, SourceRecord.member_code, SourceRecord.document)
            .where(in_values(session, SourceRecord.cluster_id, batch), SourceRecord.deleted.is_(False))
            .order_by(SourceRecord.cluster_id, SourceRecord.id))
        for cluster_id, member_code, document in rows:
            found.setdefault(cluster_id, []).append((member_code, document))
    return found


def _report_row(cluster: Any, docs: list[tuple[str, dict[str, Any] | None]]) -> dict[str, Any]:
    return {
        "id": cluster.id,
        "size": cluster.size,
        "members": len({m for m, _ in docs}),
        "title": next((d.get("title") for _, d in docs if d and d.get("title")), "") or "",
        "years": sorted({d.get("year") for _, d in docs if d and d.get("year")}),
        "formats": sorted({d.get("format") for _, d in docs if d and d.get("format")}),
    }


def _why_to_look(row: dict[str, Any], documents: list[dict[str, Any]]) -> list[str]:
    years, formats = row["years"], row["formats"]
    why = []
    if len(years) > 1 and max(years) - min(years) > 1:
        why.append(f"years {min(years)}–{max(years)}")
    if len(formats) > 1:
        why.append("formats " + "/".join(formats))
    return why + review_signals(documents)


def derivation_state(services: Services) -> dict[str, Any]:
    """Which crosswalk made the stored documents and which matcher made the union records, and
    whether they are the ones running now. After an upgrade that changed them, documents and
    union records are only brought up to date as their records change, until
    ``unicat reindex --recrosswalk`` (documents, then clusters) or ``--recluster`` (clusters) runs."""
    with services.db() as session:
        matcher, crosswalk = read_state(session, MATCHER_STATE), read_state(session, CROSSWALK_STATE)
    current_matcher, current_crosswalk = matcher_fingerprint(), crosswalk_fingerprint()
    return {
        "matcher": current_matcher,
        "clustered_by": matcher,
        "clustering_stale": matcher not in (None, current_matcher),
        "crosswalk": current_crosswalk,
        "crosswalked_by": crosswalk,
        "documents_stale": crosswalk not in (None, current_crosswalk),
    }


def derivation_and_index_state(services: Services) -> dict[str, Any]:
    """:func:`derivation_state` and the live index's mapping version against the running code's
    (``index_stale`` is None when the index cannot be reached)."""
    try:
        index = mapping_state(services.es, services.settings.records_alias)
    except (EsApiError, EsTransportError):
        index = {"index_mapping": None, "latest_mapping": latest_spec().version, "index_stale": None}
    return {**derivation_state(services), **index}


#: What to tell an operator whose store was clustered by another matcher.
STALE_CLUSTERING = (
    "the union records were clustered by another version of the matching rules; "
    "run `unicat reindex --recluster` to apply the current ones everywhere"
)
#: What to tell an operator whose documents were made by another crosswalk.
STALE_DOCUMENTS = (
    "some stored documents were made by another version of the crosswalks; "
    "run `unicat reindex --recrosswalk` to derive them again from the raw records"
)


def review_signals(documents: list[dict[str, Any]]) -> list[str]:
    """What a cataloguer should check in one union record: the differences the merge rules let
    through and that the dedup audit found behind its remaining false merges (another issue or
    printing, a kit sold with the book, one record stating an edition)."""
    keys = [match_keys(BibDocument.from_dict(d)) for d in documents]
    why = []
    extents = {k.extent_numbers for k in keys if k.extent_numbers}
    if len(extents) > 1:
        why.append("extents " + " / ".join(" ".join(map(str, e)) for e in sorted(extents)))
    editions = {k.edition_words for k in keys}
    if len(editions) > 1:
        why.append("edition statements differ" if None not in editions else "edition stated on some records only")
    publishers = [k.publisher_tokens for k in keys if k.publisher_tokens]
    if any(a.isdisjoint(b) for i, a in enumerate(publishers) for b in publishers[i + 1 :]):
        why.append("publishers differ")
    return why


def _parse(ref: str) -> tuple[str, str]:
    member, sep, local_id = ref.partition(":")
    if not sep or not member or not local_id:
        raise OverrideError(f"{ref!r}: write a source record as member:local_id")
    return member, local_id


def add_override(
    services: Services, kind: str, a: str, b: str, *, note: str | None = None, by: str | None = None
) -> dict[str, Any]:
    """Record a force-split or force-merge and re-cluster the records involved at once."""
    if kind not in ("split", "merge"):
        raise OverrideError("kind must be split or merge")
    (am, al), (bm, bl) = _parse(a), _parse(b)
    with transaction(services.db) as session:
        ids = []
        for member, local_id in ((am, al), (bm, bl)):
            rid = session.scalar(
                select(SourceRecord.id).where(SourceRecord.member_code == member, SourceRecord.local_id == local_id)
            )
            if rid is None:
                raise OverrideError(f"no source record {member}:{local_id}")
            ids.append(rid)
        session.add(
            ClusterOverride(kind=kind, a_member=am, a_local_id=al, b_member=bm, b_local_id=bl, note=note, created_by=by)
        )
        session.flush()
        change = recluster(session, set(ids), max_size=services.settings.max_cluster_size)
        queue(session, change.touched | change.removed)
        union_ids = sorted(
            {session.scalar(select(SourceRecord.cluster_id).where(SourceRecord.id == i)) or "-" for i in ids}
        )
    from catalog.pipeline import project_pending

    project_pending(services)
    return {"union_ids": union_ids}
