"""Members and feeds in the console: the members file's validation next to each field, nothing
half-saved, the address policy (HTTP(S) only; private and link-local addresses refused unless
allow-listed), "check connection" against a real OAI-PMH provider and a real Zebra server (Z39.50
and SRU), a timeout for a silent server, and the members file exported and read back."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from admin import audit
from admin.connection import check_connection
from admin.members import config_to_form, export_members, save_member
from catalog.context import build_services
from catalog.members import parse_members, sync_members
from ill.auth import actor_of
from store.db import transaction
from store.models import Member
from tests.admin.helpers import account, csrf_of, sign_in
from tests.core.conftest import MEMBERS
from tests.core.helpers import DEMO, read_marc
from tests.core.test_members_cli import run_cli
from tests.peers.fake_ils import FakeItem, IlsData, ils_server
from tests.peers.zebra import SAMPLE_MARC, ZebraServer, zebra_server
from unicat.app import create_app

UVA = DEMO / "pku" / "uva-sirsi.mrc.gz"


@pytest.fixture
def services(settings):  # noqa: ANN001, ANN201 - overrides the package fixture: loopback allow-listed
    built = build_services(settings(session_cookie_secure=False, feed_allowlist=["127.0.0.1/32"],
                                    connection_check_timeout=3.0))
    with transaction(built.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    yield built
    built.close()


@pytest.fixture(scope="module")
def zebra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZebraServer]:
    with zebra_server(tmp_path_factory.mktemp("zebra"), read_marc(SAMPLE_MARC)) as server:
        yield server


def _form(**changes: str) -> dict[str, str]:
    form = {"code": "cqu", "name_zh": "重庆大学图书馆", "name_en": "Chongqing University Library",
            "region": "southwest", "role": "member", "schedule": "1d", "withdraw_limit": "",
            "oai": 'url = "http://127.0.0.1:9/oai"\nmetadata_prefix = "marc21"'}
    form.update(changes)
    return form


def _stored(services, code: str) -> Member | None:  # noqa: ANN001
    with services.db() as session:
        return session.get(Member, code)


def test_invalid_fields_are_named_like_the_members_file_and_nothing_is_saved(services):
    admin = actor_of(account(services, "nlc", "boss", "admin"))
    saved, errors = save_member(services, admin, _form(code="Bad Code", role="emperor", schedule="often",
                                                       oai='metadata_prefix = "marc21"'))
    assert saved is None
    assert errors["code"] == ["member 'Bad Code': code: Value error, must be lowercase letters, digits, '-' or '_' "
                              "(at most 64)"]
    assert errors["role"][0].startswith("member 'Bad Code': role: Value error, must be one of national")
    assert errors["schedule"][0].startswith("member 'Bad Code': schedule:")
    assert errors["oai"] == ["member 'Bad Code': oai.url: Field required"]
    saved, errors = save_member(services, admin, _form(oai="url = [unclosed"))
    assert saved is None and errors["oai"][0].startswith("oai: not valid TOML")
    with services.db() as session:
        assert session.scalars(select(Member.code)).all() == sorted(m["code"] for m in MEMBERS), "nothing added"
    assert audit.entries(services) == []


def test_feed_addresses_follow_the_consortium_policy(services):
    admin = actor_of(account(services, "nlc", "boss", "admin"))
    _, errors = save_member(services, admin, _form(oai='url = "ftp://127.0.0.1/oai"'))
    assert errors["oai"] == ["member 'cqu': oai.url: Value error, url must be an http(s) URL, got 'ftp://127.0.0.1/oai'"]
    _, errors = save_member(services, admin, _form(holdings='type = "ils-di"\nurl = "gopher://127.0.0.1/x"'))
    assert "http" in errors["holdings"][0], errors
    _, errors = save_member(services, admin, _form(sru='url = "http://169.254.169.254/latest/meta-data"'))
    assert "link-local address 169.254.169.254" in errors.get("sru", [""])[0], errors
    _, errors = save_member(services, admin, _form(z3950='host = "10.0.0.7"\nport = 210'))
    assert "private or reserved address 10.0.0.7" in errors["z3950"][0]
    _, errors = save_member(services, admin, _form(files='url_or_path = "/etc/passwd"\nformat = "iso2709"'))
    assert "file path on this server" in errors["files"][0]
    assert _stored(services, "cqu") is None, "nothing half-saved"

    saved, errors = save_member(services, admin, _form())
    assert errors == {} and saved["oai"]["url"] == "http://127.0.0.1:9/oai", "127.0.0.1 is allow-listed here"
    strict = services.settings.model_copy(update={"feed_allowlist": []})
    result = check_connection(strict, saved, "oai")
    assert not result["ok"] and "loopback address 127.0.0.1" in result["error"] and result["steps"] == []


def test_check_connection_runs_the_real_protocols(services, oai_provider, zebra):
    provider = oai_provider(read_marc(UVA, limit=5), repository_id="cqu-test")
    oai = check_connection(services.settings, {"oai": {"url": provider.url, "metadata_prefix": "marc21"}}, "oai")
    assert oai["ok"], oai
    assert [s["name"] for s in oai["steps"]] == ["Identify", "ListMetadataFormats"]
    assert oai["steps"][0]["detail"]["protocolVersion"] == "2.0" and "marc21" in oai["steps"][1]["detail"]["formats"]
    assert all(s["ms"] >= 0 for s in oai["steps"]) and oai["ms"] < 3000

    z = check_connection(services.settings, {"z3950": {"host": zebra.host, "port": zebra.port,
                                                       "queries": ["@attr 1=4 computer"]}}, "z3950")
    assert z["ok"], z
    assert z["steps"][1]["detail"]["hits"] >= 1 and z["steps"][1]["detail"]["first_record_bytes"] > 100
    sru = check_connection(services.settings, {"sru": {"url": zebra.sru_url}}, "sru")
    assert sru["ok"], sru

    wrong = check_connection(services.settings, {"oai": {"url": provider.url, "metadata_prefix": "cnmarc"}}, "oai")
    assert not wrong["ok"] and "does not offer 'cnmarc'" in wrong["error"]


def test_a_silent_server_is_reported_within_the_timeout(services):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/oai"
        result = check_connection(services.settings, {"oai": {"url": url}}, "oai")
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert not result["ok"] and "Timeout" in result["error"] or "within 3 s" in result["error"]
    assert 2500 <= result["ms"] <= 4500


def test_console_form_shows_the_message_beside_the_field_and_exports_the_file(services, tmp_path: Path):
    account(services, "nlc", "boss", "admin")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        token = csrf_of(http.get("/admin/members/new").text)
        bad = http.post("/admin/members/new", data={**_form(role="emperor"), "csrf_token": token})
        assert bad.status_code == 422
        assert 'id="error-role"' in bad.text and "must be one of national" in bad.text
        assert 'value="重庆大学图书馆"' in bad.text, "what was typed is kept"
        good = http.post("/admin/members/new", data={**_form(), "csrf_token": token}, follow_redirects=False)
        assert good.status_code == 303 and good.headers["location"] == "/admin/members/cqu?saved=1"
    with transaction(services.db) as session:  # the fixture's members have no feed; a members file needs one
        for member in session.scalars(select(Member).where(Member.code != "cqu")):
            member.config = {**member.config, "files": {"url_or_path": f"https://{member.code}.example.edu/d.mrc"}}
    exported = tmp_path / "members.toml"
    exported.write_text(export_members(services), encoding="utf-8")
    again = {m["code"]: m for m in parse_members(exported)}
    assert again["cqu"]["oai"] == _stored(services, "cqu").config["oai"]
    assert set(again) == {"cqu", *(m["code"] for m in MEMBERS)}
    cli = run_cli(services.settings, exported, "members", "export")
    assert cli.returncode == 0 and 'code = "cqu"' in cli.stdout


def test_a_cataloguer_edits_only_their_members_feeds(services):
    cataloguer = actor_of(account(services, "pku", "cat", "cataloguer"))
    form = config_to_form(_stored(services, "pku").config)
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "pku", "cat")
        assert http.get("/admin/members/bnu").status_code == 403
        token = csrf_of(http.get("/admin/members/pku").text)
        refused = http.post("/admin/members/bnu", data={**form, "code": "bnu", "csrf_token": token})
        assert refused.status_code == 403
    saved, errors = save_member(services, cataloguer, {**form, "role": "national", "oai": 'url = "http://127.0.0.1:8/x"'},
                                "pku")
    assert errors == {} and saved["role"] == "regional", "the role stays the consortium's"
    assert saved["oai"]["url"] == "http://127.0.0.1:8/x"
    entry = audit.entries(services, "pku")[0]
    assert entry["action"] == "member.update" and entry["after"]["oai"]["url"] == "http://127.0.0.1:8/x"

    z3950 = 'host = "127.0.0.1"\nport = 9999\nuser = "opac"\npassword = "s3cret-word"'
    saved, errors = save_member(services, cataloguer, {**form, "z3950": z3950}, "pku")
    assert errors == {} and saved["z3950"]["password"] == "s3cret-word"
    logged = audit.entries(services, "pku")[0]
    assert logged["after"]["z3950"]["password"] == "***", "secrets never reach the audit log"
    assert _stored(services, "bnu").config.get("oai") is None


def test_check_connection_looks_one_record_up_in_the_members_ils(services):
    data = IlsData(bibs={"b42": [FakeItem("i1", "checked_out"), FakeItem("i2", "available")]})
    with ils_server(data) as url:
        feed = {"holdings": {"type": "ils-di", "url": f"{url}/cgi-bin/koha/ilsdi.pl"}}
        found = check_connection(services.settings, feed, "holdings", "b42")
        unknown = check_connection(services.settings, feed, "holdings", None)
    assert found["ok"], found
    step = found["steps"][0]
    assert step["name"] == "lookup ils-di" and step["detail"]["count"] == 2
    assert sorted(i["status"] for i in step["detail"]["items"]) == ["available", "on_loan"]
    assert not unknown["ok"] and "no harvested record" in unknown["error"]
