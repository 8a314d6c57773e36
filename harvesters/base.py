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
) -> tuple[list[str], dict[str, Any]]:
    """Plan a run of a query-list harvester (Z39.50, SRU): resume an unfinished run where its
    checkpoint stopped, or start a new one — incremental from the last finished run's start when
    the member declares an ``incremental_query`` with a ``{from}`` placeholder, else full."""
    from datetime import UTC, datetime

    cp = dict(checkpoint or {})
    if cp.get("queries") and not cp.get("complete"):
        return list(cp["queries"]), cp
    started = datetime.now(UTC).strftime(date_format)
    since = cp.get("harvested_until")
    if since and incremental_query:
        planned, mode = [incremental_query.replace("{from}", str(since))], "incremental"
    else:
        planned, mode = list(queries), "full"
    state = {"mode": mode, "queries": planned, "query": 0, "position": first_position, "started": started,
             "harvested_until": since, "complete": False}
    return planned, state
