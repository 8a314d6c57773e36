"""A secured three-node Elasticsearch cluster, as production runs it, and the faults it survives.

One cluster for the whole module (TLS on HTTP and transport, a password of the file realm, two
primary shards with one replica each from ``UNICAT_ES_SHARDS``/``UNICAT_ES_REPLICAS``); unicat
reaches it with ``UNICAT_ES_CA_FILE`` and credentials. The fault tests kill nodes with SIGKILL
while a harvest and a search load run, and check what a user and a librarian would notice.
The figures they print (``pytest -s``) are the ones in bench/RESULTS.md, "Faults survived".
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from catalog.context import Services, build_services
from catalog.members import sync_members
from catalog.pipeline import harvest_feed, ingest
from indexer.index import alias_targets
from store.db import transaction
from store.models import Checkpoint, Cluster, IndexFailure, Member, ProjectionQueue, SourceRecord
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, as_harvested, read_marc
from tests.services import make_settings, private_es_cluster
from unicat.app import create_app
from unicat.jobs import drain_outbox
from unicat.localsvc.escluster import EsCluster
from unicat.settings import Settings

SHARDS, REPLICAS = 2, 1
UVA = DEMO / "pku" / "uva-sirsi.mrc.gz"
LC_CHINESE = DEMO / "calis-lc-chinese.mrc"


@pytest.fixture(scope="module")
def cluster() -> Iterator[EsCluster]:
    with private_es_cluster(3, secure=True) as formed:
        yield formed


@pytest.fixture
def cluster_settings(cluster: EsCluster, redis_url: str, tmp_path: Path) -> Callable[..., Settings]:
    made = 0

    def factory(**overrides: Any) -> Settings:
        nonlocal made
        made += 1
        folder = tmp_path / f"s{made}"
        folder.mkdir()
        creds = cluster.credentials
        assert creds is not None
        values: dict[str, Any] = {
            "es_username": creds.username,
            "es_password": creds.password,
            "es_ca_file": creds.ca_file,
            "es_shards": SHARDS,
            "es_replicas": REPLICAS,
            "rate_limit_storage": "memory",
            "anonymous_rate": "",
            **overrides,
        }
        return make_settings(folder, cluster.url, redis_url, **values)

    return factory


@pytest.fixture
def services(cluster_settings: Callable[..., Settings]) -> Iterator[Services]:
    built = build_services(cluster_settings())
    with transaction(built.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    yield built
    built.close()


def use_oai(services: Services, code: str, url: str) -> None:
    with transaction(services.db) as session:
        member = session.get(Member, code)
        member.config = {**member.config, "oai": {"url": url, "metadata_prefix": "marc21"}}


def union_ids(services: Services) -> set[str]:
    with services.db() as session:
        return set(session.scalars(select(Cluster.id)))


def indexed_ids(services: Services) -> set[str]:
    alias = services.settings.records_alias
    services.es.indices.refresh(index=alias)
    hits = services.es.search(index=alias, query={"match_all": {}}, size=10000, source=False)["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def test_three_secured_nodes_form_one_cluster_and_unicat_harvests_and_searches_through_tls(
    cluster: EsCluster, services: Services
) -> None:
    health = cluster.health()
    assert health is not None and health["number_of_nodes"] == 3 and health["status"] == "green"
    assert all(url.startswith("https://") for url in cluster.url.split(","))
    report = ingest(services, "nlc", as_harvested(read_marc(LC_CHINESE, limit=60)))
    assert report.indexed > 0
    index = alias_targets(services.es, services.settings.records_alias)[0]
    layout = services.es.indices.get_settings(index=index)[index]["settings"]["index"]
    assert (layout["number_of_shards"], layout["number_of_replicas"]) == (str(SHARDS), str(REPLICAS))
    services.es.indices.refresh(index=services.settings.records_alias)
    with TestClient(create_app(services.settings, services=services)) as http:
        body = http.get("/api/v1/search", params={"member": "nlc", "size": 5}).json()
    assert body["total"] == len(union_ids(services)) and len(body["hits"]) == 5
    # every copy of the two shards is placed, on three nodes
    shards = services.es.cat.shards(index=index, format="json")
    assert len(shards) == SHARDS * (1 + REPLICAS) and {row["state"] for row in shards} == {"STARTED"}


def test_a_wrong_password_is_a_clear_error_and_the_harvest_is_kept(
    cluster: EsCluster, cluster_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = cluster_settings(es_password="not-the-password")
    services = build_services(wrong)
    try:
        with transaction(services.db) as session:
            sync_members(session, [dict(m) for m in MEMBERS])
            pku = session.get(Member, "pku")
            pku.config = {**pku.config, "files": {"url_or_path": str(DEMO / "pku" / "pride-and-prejudice.mrc")}}
        with TestClient(create_app(wrong, services=services)) as http:
            api = http.get("/api/v1/search", params={"q": "pride"})
            page = http.get("/search", params={"q": "pride", "lang": "en"})
        assert api.status_code == 503
        error = api.json()["error"]
        assert error["code"] == "search_unavailable" and "refused the credentials" in error["message"]
        assert page.status_code == 503 and "not available" in page.text and "Traceback" not in page.text
        from unicat.cli import app

        env = {
            "UNICAT_ES_URL": wrong.es_url,
            "UNICAT_ES_USERNAME": wrong.es_username or "",
            "UNICAT_ES_PASSWORD": "not-the-password",
            "UNICAT_ES_CA_FILE": str(wrong.es_ca_file),
            "UNICAT_DATABASE_URL": wrong.sqlalchemy_url,
            "UNICAT_VAR_DIR": str(wrong.var_dir),
            "UNICAT_INDEX_PREFIX": wrong.index_prefix,
        }
        result = CliRunner().invoke(app, ["harvest", "pku", "--feed", "files"], env=env)
        said = " ".join(result.output.split())
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in said and "refused the credentials" in said, said
        with services.db() as session:  # the records are stored, their projection waits in the outbox
            stored = session.scalar(select(func.count()).select_from(SourceRecord)) or 0
            queued = session.scalar(select(func.count()).select_from(ProjectionQueue)) or 0
        assert stored == 152 and queued > 0
    finally:
        services.close()


class SearchLoad:
    """One client searching through the API without pause; counts what a user would see."""

    def __init__(self, http: TestClient, params: dict[str, Any], expected_total: int) -> None:
        self.http, self.params, self.expected = http, params, expected_total
        self.answered = self.incomplete = self.failed = 0
        self.slowest = 0.0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                resp = self.http.get("/api/v1/search", params=self.params)
            except Exception as exc:  # noqa: BLE001 - counted as a failed search
                self.failed += 1
                self.errors.append(repr(exc)[:200])
                continue
            self.slowest = max(self.slowest, time.monotonic() - began)
            if resp.status_code != 200:
                self.failed += 1
                self.errors.append(resp.text[:200])
            elif resp.json()["total"] != self.expected:
                self.incomplete += 1
            else:
                self.answered += 1

    def __enter__(self) -> SearchLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def test_one_node_killed_during_a_search_load_and_a_harvest(
    cluster: EsCluster, services: Services, oai_provider: Callable[..., Any]
) -> None:
    ingest(services, "nlc", as_harvested(read_marc(LC_CHINESE, limit=300)))
    services.es.indices.refresh(index=services.settings.records_alias)
    params = {"member": "nlc", "size": 10}
    provider = oai_provider(read_marc(UVA, limit=800), batch_size=50, delay=0.4)
    use_oai(services, "pku", provider.url)
    victim = cluster.master()
    assert victim is not None
    outcome: dict[str, Any] = {}
    with TestClient(create_app(services.settings, services=services)) as http:
        expected = http.get("/api/v1/search", params=params).json()["total"]
        with SearchLoad(http, params, expected) as load:
            harvest = threading.Thread(target=lambda: outcome.update(report=harvest_feed(services, "pku", "oai")))
            began = time.monotonic()
            harvest.start()
            time.sleep(4)  # a few pages are in
            before = load.answered
            cluster.kill(victim)
            killed_at = time.monotonic()
            harvest.join(timeout=300)
            harvest_s = time.monotonic() - began
            during = {"answered": load.answered - before, "failed": load.failed, "incomplete": load.incomplete}
            restarted_at = time.monotonic()
            cluster.start_node(victim)
            cluster.wait_for(nodes=3, status="yellow")
            rejoin_s, down_s = time.monotonic() - restarted_at, time.monotonic() - killed_at
            green_s = cluster.wait_for(nodes=3, status="green") + rejoin_s
    report = outcome["report"]
    assert report.status == "ok" and report.added == 800 and report.index_failed == 0, report.as_dict()
    assert load.failed == 0 and load.incomplete == 0, load.errors[:3]
    assert during["answered"] > 0
    missing = union_ids(services) - indexed_ids(services)
    assert not missing, f"{len(missing)} union records missing from the index"
    with services.db() as session:
        assert session.scalar(select(func.count()).select_from(IndexFailure)) == 0
    print(
        "FAULT one-node-killed",
        json.dumps({"killed": victim.name, "was_master": True, **during, "total_answered": load.answered,
                    "slowest_search_s": round(load.slowest, 2), "harvest_s": round(harvest_s, 1),
                    "node_down_s": round(down_s, 1), "restart_to_rejoin_s": round(rejoin_s, 1),
                    "restart_to_green_s": round(green_s, 1)}),
    )  # fmt: skip


def test_every_node_down_during_a_harvest_keeps_the_records_and_drains_the_backlog_later(
    cluster: EsCluster, services: Services, oai_provider: Callable[..., Any]
) -> None:
    provider = oai_provider(read_marc(UVA, limit=600), batch_size=50, delay=0.3)
    use_oai(services, "sjtu", provider.url)
    outcome: dict[str, Any] = {}
    harvest = threading.Thread(target=lambda: outcome.update(report=harvest_feed(services, "sjtu", "oai")))
    harvest.start()
    time.sleep(3)
    for node in cluster.nodes:
        cluster.kill(node)
    down_at = time.monotonic()
    with TestClient(create_app(services.settings, services=services)) as http:
        api = http.get("/api/v1/search", params={"q": "virginia"})
        page = http.get("/search", params={"q": "virginia", "lang": "en"})
    harvest.join(timeout=300)
    report = outcome["report"]
    assert report.status == "ok" and report.added == 600, report.as_dict()
    assert any("projection deferred" in note and "no Elasticsearch node answers" in note for note in report.notes)
    assert api.status_code == 503 and api.json()["error"]["code"] == "search_unavailable"
    assert "no Elasticsearch node answers" in api.json()["error"]["message"]
    assert page.status_code == 503 and "not available" in page.text
    with services.db() as session:
        assert session.get(Checkpoint, ("sjtu", "oai")).state["complete"] is True
        assert session.scalar(select(func.count()).select_from(SourceRecord)) == 600
        backlog = session.scalar(select(func.count()).select_from(ProjectionQueue)) or 0
    assert backlog > 0
    while_down = asyncio.run(drain_outbox({"services": services}))
    assert "no Elasticsearch node answers" in while_down["deferred"]

    for node in cluster.nodes:
        cluster.start_node(node)
    back = cluster.wait_for(nodes=3, status="green")
    drained = asyncio.run(drain_outbox({"services": services}))
    assert drained["failed"] == 0 and drained["projected"] >= backlog
    assert union_ids(services) == indexed_ids(services)
    with services.db() as session:
        assert session.scalar(select(func.count()).select_from(ProjectionQueue)) == 0
    print(
        "FAULT all-nodes-down",
        json.dumps({"backlog": backlog, "drained": drained["projected"], "down_s": round(time.monotonic() - down_at, 1),
                    "restart_to_green_s": round(back, 1)}),
    )  # fmt: skip
