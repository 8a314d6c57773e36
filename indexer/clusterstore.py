"""Incremental clustering against the record store.

A changed, new or deleted source record can only move records that share a match key with it
(transitively) or sat in its old union record. That closure is found with a few SQL look-ups,
re-partitioned with :func:`indexer.partition.partition`, and written back; union ids are kept for
the groups that carry most of an old union record, so links stay stable.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from indexer.clusterlock import lock_clustering
from indexer.partition import Group, Item, partition
from mappings.document import BibDocument
from mappings.fingerprint import matcher_fingerprint
from mappings.matchkeys import MatchKeys, match_keys
from store.db import chunks, execute_many, in_values
from store.models import Cluster, ClusterOverride, MatchKeyRow, SourceRecord, UnionRedirect, utcnow
from store.state import MATCHER_STATE, claim_empty_state, read_state, write_state

#: A key shared by more records than this links nothing (e.g. a placeholder ISBN).
DEFAULT_KEY_LIMIT = 1000


@dataclass
class ClusterChange:
    touched: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    oversized: set[str] = field(default_factory=set)
    #: Touched union records of one live record: union id → that record's id.
    alone: dict[str, int] = field(default_factory=dict)
    #: The ``updated_at`` written to every touched union record.
    stamp: datetime | None = None


@dataclass
class Fresh:
    """Records inserted in the current transaction: (member, local id) and match keys by record id.

    Their match keys are already written (:func:`write_keys`): :func:`component` relies on a key
    held by one record only being held by the record it came from."""

    names: dict[int, tuple[str, str]] = field(default_factory=dict)
    keys: dict[int, MatchKeys] = field(default_factory=dict)


def _key_strings(keys: MatchKeys) -> set[str]:
    """The key strings :func:`write_keys` stores for these keys."""
    return {*keys.strong, keys.weak} if keys.weak else set(keys.strong)


_INSERT_KEY = insert(MatchKeyRow.__table__)
_INSERT_CLUSTER = insert(Cluster.__table__)
_UPDATE_CLUSTER = (
    update(Cluster.__table__)
    .where(Cluster.__table__.c.id == bindparam("cid"))
    .values(size=bindparam("size"), oversized=bindparam("oversized"), updated_at=bindparam("updated_at"))
)
_MOVE_RECORD = (
    update(SourceRecord.__table__)
    .where(SourceRecord.__table__.c.id == bindparam("rid"))
    .values(cluster_id=bindparam("cid"))
)


class KeyedRecord(NamedTuple):
    """What :func:`write_keys` needs of a source record (a :class:`SourceRecord` row serves too)."""

    id: int
    deleted: bool
    document: dict[str, Any] | None


def write_keys(
    session: Session,
    records: Iterable[SourceRecord | KeyedRecord],
    known: dict[int, MatchKeys] | None = None,
    fresh: Fresh | None = None,
) -> dict[int, MatchKeys]:
    """Replace the match keys of ``records`` from their documents (none when deleted or unmapped);
    return the keys, so that re-clustering the same page need not compute them again. ``known``
    holds keys already computed from the same documents (the crosswalk workers compute them);
    ``fresh`` records were inserted in this transaction and have no keys to delete."""
    records = list(records)
    known = known or {}
    new = fresh.names if fresh else {}
    for batch in chunks([r.id for r in records if r.id not in new]):
        session.execute(delete(MatchKeyRow).where(MatchKeyRow.record_id.in_(batch)))
    rows: list[dict[str, Any]] = []
    computed: dict[int, MatchKeys] = {}
    for record in records:
        if record.deleted or not record.document:
            continue
        keys = known.get(record.id) or match_keys(BibDocument.from_dict(record.document))
        computed[record.id] = keys
        rows.extend({"record_id": record.id, "key": k, "strong": True} for k in dict.fromkeys(keys.strong))
        if keys.weak:
            rows.append({"record_id": record.id, "key": keys.weak, "strong": False})
    execute_many(session, _INSERT_KEY, rows)
    return computed


def shared_key_counts(session: Session, keys: Iterable[str]) -> dict[str, int]:
    """How many records hold each of ``keys`` that more than one record holds.

    One statement per 500 keys instead of two: most keys of a new record are its own, and a key
    nobody else holds needs no look-up of its records (the caller holds that record already)."""
    counts: dict[str, int] = {}
    for batch in chunks(keys):
        stmt = (
            select(MatchKeyRow.key, func.count())
            .where(in_values(session, MatchKeyRow.key, batch))
            .group_by(MatchKeyRow.key)
            .having(func.count() > 1)
        )
        counts.update(session.execute(stmt).tuples().all())
    return counts


def override_pairs(session: Session, kind: str) -> list[tuple[int, int]]:
    """Record-id pairs of the cataloguers' ``kind`` ("merge" or "split") decisions whose records
    exist; only the records the decisions name are looked up."""
    overrides = session.scalars(select(ClusterOverride).where(ClusterOverride.kind == kind)).all()
    if not overrides:
        return []
    wanted: dict[str, set[str]] = {}
    for o in overrides:
        wanted.setdefault(o.a_member, set()).add(o.a_local_id)
        wanted.setdefault(o.b_member, set()).add(o.b_local_id)
    ident: dict[tuple[str, str], int] = {}
    for member, local_ids in wanted.items():
        for batch in chunks(local_ids):
            rows = session.execute(
                select(SourceRecord.local_id, SourceRecord.id).where(
                    SourceRecord.member_code == member, in_values(session, SourceRecord.local_id, batch)
                )
            )
            ident.update({(member, local_id): rid for local_id, rid in rows})
    pairs = []
    for o in overrides:
        a, b = ident.get((o.a_member, o.a_local_id)), ident.get((o.b_member, o.b_local_id))
        if a and b:
            pairs.append((a, b))
    return pairs


def _partners(pairs: list[tuple[int, int]]) -> dict[int, set[int]]:
    partners: dict[int, set[int]] = {}
    for a, b in pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    return partners


def component(
    session: Session,
    seeds: set[int],
    key_limit: int,
    merges: list[tuple[int, int]] | None = None,
    fresh: Fresh | None = None,
) -> tuple[set[int], set[str], frozenset[str]]:
    """Record ids transitively linked to ``seeds`` by keys, old clusters or merge overrides
    (``merges``; read from the store when not given). ``fresh`` records were inserted in this
    transaction: they have no union record yet and their keys are known, so neither is read back."""
    partners = _partners(override_pairs(session, "merge") if merges is None else merges)
    fresh = fresh or Fresh()
    records: set[int] = set()
    clusters: set[str] = set()
    skipped: set[str] = set()
    frontier = set(seeds)
    while frontier:
        records |= frontier
        found: set[int] = set()
        for batch in chunks(frontier):
            stored = [ref for ref in batch if ref not in fresh.names]  # a batch: one IN list
            new_clusters: set[str] = set()
            if stored:
                new_clusters.update(
                    session.scalars(
                        select(SourceRecord.cluster_id).where(
                            in_values(session, SourceRecord.id, stored), SourceRecord.cluster_id.is_not(None)
                        )
                    )
                )
            new_clusters -= clusters
            clusters |= new_clusters
            for cbatch in chunks(new_clusters):
                members = select(SourceRecord.id).where(in_values(session, SourceRecord.cluster_id, cbatch))
                found.update(session.scalars(members))
            keys = {key for ref in batch if ref in fresh.names for key in _key_strings(fresh.keys[ref])}
            if stored:
                held = select(MatchKeyRow.key).where(in_values(session, MatchKeyRow.record_id, stored))
                keys.update(session.scalars(held))
            counts = shared_key_counts(session, keys)
            common = {key for key, n in counts.items() if n > key_limit}
            skipped |= common
            # A key only one record holds is held by a record of this batch: it links nothing.
            for kbatch in chunks(sorted(key for key, n in counts.items() if n <= key_limit)):
                holders = select(MatchKeyRow.record_id).where(in_values(session, MatchKeyRow.key, kbatch))
                found.update(session.scalars(holders))
            for ref in batch:
                found |= partners.get(ref, set())
        frontier = found - records
    return records, clusters, frozenset(skipped)


def _items(
    session: Session, ids: Iterable[int], known: dict[int, MatchKeys] | None = None, fresh: Fresh | None = None
) -> list[Item]:
    """The live records among ``ids`` with their keys (``known`` ones are not read and recomputed,
    ``fresh`` ones not read at all)."""
    known = known or {}
    fresh = fresh or Fresh()
    ids = list(ids)
    live = (SourceRecord.deleted.is_(False), SourceRecord.document.is_not(None))
    items = [Item(ref=ref, sort_key=fresh.names[ref], keys=fresh.keys[ref]) for ref in ids if ref in fresh.names]
    ids = [ref for ref in ids if ref not in fresh.names]
    for batch in chunks([i for i in ids if i in known]):
        rows = session.execute(
            select(SourceRecord.id, SourceRecord.member_code, SourceRecord.local_id).where(
                in_values(session, SourceRecord.id, batch), *live
            )
        )
        items.extend(Item(ref=ref, sort_key=(member, local_id), keys=known[ref]) for ref, member, local_id in rows)
    for batch in chunks([i for i in ids if i not in known]):
        rows = session.execute(
            select(SourceRecord.id, SourceRecord.member_code, SourceRecord.local_id, SourceRecord.document).where(
                in_values(session, SourceRecord.id, batch), *live
            )
        )
        for ref, member, local_id, doc in rows:
            items.append(Item(ref=ref, sort_key=(member, local_id), keys=match_keys(BibDocument.from_dict(doc))))
    return items


def _pairs_among(pairs: list[tuple[int, int]], items: list[Item]) -> list[tuple[int, int]]:
    refs = {it.ref for it in items}
    return sorted({(min(a, b), max(a, b)) for a, b in pairs if a in refs and b in refs})


def _candidate(anchor: tuple[str, str], attempt: int) -> str:
    return "u" + hashlib.sha1(f"{anchor[0]}\x1f{anchor[1]}\x1f{attempt}".encode()).hexdigest()[:15]


def _existing_cluster_ids(session: Session, ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in chunks(ids):
        found.update(session.scalars(select(Cluster.id).where(in_values(session, Cluster.id, batch))))
    return found


def assign(
    session: Session, groups: list[Group], old_of: dict[int, str | None], old_clusters: set[str]
) -> ClusterChange:
    """Write ``groups`` back: keep old union ids where they carry most records, mint the rest.

    New ids derive from the group's first record, so a rebuild mints the same ids.
    """
    change = ClusterChange()
    overlaps = []
    for index, group in enumerate(groups):
        if len(group.items) == 1:  # most groups of a harvest: one new record, no old union id
            if cid := old_of.get(group.items[0].ref):
                overlaps.append((-1, cid, index))
            continue
        counts = Counter(old_of.get(it.ref) for it in group.items)
        overlaps.extend((-n, cid, index) for cid, n in counts.items() if cid)
    chosen: dict[int, str] = {}
    used: set[str] = set()
    for _neg, cid, index in sorted(overlaps):
        if index not in chosen and cid not in used:
            chosen[index] = cid
            used.add(cid)
    kept = list(chosen.values())
    chosen.update(_mint(session, groups, [i for i in range(len(groups)) if i not in chosen], used | old_clusters))
    existing = _existing_cluster_ids(session, kept)  # a minted id is one the store does not hold
    now = change.stamp = utcnow()
    inserts, updates, moves = [], [], []
    for index, group in enumerate(groups):
        cid = chosen[index]
        row = {"size": len(group.items), "oversized": group.oversized, "updated_at": now}
        if cid in existing:
            updates.append({"cid": cid, **row})
        else:
            inserts.append({"id": cid, "created_at": now, **row})
        moves.extend({"rid": it.ref, "cid": cid} for it in group.items if old_of.get(it.ref) != cid)
        if group.oversized:
            change.oversized.add(cid)
        if len(group.items) == 1:
            change.alone[cid] = group.items[0].ref
        change.touched.add(cid)
    execute_many(session, _INSERT_CLUSTER, inserts)
    execute_many(session, _UPDATE_CLUSTER, updates)
    execute_many(session, _MOVE_RECORD, moves)
    change.removed = old_clusters - change.touched
    _redirect(session, groups, chosen, old_of, change)
    return change


def _mint(session: Session, groups: list[Group], indexes: list[int], taken: set[str]) -> dict[int, str]:
    """New union ids for the groups at ``indexes``: the first candidate of the group's first record
    that no union record in the store, nor this clustering, holds. Every candidate is checked
    against the store: an id minted for another work in an earlier clustering may be any of them."""
    wanted = {i: _candidate(groups[i].items[0].sort_key, 0) for i in indexes}
    taken = set(taken) | _existing_cluster_ids(session, wanted.values())
    minted: dict[int, str] = {}
    for index in indexes:
        cid, attempt = wanted[index], 0
        while cid in taken:
            attempt += 1
            cid = _candidate(groups[index].items[0].sort_key, attempt)
            taken |= _existing_cluster_ids(session, [cid])
        minted[index] = cid
        taken.add(cid)
    return minted


def _redirect(
    session: Session, groups: list[Group], chosen: dict[int, str], old_of: dict[int, str | None], change: ClusterChange
) -> None:
    """Point each union id that disappeared at the union record most of its records joined, so
    old links keep working; an id that is live again loses its redirect. Targets are kept live
    (redirects to an id that disappears move on to its own target), so there are no chains."""
    went: dict[str, Counter[str]] = {}
    for index, group in enumerate(groups):
        for it in group.items:
            old = old_of.get(it.ref)
            if old in change.removed:
                went.setdefault(old, Counter())[chosen[index]] += 1
    table = UnionRedirect.__table__
    for batch in chunks(change.touched):
        session.execute(delete(table).where(in_values(session, table.c.old_id, batch)))
    targets = {old: min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] for old, counts in went.items()}
    now = utcnow()
    for old, target in sorted(targets.items()):
        session.execute(update(table).where(table.c.target_id == old).values(target_id=target))
        session.execute(delete(table).where(table.c.old_id == old))
        session.execute(insert(table).values(old_id=old, target_id=target, created_at=now))


def redirect_target(session: Session, union_id: str) -> str | None:
    """The live union record a merged-away ``union_id`` now belongs to, or None. Follows chains
    left by older code, never round a loop."""
    seen = {union_id}
    current = union_id
    while True:
        target = session.scalar(select(UnionRedirect.target_id).where(UnionRedirect.old_id == current))
        if target is None or target in seen:
            return None
        if session.get(Cluster, target) is not None:
            return target
        seen.add(target)
        current = target


def _apply(
    session: Session,
    ids: set[int],
    old_clusters: set[str],
    skip: frozenset[str],
    max_size: int,
    known: dict[int, MatchKeys] | None = None,
    *,
    merges: list[tuple[int, int]],
    fresh: Fresh | None = None,
) -> ClusterChange:
    fresh = fresh or Fresh()
    old_of: dict[int, str | None] = dict.fromkeys(ids & fresh.names.keys())
    for batch in chunks(ids - fresh.names.keys()):
        stmt = select(SourceRecord.id, SourceRecord.cluster_id).where(in_values(session, SourceRecord.id, batch))
        rows = session.execute(stmt)
        old_of.update({ref: cid for ref, cid in rows})
    old_clusters = old_clusters | {c for c in old_of.values() if c}
    items = _items(session, ids, known, fresh)
    live = {it.ref for it in items}
    groups = partition(
        items,
        max_size=max_size,
        force_merge=_pairs_among(merges, items),
        force_split=_pairs_among(override_pairs(session, "split"), items),
        skip_keys=skip,
    )
    for batch in chunks([ref for ref in ids if ref not in live and old_of.get(ref)]):
        table = SourceRecord.__table__
        session.execute(table.update().where(in_values(session, table.c.id, batch)).values(cluster_id=None))
    change = assign(session, groups, old_of, old_clusters)
    for batch in chunks(change.removed):
        session.execute(delete(Cluster).where(Cluster.id.in_(batch)))
    return change


def recluster(
    session: Session,
    seeds: set[int],
    *,
    max_size: int = 500,
    key_limit: int = DEFAULT_KEY_LIMIT,
    known: dict[int, MatchKeys] | None = None,
    fresh: Fresh | None = None,
) -> ClusterChange:
    """Re-partition everything linked to the ``seeds`` record ids (new, changed or deleted);
    ``known`` holds keys already computed for some of them (as :func:`write_keys` returns),
    ``fresh`` the records inserted in this transaction (see :func:`component`).

    Takes the clustering lock of :mod:`indexer.clusterlock` for the rest of the transaction, so
    that processes clustering at once give the clusters of one run after the other."""
    if not seeds:
        return ClusterChange()
    lock_clustering(session)  # held to the commit: see indexer.clusterlock
    claim_empty_state(session, MATCHER_STATE, matcher_fingerprint())
    merges = override_pairs(session, "merge")
    ids, old_clusters, skip = component(session, seeds, key_limit, merges, fresh)
    return _apply(session, ids, old_clusters, skip, max_size, known, merges=merges, fresh=fresh)


def recluster_all(session: Session, *, max_size: int = 500, key_limit: int = DEFAULT_KEY_LIMIT) -> ClusterChange:
    """Cluster every live record from scratch (``unicat reindex --recluster``); same recipe, same result.

    When the store was clustered by another matcher, the match keys are rewritten first: the
    incremental path finds its candidates through them."""
    lock_clustering(session)
    ids = set(session.scalars(select(SourceRecord.id)))
    if read_state(session, MATCHER_STATE) != matcher_fingerprint():
        for batch in chunks(ids):
            rows = session.execute(
                select(SourceRecord.id, SourceRecord.deleted, SourceRecord.document).where(SourceRecord.id.in_(batch))
            )
            write_keys(session, [KeyedRecord(rid, bool(deleted), doc) for rid, deleted, doc in rows])
    write_state(session, MATCHER_STATE, matcher_fingerprint())
    old_clusters = set(session.scalars(select(Cluster.id)))
    skip = frozenset(
        session.scalars(select(MatchKeyRow.key).group_by(MatchKeyRow.key).having(func.count() > key_limit))
    )
    return _apply(session, ids, old_clusters, skip, max_size, merges=override_pairs(session, "merge"))
