"""Per-peer authentication of ISO 18626 traffic, both ways, through the served endpoint and the worker."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.context import build_services
from catalog.members import MembersFileError, parse_members
from ill import iso18626 as iso
from store.db import transaction
from store.models import Member
from tests.ill.consortium import Catalogue, seed
from tests.ill.iso_world import drain, make_peer, outbox, served
from tests.peers.iso18626_peer import DATA, Iso18626Peer, schema


@pytest.fixture
def world(settings: Any) -> Iterator[dict[str, Any]]:
    queue = f"test-ill-{uuid.uuid4().hex[:8]}"
    svc = build_services(settings(es=False, session_cookie_secure=False, ill_queue_name=queue))
    Catalogue().install(svc)
    seed(svc)
    with served(svc) as url:
        yield {"services": svc, "url": url, "queue": queue}
    svc.close()


def _request(peer: Iso18626Peer, rid: str) -> bytes:
    return peer.request(supplier="TSU", rid=rid, title="A book")


def _post(world: dict[str, Any], data: bytes, headers: dict[str, str]) -> str | None:
    answer = iso.read(httpx.post(world["url"], content=data, headers=headers).content)
    return answer.get("confirmationHeader/messageStatus")


BASIC = {"authorization": "Basic " + base64.b64encode(b"rs-user:s3cret").decode()}
CASES = [  # auth table, good headers, bad headers
    ({"type": "bearer", "token": "t0k"}, {"authorization": "Bearer t0k"}, {"authorization": "Bearer nope"}),
    ({"type": "basic", "username": "rs-user", "password": "s3cret"}, BASIC,
     {"authorization": "Basic " + base64.b64encode(b"rs-user:wrong").decode()}),
    ({"type": "header", "header": "X-Okapi-Token", "value": "okapi"}, {"x-okapi-token": "okapi"},
     {"x-okapi-token": "other"}),
    ({"type": "mtls", "client_dn": "CN=rs.example.org,O=ReShare"}, {"x-ssl-client-s-dn": "CN=rs.example.org,O=ReShare"},
     {"x-ssl-client-s-dn": "CN=someone.else"}),
    ({"type": "ip", "allow_ips": ["127.0.0.0/8"]}, {}, None),
    ({"type": "none"}, {}, None),
]


@pytest.mark.parametrize(("auth", "good", "bad"), CASES, ids=[c[0]["type"] for c in CASES])
def test_inbound_authentication_per_peer(world: dict[str, Any], auth: dict[str, Any], good: dict[str, str],
                                         bad: dict[str, str] | None) -> None:
    peer = make_peer(world["services"], "SJTU", "CN-SJTU", "1.2", "1.2", **auth)
    assert _post(world, _request(peer, "A-1"), good) == "OK"
    if bad is not None:
        assert _post(world, _request(peer, "A-2"), bad) == "ERROR"


def test_ip_allow_list_refuses_other_addresses(world: dict[str, Any]) -> None:
    peer = make_peer(world["services"], "SJTU", "CN-SJTU", "1.2", "1.2", type="ip", allow_ips=["192.0.2.0/24"])
    assert _post(world, _request(peer, "B-1"), {}) == "ERROR"
    # mutual TLS is believed only from the TLS terminator's address
    make_peer(world["services"], "SJTU", "CN-SJTU", "1.2", "1.2", type="mtls", client_dn="CN=x",
              trusted_proxies=["192.0.2.1/32"])
    assert _post(world, _request(peer, "B-2"), {"x-ssl-client-s-dn": "CN=x"}) == "ERROR"


@pytest.mark.parametrize(("auth", "expected"), [
    ({"type": "basic", "username": "unicat", "password": "pw"},
     {"authorization": "Basic " + base64.b64encode(b"unicat:pw").decode()}),
    ({"type": "header", "header": "X-Okapi-Token", "value": "abc"}, {"x-okapi-token": "abc"}),
], ids=["basic", "header"])
def test_outbound_credentials_per_peer(world: dict[str, Any], auth: dict[str, Any],
                                       expected: dict[str, str]) -> None:
    peer = make_peer(world["services"], "SJTU", "CN-SJTU", "2021", "2021", **auth)
    peer.expected_headers = expected
    from ill.models import IllRequest
    from ill.peerconf import get_peer
    from ill.peers import _request as queue_request

    with transaction(world["services"].db) as session:
        req = IllRequest(borrower_code="PKU", lender_code="SJTU", union_id="u", title="T", record_format="book",
                         service="loan", state="sent", origin="web")
        session.add(req)
        session.flush()
        configured = get_peer(session, "SJTU")
        assert configured is not None
        queue_request(session, req, configured)
    with peer.running():
        drain(world["services"], world["services"].settings.redis_url, world["queue"])
    assert [m.status for m in outbox(world["services"])] == ["sent"] and len(peer.received) == 1


def test_captured_request_replayed_byte_for_byte_is_accepted(world: dict[str, Any]) -> None:
    """CrossLink's captured request, exactly as stored, from a peer whose agency id is REQ to BROKER."""
    with transaction(world["services"].db) as session:
        session.add(Member(code="BROKER", name_zh="经纪", name_en="Broker", region="east", role="member", config={}))
    make_peer(world["services"], "SJTU", "REQ", "1.2", "auto", type="none")
    raw = (DATA / "request-ok.xml").read_bytes()
    answer = iso.read(httpx.post(world["url"], content=raw).content)
    assert answer.version == iso.V12 and answer.get("confirmationHeader/messageStatus") == "OK"
    assert answer.header("confirmationHeader") == iso.Header(iso.Agency("ISIL", "BROKER"), iso.Agency("ISIL", "REQ"),
                                                             "js-test-0155")


def test_captured_messages_are_valid_1_2_and_not_2021() -> None:
    for path in sorted(DATA.glob("*.xml")):
        assert schema("1.2").is_valid(str(path)), path.name
        assert not schema("2021").is_valid(str(path)), path.name  # why one XSD for both cannot work


def test_members_file_declares_peers_and_refuses_unsafe_none(tmp_path: Path) -> None:
    def load(peer: str) -> list[dict[str, Any]]:
        path = tmp_path / "members.toml"
        path.write_text(f'[[member]]\ncode = "rs-lib"\nname = {{ zh = "成员", en = "Member" }}\nregion = "east"\n'
                        f"iso18626 = {peer}\n", encoding="utf-8")
        return parse_members(path)

    ok = load('{ url = "https://rs.example.org/iso18626", agency_id = "US-RS", agency_type = "ISIL", '
              'version = "1.2", auth = { type = "basic", username = "u", password_env = "RS_PW" } }')
    assert ok[0]["iso18626"]["auth"]["type"] == "basic"  # a pure peer: no feed, no policy row needed
    for bad, why in (('{ url = "https://rs.example.org/x", auth = { type = "none" } }', "loopback"),
                     ('{ url = "https://rs.example.org/x", auth = { type = "bearer" } }', "needs token"),
                     ('{ url = "https://rs.example.org/x", version = "3", auth = { type = "ip", '
                      'allow_ips = ["10.0.0.0/8"] } }', "version")):
        with pytest.raises(MembersFileError) as exc:
            load(bad)
        assert why in str(exc.value), exc.value
