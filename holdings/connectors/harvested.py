"""The fallback connector: the items harvested with the member's record, "as of" its datestamp.

Real item data is often only in the bibliographic record (SirsiDynix 999 with a current location
such as CHECKEDOUT or LOST, Koha 952, Alma AVA, CNMARC 905/995); the crosswalk turns it into
holdings (:mod:`mappings.holdings`) which this connector shows, statuses normalised, without
asking the member anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from holdings.config import HarvestedHoldings
from holdings.connectors.base import Item, LookupContext
from holdings.vocabulary import StatusReader, chain_for

#: A grouped holding of many copies is shown as at most this many item rows.
MAX_ROWS_PER_HOLDING = 50


def items_from_holdings(holdings: Iterable[dict[str, Any]], reader: StatusReader | None = None) -> list[Item]:
    """Items from crosswalked holdings (``mappings.document.Holding`` as dicts).

    The status is the holding's own status word, else its shelving location when that names a
    state (Sirsi ``STACKS`` → available, ``LOST`` → lost); otherwise ``unknown``.
    """
    reader = reader or StatusReader(chain_for())
    out: list[Item] = []
    for h in holdings:
        word = h.get("status") or h.get("collection")
        # a shelving location that names no state (ALDERMAN, MAIN) is not an unknown status word
        status = reader.status(word) if h.get("status") else reader.chain.classify(word) or "unknown"
        location = " / ".join(v for v in (h.get("location"), h.get("collection")) if v) or None
        count = max(1, min(int(h.get("items") or 1), MAX_ROWS_PER_HOLDING))
        for _ in range(count):
            out.append(Item(h.get("call_number"), location, status, None, item_id=h.get("item_id"),
                            status_text=h.get("status") or None))
    return out


class HarvestedConnector:
    def __init__(self, config: HarvestedHoldings | None = None) -> None:
        self.config = config

    async def items(self, holding: dict[str, Any], ctx: LookupContext) -> list[Item]:
        return items_from_holdings(holding.get("harvested_items") or [], ctx.reader)
