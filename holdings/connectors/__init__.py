"""Availability connectors, one module per kind; :func:`connector_for` picks one for a config.

All kinds are imported up front: a first look-up must not pay for imports inside its timeout.
"""

from __future__ import annotations

from typing import Any

from holdings.connectors.base import Connector, ConnectorError, Item, LookupContext, NotLookedUp, Unreachable
from holdings.connectors.harvested import HarvestedConnector
from holdings.connectors.ilsdi import IlsDiConnector
from holdings.connectors.ncip import NcipConnector
from holdings.connectors.sru import SruConnector
from holdings.connectors.z3950_opac import Z3950OpacConnector

#: ``holdings.type`` → connector class; a per-ILS REST connector adds one module and one entry.
CONNECTORS: dict[str, Any] = {
    "z3950-opac": Z3950OpacConnector,
    "sru": SruConnector,
    "ils-di": IlsDiConnector,
    "ncip": NcipConnector,
    "harvested": HarvestedConnector,
}


def connector_for(config: Any) -> Connector:
    """Build the connector for a validated ``HoldingsConfig``."""
    return CONNECTORS[config.type](config)  # type: ignore[no-any-return]


__all__ = ["CONNECTORS", "Connector", "ConnectorError", "Item", "LookupContext", "NotLookedUp", "Unreachable",
           "connector_for"]
