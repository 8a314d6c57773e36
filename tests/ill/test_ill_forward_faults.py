"""Fault matrix (issue 19): a process killed during an ILL forward — the forward happens exactly once.

Everything runs for real: ``unicat serve`` (uvicorn) and ``unicat worker --queue ill`` as their own
processes on one SQLite database and a private Redis; two ISO 18626 peers (tests/peers/iso18626_peer.py,
messages made from captured CrossLink ones). The first lender answers Unfilled; the request must reach
the second lender once.

* The API is ``kill -9``ed while it handles the inbound Unfilled: the test holds the database's write
  lock, so the API has received the message and waits to write it; it dies there, comes back, and the
  peer resends the message it got no confirmation for (as real peers do).
* The ILL worker is ``kill -9``ed after the second lender processed the Request but before its answer
  arrived (the peer holds the answer back), so the worker never records it; a new worker sends it again
  when the dead worker's lease ends, and the peer recognises the resend.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import select

from catalog.context import Services, build_services
from ill import intake
from ill.auth import actor_of
from ill.intake import RequestForm
from ill.models import AuditEntry, IllRequest
from tests.ill.consortium import Catalogue, seed
from tests.ill.iso_world import make_peer, outbox
from tests.peers.iso18626_peer import Iso18626Peer, status_of
from unicat.localsvc.process import free_port

LEASE = 3.0  # seconds a worker holds a message it posts (production: 120)


def _env(s: Any) -> dict[str, str]:
    return {**os.environ, "UNICAT_DATABASE_URL": s.sqlalchemy_url, "UNICAT_REDIS_URL": s.redis_url,
            "UNICAT_ILL_QUEUE_NAME": s.ill_queue_name, "UNICAT_VAR_DIR": str(s.var_dir), "UNICAT_ES_URL": s.es_url,
            "UNICAT_SMTP_PORT": "1", "UNICAT_ILL_PEER_LEASE_SECONDS": str(LEASE),
            "UNICAT_ILL_PEER_BACKOFF_BASE": "0.2", "UNICAT_ILL_PEER_BACKOFF_CAP": "0.5"}


def _start(args: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "unicat.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT)


@contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(20)


def _serve(env: dict[str, str], port: int, log: Any) -> subprocess.Popen[bytes]:
    proc = _start(["serve", "--port", str(port)], env, log)
    deadline = time.monotonic() + 180  # a loaded 2-core machine can take a minute to import the app
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/iso18626", timeout=1)  # any answer: it is up
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"unicat serve did not start (rc {proc.poll()})")


def _wait(cond: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _world(settings: Any) -> tuple[Services, Any, Iso18626Peer, Iso18626Peer, int]:
    s = settings(es=False, ill_queue_name=f"test-ill-{uuid.uuid4().hex[:8]}")
    svc = build_services(s)
    catalogue = Catalogue()
    catalogue.install(svc)
    accounts = seed(svc)
    first = make_peer(svc, "SJTU", "CN-SJTU", "1.2", "1.2")
    second = make_peer(svc, "FDU", "CN-FDU", "2021", "2021")
    catalogue.add("w1", "The Dream of the Red Chamber", {"SJTU": "available", "FDU": "unknown"})
    req = asyncio.run(intake.create(svc, actor_of(accounts["patron_pku"]), RequestForm(union_id="w1")))
    return svc, s, first, second, req.id


def _requests_to(peer: Iso18626Peer) -> list[bytes]:
    return [r.xml for r in peer.received if r.kind == "request"]


def _forwards(svc: Services, rid: int) -> list[tuple[str, str | None, str | None]]:
    with svc.db() as session:
        return [(a.action, a.to_state, a.lender_code) for a in session.scalars(
            select(AuditEntry).where(AuditEntry.request_id == rid, AuditEntry.action == "unfilled"))]


def _request(svc: Services, rid: int) -> IllRequest:
    with svc.db() as session:
        req = session.get(IllRequest, rid)
        assert req is not None
        session.expunge(req)
        return req


def _post_in_background(url: str, peer: Iso18626Peer, data: bytes) -> tuple[threading.Thread, list[Any]]:
    """The peer's POST, left waiting while the API is blocked (it ends with the API's death)."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(httpx.post(url, content=data, timeout=60, headers={
                "Content-Type": "application/xml", "Authorization": f"Bearer {peer.token}"}))
        except httpx.TransportError as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_api_killed_while_handling_unfilled_forwards_once(settings: Any, tmp_path: Any) -> None:
    svc, s, first, second, rid = _world(settings)
    env, port = _env(s), free_port()
    url = f"http://127.0.0.1:{port}/api/v1/iso18626"
    first.unicat_url, first.unicat_headers = url, {"Authorization": f"Bearer {first.token}"}
    log = (tmp_path / "procs.log").open("wb")
    with first.running(), second.running(), _processes() as procs:
        procs.append(_start(["worker", "--queue", "ill"], env, log))
        _wait(lambda: len(_requests_to(first)) == 1, 120, "the Request at the first lender")
        api = _serve(env, port, log)
        procs.append(api)
        unfilled = first.supplying(requester="PKU", rid=str(rid), srid=f"sup-{rid}", status="Unfilled",
                                   reason="RequestResponse", reason_unfilled="NotHeld")
        lock = sqlite3.connect(s.sqlalchemy_url.removeprefix("sqlite:///"), timeout=30)
        lock.execute("BEGIN IMMEDIATE")  # the API will wait for it at its first write
        thread, result = _post_in_background(url, first, unfilled)
        time.sleep(2.0)
        assert thread.is_alive() and not result, "the API answered although it could not write"
        os.kill(api.pid, signal.SIGKILL)
        api.wait(10)
        thread.join(10)
        assert isinstance(result[0], httpx.TransportError)  # the peer got no confirmation
        lock.rollback()
        lock.close()
        assert _request(svc, rid).lender_code == "SJTU" and _forwards(svc, rid) == []  # nothing half-written
        procs.append(_serve(env, port, log))
        assert status_of(first.send(unfilled)) == "OK"  # the peer resends what was not confirmed
        _wait(lambda: len(_requests_to(second)) >= 1, 120, "the Request at the second lender")
        assert status_of(first.send(unfilled)) == "OK"  # a late duplicate: the same answer, nothing new
        time.sleep(2.5)  # the worker keeps running: any second Request would leave now
    assert len(_requests_to(second)) == 1
    assert _forwards(svc, rid) == [("unfilled", "sent", "SJTU")]  # SJTU said Unfilled; sent on
    req = _request(svc, rid)
    assert (req.state, req.lender_code, req.peer_error) == ("sent", "FDU", None)
    assert [(m.peer_code, m.kind, m.status) for m in outbox(svc)] == [("SJTU", "request", "sent"),
                                                                        ("FDU", "request", "sent")]
    svc.close()


def test_worker_killed_between_posting_and_recording_forwards_once(settings: Any, tmp_path: Any) -> None:
    svc, s, first, second, rid = _world(settings)
    env, port = _env(s), free_port()
    first.unicat_url, first.unicat_headers = f"http://127.0.0.1:{port}/api/v1/iso18626", {
        "Authorization": f"Bearer {first.token}"}
    log = (tmp_path / "procs.log").open("wb")
    with first.running(), second.running(), _processes() as procs:
        worker = _start(["worker", "--queue", "ill"], env, log)
        procs.append(worker)
        _wait(lambda: len(_requests_to(first)) == 1, 120, "the Request at the first lender")
        procs.append(_serve(env, port, log))
        second.gate = threading.Event()  # the second lender processes the Request, then is slow to answer
        assert status_of(first.send(first.supplying(requester="PKU", rid=str(rid), srid=f"sup-{rid}",
                                                    status="Unfilled", reason="RequestResponse"))) == "OK"
        _wait(second.held.is_set, 120, "the Request held at the second lender")
        os.kill(worker.pid, signal.SIGKILL)  # posted and processed there, not recorded here
        worker.wait(10)
        second.gate.set()
        second.gate = None
        assert [m.status for m in outbox(svc)] == ["sent", "pending"]
        procs.append(_start(["worker", "--queue", "ill"], env, log))
        _wait(lambda: outbox(svc)[-1].status != "pending", LEASE + 60, "the Request recorded")
        time.sleep(2.5)
    sent = _requests_to(second)
    assert len(sent) == 2 and sent[0] == sent[1]  # the same message again: the peer can tell it is a resend
    assert list(second.states) == [str(rid)]  # and it holds one request
    assert _forwards(svc, rid) == [("unfilled", "sent", "SJTU")]  # SJTU said Unfilled; sent on
    m = outbox(svc)[-1]
    assert (m.peer_code, m.status, m.error_type) == ("FDU", "sent", None)
    assert _request(svc, rid).peer_error is None
    svc.close()


def test_unfilled_whose_answer_cannot_be_stored_is_not_applied(settings: Any) -> None:
    """The effect of an inbound message and the answer remembered for its resends commit together: when
    the database refuses to store the answer (a trigger, as a full disk would), the forward is not
    made either, the peer gets no confirmation, and its resend is applied once."""
    from tests.ill.iso_world import drain, served

    svc, s, first, second, rid = _world(settings)
    db = sqlite3.connect(s.sqlalchemy_url.removeprefix("sqlite:///"), timeout=30)
    with first.running(), second.running(), served(svc) as url:
        drain(svc, s.redis_url, s.ill_queue_name)
        unfilled = first.supplying(requester="PKU", rid=str(rid), srid=f"sup-{rid}", status="Unfilled",
                                   reason="RequestResponse")
        db.execute("CREATE TRIGGER refuse_answers BEFORE INSERT ON ill_inbound_message WHEN NEW.ok "
                   "BEGIN SELECT RAISE(ABORT, 'no space left'); END")
        db.commit()
        resp = httpx.post(url, content=unfilled, timeout=30, headers={
            "Content-Type": "application/xml", "Authorization": f"Bearer {first.token}"})
        assert resp.status_code == 500  # no confirmation: the peer will resend
        assert _request(svc, rid).lender_code == "SJTU" and _forwards(svc, rid) == []
        db.execute("DROP TRIGGER refuse_answers")
        db.commit()
        first.unicat_url, first.unicat_headers = url, {"Authorization": f"Bearer {first.token}"}
        assert status_of(first.send(unfilled)) == "OK"
        assert status_of(first.send(unfilled)) == "OK"
        drain(svc, s.redis_url, s.ill_queue_name, rounds=2, pause=0.3)
    db.close()
    assert len(_requests_to(second)) == 1
    assert _forwards(svc, rid) == [("unfilled", "sent", "SJTU")]
    svc.close()
