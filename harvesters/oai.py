"""OAI-PMH harvester: sickle fetches single responses, we own the resumption token.

Checkpoint (JSON) committed with every page::

    {"token": "<resumptionToken>" | None,   # where the next request of this run starts
     "from": "<from>" | None,               # lower bound this run was started with
     "high": "<datestamp>" | None,          # highest header datestamp seen so far (all runs)
     "granularity": "YYYY-MM-DD" | "YYYY-MM-DDThh:mm:ssZ",   # from Identify, asked once
     "run_started": "<responseDate>" | None, # server time of this run's first response
     "complete": bool,                      # no token left: the run finished
     "sweep": "<id>" | None,                # set while a run without ``from`` lists everything
     "deleted_record": "no" | "transient" | "persistent",   # from Identify, asked once
     "last_full": "YYYY-MM-DD" | None}      # the day the last run without ``from`` started

A run that finished is followed by an incremental run from its ``run_started`` (the server's own
clock when the run began, as RecordManager and VuFind do, so records changed *during* a harvest are
fetched again rather than missed), cut to the server's granularity. An unfinished run resumes from
its token. If the server has forgotten the token (``badResumptionToken``) the run restarts from its
own ``from``: not from ``high``, because providers list records in identifier order, not datestamp
order, so records below ``high`` may not have been seen yet. Re-fetched records are harmless (the
store upserts by ``local_id``); lost ones are not.

A run without a lower bound (the first one, or one started with no checkpoint) lists the whole
repository: its pages carry a ``sweep`` id, so that the pipeline withdraws the member's records
the run did not see. That is how withdrawals reach the catalogue from a provider whose Identify
says ``deletedRecord`` is ``no`` or ``transient`` (its incremental runs are noted as blind to them);
for such a provider ``full_every_days`` makes a run list everything again when the last full run
is that many days old.

``local_id`` rule, identical for live and deleted records (a deletion has no payload, so the MARC
001 cannot be used for it): an identifier of the form ``oai:<repository>:<local>`` gives
``<local>`` (everything after the second colon, as the OAI identifier scheme defines it); any other
identifier is used whole. Real providers do not keep 001 and OAI identifier in step (MEDVIK serves
``oai:medvik.cz:196741`` with 001 ``MED00185337``), so mixing the two would orphan deletions.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sickle import Sickle

from harvesters.base import HarvestedRecord, HarvestError, Page, Syntax, full_due, new_sweep
from harvesters.http import RetryPolicy, TransientError, read_within, with_retries
from harvesters.xmlsafe import XmlError, parse_xml, recover_xml, serialise

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
DAY = "YYYY-MM-DD"
SECONDS = "YYYY-MM-DDThh:mm:ssZ"
MARC_NAMESPACES = frozenset(
    {"http://www.loc.gov/MARC21/slim", "info:lc/xmlns/marcxchange-v1", "info:lc/xmlns/marcxchange-v2", ""}
)
#: How often one ``pages()`` call may restart after ``badResumptionToken`` before giving up.
MAX_RESTARTS = 3
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$")


def _q(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


class OaiFeed(BaseModel):
    """One member's OAI-PMH feed as configured in the members file."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    url: str
    metadata_prefix: str = "marc21"
    set: str | None = None
    #: What the payload is; defaults to marc21 for marc21/marcxml, dc for oai_dc, else unknown.
    syntax: Syntax | None = None
    from_: str | None = Field(default=None, alias="from", description="initial lower bound for the first run")
    #: Seconds one response may take in all, first byte to last (default ``UNICAT_HARVEST_TIMEOUT``).
    timeout: float | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0)
    #: Harvest in full (no ``from``) when the last full run is this many days old, so that
    #: withdrawals are seen from a provider whose deletedRecord is ``no`` or ``transient``.
    full_every_days: int | None = Field(default=None, ge=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"url must be an http(s) URL, got {value!r}")
        return value

    @field_validator("metadata_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.!~*'()-]+", value):
            raise ValueError(f"metadata_prefix is not a valid OAI metadataPrefix: {value!r}")
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        if value is not None and not _DATE_RE.match(value):
            raise ValueError(f"from must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, got {value!r}")
        return value

    @model_validator(mode="after")
    def _default_syntax(self) -> OaiFeed:
        if self.syntax is None:
            prefix = self.metadata_prefix.lower()
            self.syntax = "marc21" if prefix in {"marc21", "marcxml"} else "dc" if prefix == "oai_dc" else None
        return self


def local_id_for(identifier: str) -> str:
    """The member's record id for an OAI identifier (rule in the module docstring)."""
    parts = identifier.split(":", 2)
    if len(parts) == 3 and parts[0].lower() == "oai" and parts[2]:
        return parts[2]
    return identifier


def at_granularity(value: str, granularity: str) -> str:
    """``value`` (a date or UTC datetime) as the server's granularity accepts it."""
    if granularity == DAY:
        return value[:10]
    if len(value) == 10:
        return f"{value}T00:00:00Z"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Response:
    response_date: str | None
    error: tuple[str, str] | None
    token: str | None
    records: list[HarvestedRecord] = field(default_factory=list)


class OaiHarvester:
    """Harvest one :class:`OaiFeed`; see the module docstring for the checkpoint and the id rule."""

    def __init__(
        self,
        feed: OaiFeed,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        max_retry_after: float = 60.0,
        backoff: float = 1.0,
    ) -> None:
        self.feed = feed
        self.policy = RetryPolicy(
            retries=feed.retries if feed.retries is not None else retries,
            timeout=feed.timeout if feed.timeout is not None else timeout,
            backoff=backoff,
            max_retry_after=max_retry_after,
        )
        self.sleep = sleep
        # Streamed, so that the feed's timeout bounds a whole response (see read_within).
        self._sickle = Sickle(feed.url, max_retries=0, timeout=self.policy.timeout, stream=True)
        self._notes: list[str] = []

    # ------------------------------------------------------------------ the run
    def pages(self, checkpoint: dict[str, Any] | None) -> Iterator[Page]:
        cp = dict(checkpoint or {})
        granularity: str | None = cp.get("granularity")
        deleted_record: str | None = cp.get("deleted_record")  # None: a checkpoint older than the field
        if not granularity:
            granularity, deleted_record = self._identify()
        high: str | None = cp.get("high")
        token: str | None = None
        run_started: str | None = None
        if cp.get("token") and not cp.get("complete", True):
            token, start, run_started = cp["token"], cp.get("from"), cp.get("run_started")
        elif cp.get("complete"):
            start = cp.get("run_started") or high or cp.get("from")
        elif cp:
            start = cp.get("from")
        else:
            start = self.feed.from_
        start = at_granularity(start, granularity) if start else None
        last_full: str | None = cp.get("last_full")
        if start is not None and not token and self._full_due(last_full, deleted_record):
            self._notes.append(f"{self.feed.url}: full harvest (the last one was {last_full or 'never'})")
            start = None
        # A run without a lower bound lists everything: a full pass, whose unseen records are
        # withdrawals (the only way to see them when the provider keeps no deletions).
        sweep = (cp.get("sweep") if token else None) or (new_sweep() if start is None else None)
        if start is None and not token:
            last_full = datetime.now(UTC).strftime("%Y-%m-%d")
        if start is not None and deleted_record in ("no", "transient"):
            self._notes.append(
                f"{self.feed.url}: Identify says deletedRecord={deleted_record}; an incremental harvest "
                "does not see withdrawn records, a full harvest (unicat harvest --full) does"
            )
        restarts = 0

        def state(complete: bool) -> dict[str, Any]:
            return {
                "token": token,
                "from": start,
                "high": high,
                "granularity": granularity,
                "run_started": run_started,
                "complete": complete,
                "sweep": sweep,
                "deleted_record": deleted_record,
                "last_full": last_full,
            }

        def page(records: list[HarvestedRecord], complete: bool) -> Page:
            notes = self._take_notes()
            return Page(records, state(complete), notes, sweep=sweep, sweep_complete=bool(sweep) and complete)

        while True:
            response = self._list_records(token, start)
            if response.error is not None:
                code, message = response.error
                if code == "noRecordsMatch":
                    token, run_started = None, run_started or response.response_date
                    yield page([], True)
                    return
                if code == "badResumptionToken" and token is not None and restarts < MAX_RESTARTS:
                    restarts += 1
                    self._notes.append(f"{self.feed.url}: badResumptionToken ({message}); restarting from {start}")
                    token = None
                    continue
                raise HarvestError(f"{self.feed.url} answered OAI error {code}: {message}")
            run_started = run_started or response.response_date
            stamps = [r.datestamp for r in response.records if r.datestamp]
            if stamps:
                high = max([*stamps, *([high] if high else [])])
            token = response.token
            yield page(response.records, token is None)
            if token is None:
                return

    def _full_due(self, last_full: str | None, deleted_record: str | None) -> bool:
        """Whether this run should list everything although it could be incremental."""
        if deleted_record == "persistent":
            return False
        return full_due(last_full, self.feed.full_every_days, datetime.now(UTC))

    def _take_notes(self) -> list[str]:
        notes, self._notes = self._notes, []
        return notes

    # ------------------------------------------------------------------ requests
    def _fetch(self, params: dict[str, str]) -> tuple[bytes, etree._Element, bool]:
        """One OAI response (retried): its bytes, its tree and whether it was well-formed."""

        def attempt() -> tuple[bytes, etree._Element, bool]:
            data = read_within(self._sickle.harvest(**params).http_response, self.policy.timeout)
            try:
                root, clean = parse_xml(data), True
            except XmlError:
                recovered, clean = recover_xml(data), False
                if recovered is None or recovered.tag != _q("OAI-PMH"):
                    snippet = data[:80].decode("utf-8", "replace").replace("\n", " ")
                    raise TransientError(f"returned non-XML ({snippet!r})") from None
                root = recovered
            if root.tag != _q("OAI-PMH"):
                raise TransientError(f"returned non-XML for OAI-PMH (root element {root.tag})")
            return data, root, clean

        return with_retries(self.feed.url, attempt, self.policy, sleep=self.sleep, notes=self._notes)

    def _identify(self) -> tuple[str, str]:
        """The server's datestamp granularity and how it keeps deletions (``deletedRecord``)."""
        _data, root, _clean = self._fetch({"verb": "Identify"})
        value = (root.findtext(f"{_q('Identify')}/{_q('granularity')}") or "").strip()
        deleted = (root.findtext(f"{_q('Identify')}/{_q('deletedRecord')}") or "").strip()
        if deleted not in {"no", "transient", "persistent"}:
            self._notes.append(f"{self.feed.url}: Identify gave no deletedRecord; taking it as 'no'")
            deleted = "no"
        if value in {DAY, SECONDS}:
            return value, deleted
        self._notes.append(f"{self.feed.url}: Identify gave no usable granularity; using {DAY}")
        return DAY, deleted

    def _list_records(self, token: str | None, start: str | None) -> _Response:
        params = {"verb": "ListRecords"}
        if token:
            params["resumptionToken"] = token
        else:
            params["metadataPrefix"] = self.feed.metadata_prefix
            if self.feed.set:
                params["set"] = self.feed.set
            if start:
                params["from"] = start
        data, root, clean = self._fetch(params)
        error = root.find(_q("error"))
        response = _Response(
            response_date=(root.findtext(_q("responseDate")) or "").strip() or None,
            error=(error.get("code", "unknown"), (error.text or "").strip()) if error is not None else None,
            token=None,
        )
        listing = root.find(_q("ListRecords"))
        if error is not None or listing is None:
            if error is None:
                response.error = ("badResponse", "no ListRecords element")
            return response
        token_el = listing.find(_q("resumptionToken"))
        response.token = (token_el.text or "").strip() or None if token_el is not None else None
        if clean:
            response.records = [self._record(el) for el in listing.findall(_q("record"))]
        else:
            response.records = self._salvage(data, listing)
            self._notes.append(f"{self.feed.url}: response not well-formed; records recovered one by one")
        return response

    # ------------------------------------------------------------------ records
    def _record(self, element: etree._Element) -> HarvestedRecord:
        syntax = self.feed.syntax
        header = element.find(_q("header"))
        identifier = _first_text(header, "identifier") if header is not None else None
        if header is None or not identifier:
            raw = serialise(element)
            return HarvestedRecord(_hash_id(raw), raw, syntax=syntax, error="OAI record without header identifier")
        local_id, datestamp = local_id_for(identifier), _first_text(header, "datestamp")
        if header.get("status") == "deleted":
            return HarvestedRecord(local_id, b"", syntax=syntax, datestamp=datestamp, deleted=True)
        metadata = element.find(_q("metadata"))
        payload = next((c for c in metadata if isinstance(c.tag, str)), None) if metadata is not None else None
        if payload is None:
            return HarvestedRecord(local_id, b"", syntax=syntax, datestamp=datestamp, error="record has no metadata")
        raw = serialise(payload)
        return HarvestedRecord(local_id, raw, syntax=syntax, datestamp=datestamp, error=self._payload_problem(payload))

    def _payload_problem(self, payload: etree._Element) -> str | None:
        if self.feed.syntax not in {"marc21", "unimarc"}:
            return None
        name = etree.QName(payload)
        foreign = (name.namespace or "") not in MARC_NAMESPACES
        if name.localname != "record" or (foreign and self.feed.syntax == "marc21"):
            return f"metadata is not a MARCXML record but {payload.tag}"
        return None

    def _salvage(self, data: bytes, listing: etree._Element) -> list[HarvestedRecord]:
        """Rebuild a broken page record by record, so one bad record is one reject, not a lost page.

        Each OAI header starts a record; its ``<header>`` and ``<metadata>`` blocks are cut from the
        bytes and parsed strictly inside a wrapper that re-declares the page's namespaces.
        """
        nsmap = dict(listing.nsmap)
        encoding = listing.getroottree().docinfo.encoding or "UTF-8"
        starts = [m.start() for m in _HEADER_START.finditer(data)]
        records = []
        for index, begin in enumerate(starts):
            chunk = data[begin : starts[index + 1] if index + 1 < len(starts) else len(data)]
            header = _HEADER_BLOCK.search(chunk)
            if header is None:
                continue
            prefix = header.group(1).decode("ascii")
            metadata = _METADATA_BLOCK.search(chunk, header.end())
            body = header.group(0) + (metadata.group(0) if metadata else b"")
            try:
                records.append(self._record(_wrapped(body, prefix, nsmap, encoding)))
            except XmlError as exc:
                try:
                    partial = self._record(_wrapped(header.group(0), prefix, nsmap, encoding))
                except XmlError:
                    partial = HarvestedRecord(_hash_id(chunk), b"", error="unreadable OAI header")
                line = data.count(b"\n", 0, begin) + 1
                reason = f"malformed record (its header is on line {line} of the response): {exc}"
                records.append(
                    HarvestedRecord(
                        partial.local_id, body, syntax=self.feed.syntax, datestamp=partial.datestamp, error=reason
                    )
                )
        return records


_NAME = rb"(?:[A-Za-z_][\w.-]*:)?"
_HEADER_START = re.compile(rb"<" + _NAME + rb"header[\s>]")
_HEADER_BLOCK = re.compile(rb"<(" + _NAME + rb")header[\s>][\s\S]*?</\1header\s*>")
_METADATA_BLOCK = re.compile(rb"<(" + _NAME + rb")metadata[\s>][\s\S]*?</\1metadata\s*>")


def _wrapped(body: bytes, prefix: str, nsmap: dict[str | None, str], encoding: str) -> etree._Element:
    declarations = {f"xmlns:{p}" if p else "xmlns": uri for p, uri in nsmap.items()}
    if not prefix:
        declarations["xmlns"] = OAI_NS
    attributes = " ".join(f'{name}="{uri}"' for name, uri in declarations.items())
    head = f'<?xml version="1.0" encoding="{encoding}"?><{prefix}record {attributes}>'.encode("ascii")
    return parse_xml(head + body + f"</{prefix}record>".encode("ascii"))


def _first_text(header: etree._Element, name: str) -> str | None:
    """The first ``name`` child holding plain text (elements with markup inside are skipped)."""
    for element in header.findall(_q(name)):
        text = (element.text or "").strip() if len(element) == 0 else ""
        if text:
            return text
    return None


def _hash_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]
