"""End to end: a consortium of OAI-PMH, Z39.50 (Zebra) and SRU (Zebra) members harvests into one
union catalogue, and the record's availability API shows live statuses from Zebra and yaz-ztest
and 'unknown' for a member whose server hangs — within the timeout + 0.5 s."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes import availability
from catalog.context import Services, build_services
from catalog.members import sync_members
from catalog.pipeline import harvest_member
from catalog.records import find_by_source
from tests.peers.fake_ils import fault_server
from tests.peers.zebra import TEMPLATES, ZebraServer, read_marc
from unicat.settings import Settings


def api_app(services: Services) -> FastAPI:
    """Just the availability routes over these services (the full app adds pages and other routes)."""
    app = FastAPI()
    app.state.services = services
    app.include_router(availability.router, prefix="/api/v1")
    return app


def member(code: str, **tables: object) -> dict[str, object]:
    return {"code": code, "name": {"zh": code, "en": code}, "region": "test", "role": "member", "schedule": "1d",
            **tables}


def test_mixed_consortium_harvests_and_shows_live_availability(
    settings: Callable[..., Settings], oai_provider, holdings_zebra: ZebraServer, ztest_port: int
) -> None:
    provider = oai_provider(read_marc(TEMPLATES / "uva-sirsi-300.mrc", limit=40))
    services = build_services(settings(availability_timeout=1.0))
    z = holdings_zebra
    with fault_server("hang") as hang:
        members = [
            member("oai-lib", oai={"url": provider.url}),
            member("z-lib", z3950={"host": z.host, "port": z.port, "queries": ["@attr 1=4 book"]},
                   holdings={"type": "z3950-opac", "host": "127.0.0.1", "port": ztest_port, "syntax": "xml",
                             "element_set": "opac"}),
            member("s-lib", sru={"url": z.sru_url, "queries": ["dc.title=book"]},
                   holdings={"type": "sru", "url": z.sru_url}),
            member("hang-lib", sru={"url": z.sru_url, "queries": ["dc.title=dance"]},
                   holdings={"type": "ils-di", "url": f"http://127.0.0.1:{hang}/ilsdi.pl"}),
        ]
        with services.db() as session, session.begin():
            sync_members(session, members)
        reports = [r for m in members for r in harvest_member(services, str(m["code"]))]
        assert [(r.member, r.status) for r in reports] == [
            ("oai-lib", "ok"), ("z-lib", "ok"), ("s-lib", "ok"), ("hang-lib", "ok")]
        assert all(r.added > 0 for r in reports)
        union = find_by_source(services, "z-lib", "u1")
        assert union is not None
        with TestClient(api_app(services)) as client:
            started = time.monotonic()
            resp = client.get(f"/api/v1/records/{union['id']}/availability")
            elapsed = time.monotonic() - started
            batch = client.get("/api/v1/availability", params={"ids": f"{union['id']},unone"}).json()
            too_many = client.get("/api/v1/availability", params={"ids": ",".join(f"u{i}" for i in range(51))})
            missing = client.get("/api/v1/records/u000000000000000/availability")
    services.close()
    assert resp.status_code == 200, resp.text
    body = resp.json()
    got = {e["member"]: e for e in body["holdings"]}
    assert set(got) == {"oai-lib", "z-lib", "s-lib", "hang-lib"}  # one union record held by all four
    assert elapsed < 1.0 + 0.5
    assert got["hang-lib"]["state"] == "unknown" and "timed out" in got["hang-lib"]["detail"]
    assert got["z-lib"]["state"] == "ok" and {i["status"] for i in got["z-lib"]["items"]} == {"available", "on_loan"}
    assert got["s-lib"]["state"] == "ok" and {i["status"] for i in got["s-lib"]["items"]} == {"available", "lost"}
    assert got["oai-lib"]["source"] == "harvested" and got["oai-lib"]["detail"].startswith("harvested holdings")
    assert body["available_somewhere"] is True
    assert batch == {union["id"]: {"available_somewhere": True}, "unone": {"available_somewhere": None}}
    assert too_many.status_code == 422 and missing.status_code == 404
