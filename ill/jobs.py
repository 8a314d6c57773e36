"""arq jobs: response-window aging, overdue loans, e-mail and ISO 18626 outboxes.

Each job is short and calls the service layer; ``ctx["services"]`` is built once in the worker's
start-up (see :data:`FUNCTIONS` / :data:`CRON_JOBS` for the worker settings class). They run on their
own queue (``UNICAT_ILL_QUEUE_NAME``) in their own worker process (``unicat worker --queue ill``), so a
long harvest never delays a timer, an e-mail or a message to a peer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from arq import cron
from sqlalchemy import select

from ill import notify, outbox
from ill.access import SYSTEM
from ill.errors import IllError
from ill.models import IllRequest
from ill.service import Details, due_for_timeout, transition
from store.db import transaction


async def age_requests(ctx: dict[str, Any], now: datetime | None = None) -> int:
    """Move every request whose lender let the response window pass to its next lender."""
    services = ctx["services"]
    now = now or datetime.now(UTC)
    moved = 0
    for request_id, version in due_for_timeout(services, now):
        try:
            await asyncio.to_thread(transition, services, request_id, "timeout", SYSTEM, expected_version=version,
                                    details=Details(message="no answer within the response window"), now=now)
            moved += 1
        except IllError:
            continue  # answered or changed meanwhile: the next run sees the new state
    return moved


async def mark_overdue(ctx: dict[str, Any], now: datetime | None = None) -> int:
    services = ctx["services"]
    today = (now or datetime.now(UTC)).date()
    with services.db() as session:
        rows = session.execute(select(IllRequest.id, IllRequest.version).where(
            IllRequest.state == "received", IllRequest.due_date < today)).tuples().all()
    done = 0
    for request_id, version in rows:
        try:
            await asyncio.to_thread(transition, services, request_id, "overdue", SYSTEM, expected_version=version)
            done += 1
        except IllError:
            continue
    return done


async def send_notifications(ctx: dict[str, Any]) -> int:
    services = ctx["services"]

    def run() -> int:
        with transaction(services.db) as session:
            notes = notify.pending(session)
            notify.send(services.settings, notes)
            return sum(1 for n in notes if n.sent_at)

    return await asyncio.to_thread(run)


async def send_peer_messages(ctx: dict[str, Any]) -> int:
    return await asyncio.to_thread(outbox.send_pending, ctx["services"])


FUNCTIONS = [age_requests, mark_overdue, send_notifications, send_peer_messages]
CRON_JOBS = [
    cron(age_requests, minute=set(range(0, 60, 5)), run_at_startup=True),
    cron(mark_overdue, hour={6}, minute={0}),
    cron(send_notifications, second={0, 30}),
    cron(send_peer_messages, second=set(range(60))),  # every second: due messages leave at once
]
