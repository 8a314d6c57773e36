"""NCIP 2.0 ``LookupItem``: one request per item id harvested with the member's record.

NCIP looks items up, not titles, so this needs item ids (barcodes) in the harvested holdings.
Answers: ``CirculationStatus`` (NCIP's scheme: "Available On Shelf", "On Loan", "In Transit
Between Library Locations", "Available For Pickup", "Lost", "Missing", ...), ``DateDue`` — at the
top of ``LookupItemResponse`` or inside ``ItemOptionalFields`` (XC NCIP toolkit responders put it
there; VuFind's XCNCIP2 driver reads both) —, ``ItemDescription/CallNumber`` and
``Location/LocationName``; a ``Problem`` for an unknown item.
"""

from __future__ import annotations

import asyncio
from typing import Any
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from holdings.config import NcipHoldings
from holdings.connectors.base import (
    ConnectorError,
    Item,
    LookupContext,
    NotLookedUp,
    harvested_call_numbers,
    transport_error,
)
from holdings.vocabulary import StatusReader, chain_for

NCIP_NS = "http://www.niso.org/2008/ncip"
_NS = {"n": NCIP_NS}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def lookup_item_request(item_id: str, agency_id: str, from_agency_id: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<NCIPMessage xmlns="{NCIP_NS}" version="http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd">
  <LookupItem>
    <InitiationHeader>
      <FromAgencyId><AgencyId>{escape(from_agency_id)}</AgencyId></FromAgencyId>
      <ToAgencyId><AgencyId>{escape(agency_id)}</AgencyId></ToAgencyId>
    </InitiationHeader>
    <ItemId><AgencyId>{escape(agency_id)}</AgencyId><ItemIdentifierValue>{escape(item_id)}</ItemIdentifierValue></ItemId>
    <ItemElementType>Bibliographic Description</ItemElementType>
    <ItemElementType>Circulation Status</ItemElementType>
    <ItemElementType>Item Description</ItemElementType>
    <ItemElementType>Location</ItemElementType>
  </LookupItem>
</NCIPMessage>
""".encode()


def parse_lookup_item(body: bytes, item_id: str, known: dict[str, Any] | None = None,
                      reader: StatusReader | None = None) -> Item:
    reader = reader or StatusReader(chain_for(protocol="ncip"))
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ConnectorError(f"LookupItem answer is not XML: {exc}") from exc
    resp = root.find("n:LookupItemResponse", _NS)
    if resp is None:
        raise ConnectorError(f"not an NCIP LookupItemResponse: <{etree.QName(root).localname}>")
    known = known or {}
    problem = resp.find("n:Problem", _NS)
    if problem is not None:
        kind = problem.findtext("n:ProblemType", namespaces=_NS) or "Problem"
        if "unknown item" in kind.lower():  # the item is gone from the ILS
            return Item(known.get("call_number"), known.get("location"), "missing", item_id=item_id, requestable=False)
        raise ConnectorError(f"NCIP problem: {kind}: {problem.findtext('n:ProblemDetail', namespaces=_NS) or ''}")
    fields = resp.find("n:ItemOptionalFields", _NS)
    status_text = fields.findtext("n:CirculationStatus", namespaces=_NS) if fields is not None else None
    status = reader.status(status_text)
    call = fields.findtext("n:ItemDescription/n:CallNumber", namespaces=_NS) if fields is not None else None
    location = None
    if fields is not None:
        names = fields.findall(".//n:Location/n:LocationName/n:LocationNameInstance/n:LocationNameValue", _NS)
        location = " / ".join((n.text or "").strip() for n in names if (n.text or "").strip()) or None
    due = resp.findtext("n:DateDue", namespaces=_NS) or (
        fields.findtext("n:DateDue", namespaces=_NS) if fields is not None else None)
    return Item((call or "").strip() or known.get("call_number"), location or known.get("location"), status,
                due.strip() if due and due.strip() else None, item_id=item_id,
                status_text=(status_text or "").strip() or None)


class NcipConnector:
    def __init__(self, config: NcipHoldings) -> None:
        self.config = config

    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]:
        known = harvested_call_numbers(holding)
        if not known:
            raise NotLookedUp("no item ids harvested for this record: NCIP LookupItem needs them")
        return list(await asyncio.gather(*(self._one(ctx, item_id, h) for item_id, h in known.items())))

    async def _one(self, ctx: LookupContext, item_id: str, known: dict[str, Any]) -> Item:
        cfg = self.config
        body = lookup_item_request(item_id, cfg.agency_id, cfg.from_agency_id)
        try:
            async with ctx.slot():
                resp = await ctx.http.post(cfg.url, content=body, headers={"Content-Type": "application/xml"})
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if resp.status_code >= 400:
            raise ConnectorError(f"HTTP {resp.status_code}")
        return parse_lookup_item(resp.content, item_id, known, ctx.reader)
