"""The one small interface every availability connector implements, and what they share.

A connector answers "items for this member's holding of a record" — the holding entry of the
union record (``local_ids``, ``harvested_items`` with item ids and call numbers, ``as_of``)::

    class MyIlsConnector:
        def __init__(self, config: MyIlsHoldings) -> None: ...
        async def items(self, holding: dict, ctx: LookupContext) -> list[Item]: ...

It raises :class:`Unreachable` when the member did not answer (refused, reset, timed out, no
such host) and :class:`ConnectorError` when it answered something unusable (garbage, protocol
diagnostics). The service enforces the per-member timeout around ``items`` and turns errors into
per-member states, so a connector only has to be correct, not defensive about time.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import httpx

from holdings.vocabulary import STATUSES as STATUSES
from holdings.vocabulary import StatusReader, chain_for

#: Statuses a patron or another library can place a request against.
REQUESTABLE: frozenset[str] = frozenset({"available", "on_loan", "in_transit", "on_hold_shelf"})


class ConnectorError(Exception):
    """The member answered, but not usably (garbage, a protocol diagnostic, an unknown record)."""


class Unreachable(ConnectorError):
    """The member did not answer: connection refused or reset, no such host, timed out."""


class NotLookedUp(ConnectorError):
    """Nothing was asked: the union record has no id this member's protocol can look up (no local
    record id, no harvested item ids). The record's fault, not the member's: no breaker count."""


@dataclass
class Item:
    call_number: str | None = None
    location: str | None = None
    status: str = "unknown"
    due_date: str | None = None
    requestable: bool | None = None
    item_id: str | None = None
    #: The member's own status word, as it sent it (shown beside ``unknown``).
    status_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["requestable"] is None:
            data["requestable"] = self.status in REQUESTABLE
        return data


@dataclass
class LookupContext:
    """What the service lends a connector for one look-up."""

    http: httpx.AsyncClient
    #: Blocking protocol stacks (YAZ) run here: one connection per task, never shared.
    executor: ThreadPoolExecutor
    timeout: float
    #: Reads the member's status words; the unknown ones are reported per member.
    reader: StatusReader = field(default_factory=StatusReader)
    #: At most this many connections to the member at once (``holdings.max_connections``).
    slots: asyncio.Semaphore | None = None

    def slot(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Hold one of the member's connection slots while talking to it."""
        return self.slots if self.slots is not None else contextlib.nullcontext()


class Connector(Protocol):
    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]: ...


def normalise_status(text: str | None, reader: StatusReader | None = None) -> str:
    """A status word read with ``reader`` (default: the words every table agrees on); ``unknown``
    when no table knows it."""
    return (reader or StatusReader(chain_for())).status(text)


def harvested_call_numbers(holding: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Harvested items by item id, to fill in call numbers live protocols leave out."""
    return {str(h["item_id"]): h for h in holding.get("harvested_items") or [] if h.get("item_id")}


def transport_error(exc: BaseException) -> ConnectorError:
    """Classify an httpx failure: no answer → :class:`Unreachable`, a broken answer → error."""
    if isinstance(exc, httpx.TimeoutException):
        return Unreachable(f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return Unreachable(f"unreachable: {exc or 'connection failed'}")
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc) or "server closed the connection"
        if "without sending" in text or "disconnected" in text.lower():
            return Unreachable(f"connection closed: {text}")
        return ConnectorError(f"not an HTTP answer: {text}")
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return Unreachable(f"connection reset: {exc or type(exc).__name__}")
    return ConnectorError(f"{type(exc).__name__}: {exc}")
