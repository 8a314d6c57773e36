"""The contract between a harvester and the pipeline that stores what it yields.

A harvester is built from one member feed's configuration and asked for pages, given the
checkpoint the pipeline last committed for that feed (``None`` on the very first run). After the
pipeline has stored a page it commits ``page.checkpoint`` in the same transaction, so a harvest
killed at any point resumes after the last stored page and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Syntax = Literal["marc21", "unimarc", "dc"]
Encoding = Literal["xml", "iso2709"]


class HarvestError(Exception):
    """A feed could not be harvested (unreachable, garbage, protocol error). The message names why."""


@dataclass(frozen=True)
class HarvestedRecord:
    """One source record exactly as the member sent it.

    ``raw`` is the record alone: for XML the ``<record>`` (MARCXML) or ``<oai_dc:dc>`` element
    serialised as UTF-8, for ISO 2709 the record's bytes. ``syntax`` is ``None`` when the feed
    does not say (the crosswalk then detects it). ``error`` set means the record is malformed: the
    pipeline stores it as a reject with that reason and carries on. ``encoding`` is ``"xml"`` or
    ``"iso2709"``, or ``"iso2709;<charset>"`` when the feed declares the records' character set
    (a files feed's ``charset``), so the stored bytes are always read the same way.
    """

    local_id: str
    raw: bytes
    encoding: Encoding = "xml"
    syntax: Syntax | None = None
    datestamp: str | None = None
    deleted: bool = False
    error: str | None = None


@dataclass
class Page:
    records: list[HarvestedRecord]
    #: JSON-serialisable state to persist once this page is stored (opaque to the pipeline).
    checkpoint: dict[str, Any] = field(default_factory=dict)
    #: Human-readable notes for the harvest report (retries, skipped files, ...).
    notes: list[str] = field(default_factory=list)
    #: Set when the page belongs to a *full* pass over the member's catalogue: an id of that pass
    #: that stays the same when a killed run resumes it. The pipeline marks every record of the
    #: page as seen by the pass.
    sweep: str | None = None
    #: True on the last page of a full pass that yielded every record the member offers: the
    #: member's records the pass did not see have been withdrawn (see ``catalog.withdrawals``).
    sweep_complete: bool = False


def new_sweep() -> str:
    """An id for a new full pass (unique, unlike a start date that two passes of a day share)."""
    import uuid

    return uuid.uuid4().hex


class Harvester(Protocol):
    def pages(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        """Yield pages until the feed is exhausted; raise :class:`HarvestError` on a fatal fault."""
        ...


def plan_query_run(
    checkpoint: dict[str, Any] | None,
    queries: list[str],
    incremental_query: str | None,
    date_format: str,
    first_position: int,
    full_every_days: int | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Plan a run of a query-list harvester (Z39.50, SRU): resume an unfinished run where its
    checkpoint stopped, or start a new one — incremental from the last finished run's start when
    the member declares an ``incremental_query`` with a ``{from}`` placeholder, else full. An
    incremental run sees no withdrawals: with ``full_every_days`` a run is full again when the
    last full one (``last_full``, a day) is that old."""
    from datetime import UTC, datetime

    cp = dict(checkpoint or {})
    if cp.get("queries") and not cp.get("complete"):
        return list(cp["queries"]), cp
    now = datetime.now(UTC)
    started = now.strftime(date_format)
    since, last_full = cp.get("harvested_until"), cp.get("last_full")
    if since and incremental_query and not full_due(last_full, full_every_days, now):
        planned, mode = [incremental_query.replace("{from}", str(since))], "incremental"
    else:
        planned, mode, last_full = list(queries), "full", now.strftime("%Y-%m-%d")
    state = {"mode": mode, "queries": planned, "query": 0, "position": first_position, "started": started,
             "harvested_until": since, "complete": False}
    if last_full:
        state["last_full"] = last_full
    if mode == "full":
        state["sweep"] = new_sweep()
    return planned, state


def full_due(last_full: str | None, every_days: int | None, now: Any) -> bool:
    """Whether a full run is due: ``every_days`` set and the last full run (a ``YYYY-MM-DD``
    day, ``None`` if unknown) at least that many days before ``now``."""
    from datetime import datetime

    if every_days is None:
        return False
    try:
        return last_full is None or (now.date() - datetime.fromisoformat(last_full).date()).days >= every_days
    except ValueError:
        return True


def sweep_of(state: dict[str, Any]) -> dict[str, Any]:
    """The :class:`Page` sweep fields for a query-list run's ``state`` (a full run is a sweep)."""
    if state.get("mode") != "full" or not state.get("sweep"):
        return {}
    return {"sweep": state["sweep"], "sweep_complete": bool(state.get("complete"))}
