"""DLF ILS-DI ``GetAvailability`` (Koha's ``/cgi-bin/koha/ilsdi.pl`` and others).

One request for all of the member's record ids (``id`` is space-separated, ``id_type=bib``).
Koha answers ``dlf:collection/dlf:record/dlf:items/dlf:item/dlf:simpleavailability`` with
``availabilitystatus`` (available / not available / unknown), an ``availabilitymsg`` saying why
("Checked out", "Item lost", "Not for loan", ...) and the holding library as ``location``. No call
number or due date is given: call numbers are filled in from the harvested items by item id.
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
    harvested_call_numbers,
    normalise_status,
    transport_error,
)

DLF_NS = "http://diglib.org/ilsdi/1.1"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def parse_get_availability(body: bytes, harvested: dict[str, dict[str, Any]] | None = None) -> list[Item]:
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
        state = (avail.findtext("dlf:availabilitystatus", namespaces=ns) or "").strip().lower()
        msg = (avail.findtext("dlf:availabilitymsg", namespaces=ns) or "").strip()
        if state == "available":
            status = "available"
        elif state == "not available":
            status = normalise_status(msg)
            status = "not_for_loan" if status in ("unknown", "available") else status
        else:
            status = "unknown"
        known = (harvested or {}).get(str(item_id), {})
        location = (avail.findtext("dlf:location", namespaces=ns) or "").strip() or known.get("location")
        items.append(Item(known.get("call_number"), location, status, None, item_id=item_id))
    return items


class IlsDiConnector:
    def __init__(self, config: IlsDiHoldings) -> None:
        self.config = config

    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]:
        ids = list(holding.get("local_ids") or [])
        if not ids:
            raise ConnectorError("no local record id to look up")
        params = {"service": "GetAvailability", "id": " ".join(ids), "id_type": self.config.id_type}
        try:
            resp = await ctx.http.get(self.config.url, params=params)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if resp.status_code >= 400:
            raise ConnectorError(f"HTTP {resp.status_code}")
        return parse_get_availability(resp.content, harvested_call_numbers(holding))
