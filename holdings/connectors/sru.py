"""SRU with holdings in the record: one searchRetrieve per local id, items read from the record.

MARCXML records carry items the way their ILS publishes them — Koha 952, Alma AVA, SirsiDynix
999, 852 — and :mod:`mappings.holdings` already knows all of them; an ``opacRecord`` (YAZ's OPAC
XML, e.g. ``holdings_schema = "opacxml"``) is read like the Z39.50 OPAC syntax.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pymarc
from lxml import etree

from harvesters.sru import SruError, search_retrieve_async
from holdings.config import SruHoldings
from holdings.connectors.base import ConnectorError, Item, LookupContext, NotLookedUp, transport_error
from holdings.connectors.harvested import items_from_holdings
from holdings.connectors.z3950_opac import parse_opac
from holdings.vocabulary import StatusReader
from mappings.holdings import marc21_holdings, unimarc_holdings


def items_from_record(element: etree._Element, flavour: str = "marc21",
                      reader: StatusReader | None = None) -> list[Item]:
    if etree.QName(element).localname == "opacRecord":
        return parse_opac(etree.tostring(element), reader)
    try:
        (record,) = pymarc.parse_xml_to_array(io.BytesIO(etree.tostring(element)))
    except Exception as exc:  # pymarc raises assorted errors on foreign XML
        raise ConnectorError(f"record is neither MARCXML nor OPAC XML: {exc}") from exc
    holdings = unimarc_holdings(record) if flavour == "unimarc" else marc21_holdings(record)
    return items_from_holdings((h.__dict__ for h in holdings), reader)


class SruConnector:
    def __init__(self, config: SruHoldings) -> None:
        self.config = config

    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]:
        ids = list(holding.get("local_ids") or [])
        if not ids:
            raise NotLookedUp("no local record id to look up")
        results = await asyncio.gather(*(self._one(ctx, i) for i in ids))
        return [item for items in results for item in items]

    async def _one(self, ctx: LookupContext, local_id: str) -> list[Item]:
        cfg = self.config
        query = cfg.id_query.replace("{id}", local_id.replace('"', ""))
        try:
            async with ctx.slot():
                resp = await search_retrieve_async(ctx.http, cfg.url, query, version=cfg.version, maximum=1,
                                                   schema=cfg.holdings_schema)
        except SruError as exc:
            cause = exc.__cause__
            raise (transport_error(cause) if cause is not None else ConnectorError(str(exc))) from exc
        if not resp.records:
            return []
        rec = resp.records[0]
        if rec.diagnostic is not None or rec.data is None:
            raise ConnectorError(f"record {local_id}: {rec.diagnostic or 'no record data'}")
        return items_from_record(rec.data, cfg.marc_flavour, ctx.reader)
