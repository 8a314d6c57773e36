"""Rebuilding the search projection from the record store, with no downtime."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from catalog.context import Services
from catalog.quality import clustering_state
from indexer.clusterstore import recluster_all
from indexer.index import create_index, ensure_alias, refresh, switch_alias
from indexer.project import all_union_ids, project
from store.db import transaction
from store.models import ProjectionQueue


def rebuild_index(services: Services, *, recluster: bool = False) -> dict[str, Any]:
    """Write every union record into a fresh index, then swap the alias to it atomically.

    Searches keep hitting the old index until the swap. With ``recluster`` the clustering is first
    recomputed from scratch (same recipe as the incremental path, so the same partition).
    """
    result: dict[str, Any] = {"alias": services.settings.records_alias}
    if recluster:
        with transaction(services.db) as session:
            change = recluster_all(session, max_size=services.settings.max_cluster_size)
        result["clusters"] = {"kept_or_new": len(change.touched), "removed": len(change.removed)}
    ensure_alias(services.es, services.settings.records_alias)
    index = create_index(services.es, services.settings.records_alias)
    with transaction(services.db) as session:
        ids = all_union_ids(session)
        report = project(services.es, session, index, ids)
        if not report.failed:
            session.execute(delete(ProjectionQueue))
    refresh(services.es, index)
    switch_alias(services.es, services.settings.records_alias, index)
    result.update(index=index, indexed=report.indexed, failed=report.failed)
    result["clustering_stale"] = clustering_state(services)["clustering_stale"]
    return result
