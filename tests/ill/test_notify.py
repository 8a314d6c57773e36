"""E-mail goes out from the worker job through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from catalog.context import Services
from ill import intake
from ill.auth import actor_of
from ill.intake import RequestForm
from ill.jobs import send_notifications
from ill.service import Details, transition
from tests.ill.consortium import Catalogue


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_sends_queued_mail(services: Services, catalogue: Catalogue, accounts: dict[str, Any]) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        services.settings.smtp_port = port
        catalogue.add("u1", "Book", {"TSU": "available"})
        req = asyncio.run(intake.create(services, actor_of(accounts["patron_pku"]), RequestForm(union_id="u1")))
        transition(services, req.id, "unfilled", actor_of(accounts["staff_tsu"]), details=Details(reason="NotHeld"))
        assert asyncio.run(send_notifications({"services": services})) == 3
        to = sorted(m["To"] for m in inbox.messages)
        assert to == ["ill@pku.example", "ill@tsu.example", "patron@pku.example"]
        assert asyncio.run(send_notifications({"services": services})) == 0  # nothing sent twice
    finally:
        controller.stop()
