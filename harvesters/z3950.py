"""Harvesting a Z39.50 member: a configured list of queries, each result set presented in batches.

Z39.50 has no "list everything" verb, so a full harvest runs the feed's ``queries`` (date ranges,
classification ranges, or the server's all-records query) one after another; an incremental
harvest runs ``incremental_query`` with ``{from}`` set to the date the last complete harvest
started. The checkpoint names the query and the next position, so a killed harvest resumes there.

Records are converted to UTF-8 by YAZ (``raw; charset=marc8,utf8`` — YAZ leaves records whose
leader/09 is already 'a' alone) and leader/09 is set to 'a'.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harvesters.base import HarvestedRecord, HarvestError, Page, plan_query_run, sweep_of
from harvesters.sru import NotMarc, marcxml_record
from harvesters.zoom import Connection, ZoomError, ZoomRecord

#: Zebra's (and Index Data servers') all-records query; other servers need explicit queries.
ALL_RECORDS_PQF = '@attr 1=_ALLRECORDS @attr 2=103 ""'

#: What each configured syntax is called in ZOOM and which syntax names a server may answer with.
_SYNTAX: dict[str, tuple[str, set[str]]] = {
    "usmarc": ("usmarc", {"usmarc", "marc21"}),
    "marc21": ("usmarc", {"usmarc", "marc21"}),
    "unimarc": ("unimarc", {"unimarc"}),
    "xml": ("xml", {"xml", "text-xml", "application-xml"}),
}


def iso2709_control_number(raw: bytes) -> str | None:
    """Return 001 of an ISO 2709 record (stripped), ``None`` if absent; :class:`NotMarc` if malformed.

    A cheap structural check, so a record in an unexpected syntax becomes a per-record error here
    rather than a crash in the crosswalk.
    """
    if len(raw) < 25 or not raw[:5].isdigit() or not raw[12:17].isdigit():
        raise NotMarc("not an ISO 2709 record (bad leader)")
    base = int(raw[12:17])
    if base <= 24 or base > len(raw) or raw[base - 1] != 0x1E:
        raise NotMarc("not an ISO 2709 record (bad base address)")
    directory = raw[24 : base - 1]
    if len(directory) % 12 or not directory.isdigit():
        raise NotMarc("not an ISO 2709 record (bad directory)")
    for i in range(0, len(directory), 12):
        entry = directory[i : i + 12]
        if entry[:3] == b"001":
            length, start = int(entry[3:7]), int(entry[7:12])
            value = raw[base + start : base + start + length].rstrip(b"\x1e")
            return value.decode("utf-8", "replace").strip() or None
    return None


def mark_utf8(raw: bytes) -> bytes:
    """Set leader/09 to 'a' (MARC 21: UCS/Unicode) on a record already converted to UTF-8."""
    return raw if raw[9:10] == b"a" else raw[:9] + b"a" + raw[10:]


class Z3950Feed(BaseModel):
    """A member's ``z3950 = { ... }`` table."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = Field(210, ge=1, le=65535)
    database: str = "Default"
    syntax: Literal["usmarc", "marc21", "unimarc", "xml"] = "usmarc"
    #: MARC flavour of ``xml`` records (MARCXML carrying UNIMARC says ``unimarc``).
    marc_flavour: Literal["marc21", "unimarc"] | None = None
    #: Element set name; for ``xml`` the server's MARCXML element set (Zebra: ``marcxml``).
    element_set: str | None = None
    queries: list[str] = Field(default_factory=lambda: [ALL_RECORDS_PQF], min_length=1)
    query_type: Literal["pqf", "cql"] = "pqf"
    batch: int = Field(100, ge=1, le=1000)
    #: Character-set negotiation (Z39.50 option ``charset``), e.g. ``"UTF-8"``.
    charset: str | None = None
    #: Encoding of ISO 2709 records that do not say UTF-8 (leader/09 != 'a'); ``None``: no conversion.
    record_charset: str | None = "marc8"
    #: Query for records changed since ``{from}`` (formatted with ``date_format``).
    incremental_query: str | None = None
    #: With an ``incremental_query``: run the full ``queries`` again when the last full run is
    #: this many days old (incremental runs cannot see withdrawn records; full runs withdraw them).
    full_every_days: int | None = Field(default=None, ge=1)
    date_format: str = "%Y%m%d"
    user: str | None = None
    password: str | None = Field(None, repr=False)

    @field_validator("incremental_query")
    @classmethod
    def _has_from(cls, value: str | None) -> str | None:
        if value is not None and "{from}" not in value:
            raise ValueError("incremental_query must contain a {from} placeholder")
        return value

    @property
    def flavour(self) -> Literal["marc21", "unimarc"]:
        if self.marc_flavour:
            return self.marc_flavour
        return "unimarc" if self.syntax == "unimarc" else "marc21"


class Z3950Harvester:
    """Yields pages of records from one Z39.50 target. Not thread-safe: consume in one thread."""

    def __init__(self, config: Z3950Feed, *, timeout: float = 30.0) -> None:
        self.config = config
        self.timeout = timeout

    # -- planning ---------------------------------------------------------------------------
    def _plan(self, checkpoint: dict[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
        """Return the queries of this run and its starting state (a resumed or a fresh run)."""
        cfg = self.config
        return plan_query_run(
            checkpoint, list(cfg.queries), cfg.incremental_query, cfg.date_format, 0, cfg.full_every_days
        )

    # -- harvesting -------------------------------------------------------------------------
    def pages(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        cfg = self.config
        queries, state = self._plan(checkpoint)
        zsyntax, _ = _SYNTAX[cfg.syntax]
        element_set = cfg.element_set or ("marcxml" if cfg.syntax == "xml" else None)
        options = {"elementSetName": element_set} if element_set else None
        try:
            conn = Connection(cfg.host, cfg.port, database=cfg.database, syntax=zsyntax, timeout=self.timeout,
                              charset=cfg.charset, user=cfg.user, password=cfg.password, options=options)
        except ZoomError as exc:
            raise HarvestError(f"z3950 {cfg.host}:{cfg.port}/{cfg.database}: {exc}") from exc
        with conn:
            yield from self._run(conn, queries, state)

    def _run(self, conn: Connection, queries: list[str], state: dict[str, Any]) -> Iterator[Page]:
        cfg = self.config
        form = self._form()
        while state["query"] < len(queries):
            qi, query = state["query"], queries[state["query"]]
            try:
                rs = conn.search(query, cfg.query_type)
            except ZoomError as exc:
                raise HarvestError(f"z3950 {conn.target}: query {query!r}: {exc}") from exc
            with rs:
                total, pos = rs.size, int(state["position"])
                notes = [f"query {qi + 1}/{len(queries)} {query!r}: {total} hits"] if pos == 0 else []
                if pos >= total:  # no hits, or resumed just after this query's last page
                    state = self._advance(state, len(queries))
                    yield Page([], checkpoint=dict(state), notes=notes, **sweep_of(state))
                    continue
                while pos < total:
                    try:
                        batch = rs.fetch(pos, cfg.batch, form=form)
                    except ZoomError as exc:
                        raise HarvestError(f"z3950 {conn.target}: present {pos + 1}+{cfg.batch}: {exc}") from exc
                    if not batch:
                        raise HarvestError(f"z3950 {conn.target}: present {pos + 1} returned nothing")
                    pos += len(batch)
                    state = {**state, "position": pos}
                    if pos >= total:
                        state = self._advance(state, len(queries))
                    yield Page([self._record(r, qi) for r in batch], checkpoint=dict(state), notes=notes,
                               **sweep_of(state))
                    notes = []

    @staticmethod
    def _advance(state: dict[str, Any], nqueries: int) -> dict[str, Any]:
        """Move to the next query; after the last one the run is complete."""
        nxt = {**state, "query": state["query"] + 1, "position": 0}
        if nxt["query"] >= nqueries:
            nxt.update(complete=True, harvested_until=state["started"], query=nqueries)
        return nxt

    def _form(self) -> str:
        cfg = self.config
        if cfg.syntax == "xml":
            return "xml"
        if cfg.record_charset and cfg.flavour == "marc21":
            return f"raw; charset={cfg.record_charset},utf8"
        return "raw"

    def _record(self, rec: ZoomRecord, query_index: int) -> HarvestedRecord:
        cfg = self.config
        fallback_id = f"q{query_index}-pos{rec.position + 1}"
        if rec.error is not None:
            return HarvestedRecord(local_id=fallback_id, raw=b"", error=f"surrogate diagnostic: {rec.error}")
        _, accepted = _SYNTAX[cfg.syntax]
        got = rec.syntax.lower()
        if got and got not in accepted:
            return HarvestedRecord(local_id=fallback_id, raw=rec.data,
                                   error=f"unexpected record syntax {rec.syntax!r} (asked for {cfg.syntax})")
        try:
            if cfg.syntax == "xml":
                raw, local_id = marcxml_record(rec.data)
                encoding: Literal["xml", "iso2709"] = "xml"
            else:
                raw = mark_utf8(rec.data) if cfg.flavour == "marc21" and cfg.record_charset else rec.data
                local_id, encoding = iso2709_control_number(raw), "iso2709"
        except NotMarc as exc:
            return HarvestedRecord(local_id=fallback_id, raw=rec.data, error=f"{exc} (syntax {rec.syntax})")
        if not local_id:
            return HarvestedRecord(local_id=fallback_id, raw=raw, encoding=encoding, syntax=cfg.flavour,
                                   error="record has no control number (001)")
        return HarvestedRecord(local_id=local_id, raw=raw, encoding=encoding, syntax=cfg.flavour)
