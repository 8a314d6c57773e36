"""Availability connectors, one module per kind; :func:`connector_for` picks one for a config."""

from __future__ import annotations

from typing import Any

from holdings.connectors.base import Connector, ConnectorError, Item, LookupContext, Unreachable


def connector_for(config: Any) -> Connector:
    """Build the connector for a validated ``HoldingsConfig`` (imports only the kind in use)."""
    kind = config.type
    if kind == "z3950-opac":
        from holdings.connectors.z3950_opac import Z3950OpacConnector

        return Z3950OpacConnector(config)
    if kind == "sru":
        from holdings.connectors.sru import SruConnector

        return SruConnector(config)
    if kind == "ils-di":
        from holdings.connectors.ilsdi import IlsDiConnector

        return IlsDiConnector(config)
    if kind == "ncip":
        from holdings.connectors.ncip import NcipConnector

        return NcipConnector(config)
    from holdings.connectors.harvested import HarvestedConnector

    return HarvestedConnector(config)


__all__ = ["Connector", "ConnectorError", "Item", "LookupContext", "Unreachable", "connector_for"]
