"""Z39.50 with the OPAC record syntax: holdings with circulation data (availableNow, due date).

YAZ renders an OPAC record as ``<opacRecord><bibliographicRecord/><holdings><holding>`` with
``callNumber``, ``localLocation`` and ``circulations/circulation`` (``availableNow``,
``availablityDate`` — spelled so in the standard —, ``itemId``, ``onHold``, ``restrictions``).
Servers that return the same document as XML (element set ``opac``) are read the same way.
Blocking YAZ calls run in the service's thread pool, one connection per look-up.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lxml import etree

from harvesters.zoom import Connection, ZoomError
from holdings.config import Z3950OpacHoldings
from holdings.connectors.base import ConnectorError, Item, LookupContext, NotLookedUp, Unreachable
from holdings.vocabulary import StatusReader, chain_for

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path)
    return (found.text or "").strip() or None if found is not None else None


def _flag(el: etree._Element, path: str) -> bool | None:
    found = el.find(path)
    if found is None:
        return None
    return (found.get("value") or found.text or "").strip() in ("1", "true", "yes")


def parse_opac(xml: bytes, reader: StatusReader | None = None) -> list[Item]:
    """Items of one OPAC record (XML as YAZ renders it); a holding without circulation is one item."""
    reader = reader or StatusReader(chain_for())
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ConnectorError(f"OPAC record is not XML: {exc}") from exc
    if etree.QName(root).localname != "opacRecord":
        raise ConnectorError(f"not an OPAC record: <{etree.QName(root).localname}>")
    items: list[Item] = []
    for holding in root.iter("holding"):
        call = _text(holding, "callNumber")
        location = _text(holding, "localLocation") or _text(holding, "shelvingLocation")
        circs = holding.findall("circulations/circulation")
        if not circs:
            items.append(Item(call, location, "unknown"))
        for circ in circs:
            due = _text(circ, "availablityDate") or _text(circ, "availabilityDate")
            restrictions = _text(circ, "restrictions")
            if _flag(circ, "availableNow"):
                status = "available"
            elif restrictions:
                said = reader.read(restrictions)  # not available now, for the reason it gives
                status = "unavailable" if said in (None, "available", "unknown") else said
            elif due:
                status = "on_loan"
            else:
                status = "unknown"
            items.append(Item(call, location, status, due, item_id=_text(circ, "itemId"), status_text=restrictions))
    return items


class Z3950OpacConnector:
    def __init__(self, config: Z3950OpacHoldings) -> None:
        self.config = config

    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]:
        loop = asyncio.get_running_loop()
        ids = list(holding.get("local_ids") or [])
        if not ids:
            raise NotLookedUp("no local record id to look up")
        async with ctx.slot():
            return await loop.run_in_executor(ctx.executor, self._lookup, ids, ctx.timeout, ctx.reader)

    def _lookup(self, local_ids: list[str], timeout: float, reader: StatusReader) -> list[Item]:
        cfg = self.config
        options = {"elementSetName": cfg.element_set} if cfg.element_set else None
        form = "opac" if cfg.syntax == "opac" else "xml"
        try:
            with Connection(cfg.host, cfg.port, database=cfg.database, syntax=cfg.syntax, timeout=timeout,
                            user=cfg.user, password=cfg.password, options=options) as conn:
                items: list[Item] = []
                for local_id in local_ids:
                    with conn.search(cfg.id_query.replace("{id}", local_id.replace('"', ""))) as rs:
                        if rs.size == 0:
                            continue
                        (rec,) = rs.fetch(0, 1, form=form)
                        if rec.error is not None:
                            raise ConnectorError(f"record {local_id}: {rec.error}")
                        items.extend(parse_opac(rec.data, reader))
                return items
        except ZoomError as exc:
            if exc.is_timeout or exc.is_connect_failure:
                raise Unreachable(str(exc)) from exc
            raise ConnectorError(str(exc)) from exc
