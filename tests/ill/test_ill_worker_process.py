"""The ILL worker as its own process on its own queue: ``unicat worker --queue ill`` delivers the
peer outbox by itself (its cron), while nothing runs on the harvest queue."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from catalog.context import build_services
from ill import intake
from ill.auth import actor_of
from ill.intake import RequestForm
from tests.ill.consortium import Catalogue, seed
from tests.ill.iso_world import make_peer, outbox


def test_ill_worker_process_sends_the_outbox_on_its_own_queue(settings: Any) -> None:
    queue = f"test-ill-{uuid.uuid4().hex[:8]}"
    s = settings(es=False, ill_queue_name=queue)
    svc = build_services(s)
    catalogue = Catalogue()
    catalogue.install(svc)
    accounts = seed(svc)
    peer = make_peer(svc, "SJTU", "CN-SJTU", "1.2", "1.2")
    catalogue.add("w1", "A book", {"SJTU": "available"})
    env = {**os.environ, "UNICAT_DATABASE_URL": s.sqlalchemy_url, "UNICAT_REDIS_URL": s.redis_url,
           "UNICAT_ILL_QUEUE_NAME": queue, "UNICAT_VAR_DIR": str(s.var_dir), "UNICAT_ES_URL": s.es_url,
           "UNICAT_SMTP_PORT": "1"}
    with peer.running():
        req = asyncio.run(intake.create(svc, actor_of(accounts["patron_pku"]), RequestForm(union_id="w1")))
        proc = subprocess.Popen([sys.executable, "-m", "unicat.cli", "worker", "--queue", "ill"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not peer.received and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
        finally:
            proc.terminate()
            output = proc.communicate(timeout=20)[0].decode(errors="replace")
    assert [r.get("header/requestingAgencyRequestId") for r in peer.received] == [str(req.id)], output[-2000:]
    assert outbox(svc)[0].status == "sent"
    assert "Starting worker" in output and "harvest_member_job" not in output  # the ILL jobs only
    svc.close()
