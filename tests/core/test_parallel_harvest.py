"""Harvests of different members in separate processes on PostgreSQL cluster as one run after another."""

from __future__ import annotations

from catalog.context import build_services
from catalog.members import sync_members
from store.db import transaction
from tests.core.parallel import clusters, harvest_env, members_config, overlapping_dumps, source_counts, start_harvest
from tests.core.test_postgres import fresh_database

MEMBERS = ["a", "b", "c"]


def _prepared(settings, postgres_url, dumps):
    url = fresh_database(postgres_url)
    services = build_services(settings(es=False, database_url=url))
    with transaction(services.db) as session:
        sync_members(session, members_config(dumps))
    services.close()
    return url


def _harvest(codes, env, at_once: bool) -> None:
    if at_once:
        procs = [start_harvest(code, env) for code in codes]
    else:
        procs = []
        for code in codes:
            procs.append(start_harvest(code, env))
            procs[-1].wait()
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out.decode()


def test_two_processes_on_overlapping_members_give_the_sequential_clusters(settings, postgres_url, redis_url, tmp_path):
    dumps = overlapping_dumps(tmp_path, MEMBERS)
    sequential = _prepared(settings, postgres_url, dumps)
    _harvest(MEMBERS, harvest_env(sequential, redis_url, tmp_path / "v1"), at_once=False)
    parallel = _prepared(settings, postgres_url, dumps)
    _harvest(MEMBERS, harvest_env(parallel, redis_url, tmp_path / "v2"), at_once=True)

    assert source_counts(parallel) == source_counts(sequential) == {"a": 900, "b": 900, "c": 900}
    expected = clusters(sequential)
    shared = [c for c in expected if len({member for member, _ in c}) > 1]
    assert len(shared) > 300  # the members really overlap, page against page
    assert clusters(parallel) == expected
