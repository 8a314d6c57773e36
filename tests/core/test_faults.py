"""Fault matrix: a harvest process killed mid-page, PostgreSQL restarted mid-harvest, a feed that
trickles — each against real PostgreSQL, real OAI-PMH providers and real ``unicat harvest`` processes."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from catalog.context import build_services
from catalog.members import sync_members
from catalog.pipeline import harvest_member
from store.db import transaction
from tests.core.helpers import DEMO, read_marc, variant
from tests.core.parallel import clusters, harvest_env, source_counts, start_harvest
from tests.core.test_postgres import fresh_database
from tests.harvesters.fault_server import Reply, Request, Trickle, identify, serving
from unicat.localsvc import postgres as local_pg
from unicat.localsvc.process import free_port


def _members(urls: dict[str, str], **feed: object) -> list[dict[str, object]]:
    return [
        {
            "code": code, "name": {"zh": code, "en": code}, "region": "north", "role": "member",
            "oai": {"url": url, "metadata_prefix": "marc21", "retries": 0, **feed},
        }
        for code, url in urls.items()
    ]  # fmt: skip


def _store(settings, database_url: str, members: list[dict[str, object]]) -> None:
    services = build_services(settings(es=False, database_url=database_url))
    with transaction(services.db) as session:
        sync_members(session, members)
    services.close()


def _engine(database_url: str) -> sa.Engine:
    return sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))


def _scalar(database_url: str, sql: str) -> object:
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def _wait_for_pages(database_url: str, member: str, pages: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = _scalar(database_url, f"SELECT coalesce(max(pages), 0) FROM harvest_run WHERE member_code = '{member}'")
        if int(done) >= pages:  # type: ignore[call-overload]
            return
        time.sleep(0.02)
    raise AssertionError(f"{member} did not commit {pages} pages in {timeout} s")


def _records(count: int, start: int = 0) -> list:
    real = read_marc(DEMO / "pku" / "uva-sirsi.mrc.gz", limit=start + count)
    return [variant(rec, f"r{i}") for i, rec in enumerate(real[start:], start)]


def _clean_clusters(settings, postgres_url: str, members: list[dict[str, object]]) -> set:
    url = fresh_database(postgres_url)
    _store(settings, url, members)
    services = build_services(settings(es=False, database_url=url))
    try:
        for member in members:
            assert all(r.status == "ok" for r in harvest_member(services, str(member["code"])))
    finally:
        services.close()
    return clusters(url)


def _consistent(database_url: str) -> None:
    """Nothing half-written: every live record stored has its match keys and a union record, every
    union record's size is what it holds, and no record appears twice."""
    assert _scalar(
        database_url,
        "SELECT count(*) FROM source_record s WHERE NOT s.deleted AND (s.cluster_id IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM match_key k WHERE k.record_id = s.id))",
    ) == 0
    assert _scalar(
        database_url,
        "SELECT count(*) FROM cluster c "
        "WHERE c.size <> (SELECT count(*) FROM source_record s WHERE s.cluster_id = c.id)",
    ) == 0
    assert _scalar(
        database_url,
        "SELECT count(*) FROM (SELECT member_code, local_id FROM source_record GROUP BY 1, 2 HAVING count(*) > 1) d",
    ) == 0


def test_a_harvest_killed_mid_page_resumes_after_the_last_committed_page(
    settings, postgres_url, redis_url, oai_provider, tmp_path
):
    provider_a = oai_provider(_records(1200), batch_size=200, repository_id="a")
    provider_b = oai_provider(_records(600, start=900), batch_size=200, repository_id="b")
    members = _members({"a": provider_a.url, "b": provider_b.url})
    url = fresh_database(postgres_url)
    _store(settings, url, members)
    env = harvest_env(url, redis_url, tmp_path / "var")
    assert start_harvest("b", env).wait(timeout=300) == 0
    victim = start_harvest("a", env)
    _wait_for_pages(url, "a", 2)
    victim.send_signal(signal.SIGKILL)  # between commits: the third page is being fetched or stored
    victim.wait(timeout=30)
    committed = source_counts(url)["a"]
    assert committed % 200 == 0 and 400 <= committed < 1200  # whole pages only
    resumed = start_harvest("a", env)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out.decode()
    assert f"added={1200 - committed} updated=0 unchanged=0" in out.decode()  # after the last committed page
    assert source_counts(url) == {"a": 1200, "b": 600}
    _consistent(url)
    assert clusters(url) == _clean_clusters(settings, postgres_url, list(reversed(members)))


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own, which it may restart."""
    base = Path(tempfile.mkdtemp(prefix="unicat-test-pgr-"))
    base.chmod(0o755)
    server = local_pg.start(base, free_port())
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _restart(server: local_pg.PostgresProcess) -> None:
    """Stop PostgreSQL at once (connections cut, as a crash or failover does) and start it again."""
    pg_ctl, base = str(local_pg.pg_bin() / "pg_ctl"), server.data_dir.parent
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    local_pg._run(server.user, [pg_ctl, "-D", str(server.data_dir), "-m", "immediate", "-w", "stop"])
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} -c fsync=off"
    log = str(base / "postgres.log")
    local_pg._run(server.user, [pg_ctl, "-D", str(server.data_dir), "-o", options, "-l", log, "-w", "start"])


def test_postgresql_restarted_mid_harvest_is_retried_and_leaves_nothing_half_written(
    settings, own_postgres, postgres_url, redis_url, oai_provider, tmp_path
):
    provider = oai_provider(_records(1200), batch_size=200, repository_id="a")
    members = _members({"a": provider.url})
    url = fresh_database(own_postgres.url)
    _store(settings, url, members)
    env = harvest_env(url, redis_url, tmp_path / "var")
    harvest = start_harvest("a", env)
    _wait_for_pages(url, "a", 2)
    _restart(own_postgres)
    out, _ = harvest.communicate(timeout=300)
    # The page whose transaction the restart cut is stored again once the server is back.
    assert harvest.returncode == 0, out.decode()
    assert "a/oai: ok" in out.decode() and "added=1200" in out.decode()
    assert source_counts(url) == {"a": 1200}
    _consistent(url)
    assert clusters(url) == _clean_clusters(settings, postgres_url, members)


def test_a_feed_sending_one_byte_a_second_times_out_and_blocks_no_other_harvest(
    settings, postgres_url, redis_url, oai_provider, tmp_path
):
    page = (Path(__file__).resolve().parents[1] / "data" / "oai" / "ListRecords2.xml").read_bytes()

    def slow(request: Request) -> Reply | Trickle:
        if request.params.get("verb") == "Identify":
            return Reply(body=identify("YYYY-MM-DDThh:mm:ssZ"))
        return Trickle(page, 1.0)

    fast = oai_provider(_records(400), batch_size=200, repository_id="fast")
    with serving(slow) as trickling:
        members = _members({"slow": trickling.url + "/oai"}, timeout=6)
        members += _members({"fast": fast.url})
        url = fresh_database(postgres_url)
        _store(settings, url, members)
        env = harvest_env(url, redis_url, tmp_path / "var")
        started = time.monotonic()
        slow_proc = start_harvest("slow", env)
        fast_proc = start_harvest("fast", env)
        assert fast_proc.wait(timeout=120) == 0
        assert slow_proc.poll() is None  # still waiting on its feed when the other is done
        out, _ = slow_proc.communicate(timeout=60)
        took = time.monotonic() - started
    assert slow_proc.returncode == 1
    assert "not complete within 6 s" in out.decode()
    assert took < 6 + 30  # the member's timeout, plus process start-up on a busy machine
    assert source_counts(url) == {"fast": 400}
    failed = _scalar(url, "SELECT status || ': ' || error FROM harvest_run WHERE member_code = 'slow'")
    assert str(failed).startswith("failed: ") and "within 6 s" in str(failed)


def test_the_members_file_refuses_a_feed_timeout_that_is_not_positive(tmp_path):
    from catalog.members import MembersFileError, parse_members

    path = tmp_path / "members.toml"
    path.write_text(
        '[[member]]\ncode = "x"\nname = { zh = "x", en = "x" }\nregion = "north"\nrole = "member"\n'
        'oai = { url = "http://127.0.0.1:1/oai", timeout = 0 }\n'
    )
    with pytest.raises(MembersFileError, match=r"member 'x': oai.timeout"):
        parse_members(path)
