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

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import httpx

Status = Literal["available", "on_loan", "in_transit", "on_hold_shelf", "lost", "missing", "not_for_loan", "unknown"]
STATUSES: tuple[str, ...] = ("available", "on_loan", "in_transit", "on_hold_shelf", "lost", "missing",
                             "not_for_loan", "unknown")
#: Statuses a patron or another library can place a request against.
REQUESTABLE: frozenset[str] = frozenset({"available", "on_loan", "in_transit", "on_hold_shelf"})


class ConnectorError(Exception):
    """The member answered, but not usably (garbage, a protocol diagnostic, an unknown record)."""


class Unreachable(ConnectorError):
    """The member did not answer: connection refused or reset, no such host, timed out."""


@dataclass
class Item:
    call_number: str | None = None
    location: str | None = None
    status: str = "unknown"
    due_date: str | None = None
    requestable: bool | None = None
    item_id: str | None = None

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


class Connector(Protocol):
    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]: ...


# Status words seen in real systems (Sirsi locations, Koha messages, NCIP CirculationStatus, Alma
# AVA, Chinese systems), checked in order: the first pattern that matches names the status.
_STATUS_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), s)
    for p, s in [
        (r"lost|遗失|丢失", "lost"),
        (r"missing|claim|withdrawn|discard|剔除|缺失", "missing"),
        (r"transit|transfer|在途|调拨", "in_transit"),
        (r"hold.?shelf|for pickup|waiting|awaiting|预约到书|待取", "on_hold_shelf"),
        (r"checked.?out|on.?loan|charged|due|recalled|借出|已借", "on_loan"),
        (r"not.?for.?loan|reference|non.?circ|library use|in.?library|unavailable|not available"
         r"|vault|order|in.?process|bindery|阅览|不外借|馆内", "not_for_loan"),
        (r"^(available|on shelf|available on shelf|in|check_holdings)$|stack|shelf|by.?request|在架|可借",
         "available"),
    ]
]


def normalise_status(text: str | None) -> str:
    """Map a member's own status word to one of :data:`STATUSES` (``unknown`` when unsure)."""
    if not text or not text.strip():
        return "unknown"
    value = text.strip()
    if value in STATUSES:
        return value
    for pattern, status in _STATUS_PATTERNS:
        if pattern.search(value):
            return status
    return "unknown"


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
