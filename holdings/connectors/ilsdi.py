"""DLF ILS-DI ``GetAvailability`` (Koha's ``/cgi-bin/koha/ilsdi.pl`` and others).

One request for all of the member's record ids (``id`` is space-separated, ``id_type=bib``).
Koha answers ``dlf:collection/dlf:record/dlf:items/dlf:item/dlf:simpleavailability`` with
``availabilitystatus`` (available / not available / unknown — translated by Koha's ``__()`` on a
localised install), an ``availabilitymsg`` saying why (only "Not for loan", "Checked out", "Item
lost", "Item withdrawn", "Item damaged"; Koha never says "In transit" or "Waiting" here), the
holding library as ``location`` and, since Koha 20.11, ``itemcallnumber``. No due date is given;
a call number missing from the answer is filled in from the harvested items by item id.
"""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree

from holdings.config import IlsDiHoldings
from holdings.connectors.base import (
    ConnectorError,
    Item,
    LookupContext,
    NotLookedUp,
    harvested_call_numbers,
    transport_error,
)
from holdings.vocabulary import StatusReader, chain_for

DLF_NS = "http://diglib.org/ilsdi/1.1"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _status(reader: StatusReader, state: str, msg: str) -> str:
    """``availabilitystatus`` decides available or not; the message says which kind of not."""
    said = reader.status(state)
    if said == "available" or not msg:
        return said
    why = reader.read(msg)
    if why is None or why == "available":  # a reason nobody knows: still "not available"
        return "unavailable" if said == "unavailable" else said
    return why


def parse_get_availability(body: bytes, harvested: dict[str, dict[str, Any]] | None = None,
                           reader: StatusReader | None = None) -> list[Item]:
    reader = reader or StatusReader(chain_for(protocol="ils-di"))
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ConnectorError(f"GetAvailability answer is not XML: {exc}") from exc
    if etree.QName(root).localname != "collection":
        code = root.findtext(".//code") or etree.QName(root).localname
        raise ConnectorError(f"ILS-DI error: {code}")
    ns = {"dlf": DLF_NS}
    items: list[Item] = []
    for item in root.iterfind(".//dlf:item", ns):
        avail = item.find("dlf:simpleavailability", ns)
        if avail is None:
            continue
        item_id = avail.findtext("dlf:identifier", namespaces=ns) or item.get("id")
        state = (avail.findtext("dlf:availabilitystatus", namespaces=ns) or "").strip()
        msg = (avail.findtext("dlf:availabilitymsg", namespaces=ns) or "").strip()
        known = (harvested or {}).get(str(item_id), {})
        location = (avail.findtext("dlf:location", namespaces=ns) or "").strip() or known.get("location")
        call = (avail.findtext("dlf:itemcallnumber", namespaces=ns) or "").strip() or known.get("call_number")
        items.append(Item(call, location, _status(reader, state, msg), None, item_id=item_id,
                          status_text=msg or state or None))
    return items


class IlsDiConnector:
    def __init__(self, config: IlsDiHoldings) -> None:
        self.config = config

    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]:
        ids = list(holding.get("local_ids") or [])
        if not ids:
            raise NotLookedUp("no local record id to look up")
        params = {"service": "GetAvailability", "id": " ".join(ids), "id_type": self.config.id_type}
        try:
            async with ctx.slot():
                resp = await ctx.http.get(self.config.url, params=params)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if resp.status_code >= 400:
            raise ConnectorError(f"HTTP {resp.status_code}")
        return parse_get_availability(resp.content, harvested_call_numbers(holding), ctx.reader)
