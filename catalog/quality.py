"""Data-quality reports on clustering and cataloguers' split/merge decisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from catalog.context import Services
from indexer.clusterstore import recluster
from indexer.project import queue
from mappings import BibDocument, match_keys
from mappings.fingerprint import crosswalk_fingerprint, matcher_fingerprint
from store.db import transaction
from store.models import Cluster, ClusterOverride, SourceRecord
from store.state import CROSSWALK_STATE, MATCHER_STATE, read_state


class OverrideError(ValueError):
    """A split/merge decision names a record that does not exist or is malformed."""


def duplicates_report(services: Services, *, top: int = 20) -> dict[str, Any]:
    with services.db() as session:
        largest = list(
            session.scalars(select(Cluster).where(Cluster.size > 1).order_by(Cluster.size.desc(), Cluster.id))
        )
        rows: list[dict[str, Any]] = []
        suspicious: list[dict[str, Any]] = []
        for cluster in largest:
            docs = session.execute(
                select(SourceRecord.member_code, SourceRecord.document).where(
                    SourceRecord.cluster_id == cluster.id, SourceRecord.deleted.is_(False)
                )
            ).all()
            years = sorted({d.get("year") for _, d in docs if d and d.get("year")})
            formats = sorted({d.get("format") for _, d in docs if d and d.get("format")})
            title = next((d.get("title") for _, d in docs if d and d.get("title")), "") or ""
            row = {
                "id": cluster.id,
                "size": cluster.size,
                "members": len({m for m, _ in docs}),
                "title": title,
                "years": years,
                "formats": formats,
            }
            if len(rows) < top:
                rows.append(row)
            why = []
            if len(years) > 1 and max(years) - min(years) > 1:
                why.append(f"years {min(years)}–{max(years)}")
            if len(formats) > 1:
                why.append("formats " + "/".join(formats))
            why += review_signals([d for _, d in docs if d])
            if why:
                suspicious.append({**row, "why": "; ".join(why)})
        oversized = list(session.scalars(select(Cluster.id).where(Cluster.oversized.is_(True))))
    return {"largest": rows, "suspicious": suspicious[:top], "oversized": oversized, **derivation_state(services)}


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
