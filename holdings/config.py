"""A member's ``holdings = { type = ..., ... }`` table: which connector answers for its items.

``HoldingsConfig`` is a pydantic discriminated union over ``type``; the members-file loader
validates each member's table with ``TypeAdapter(HoldingsConfig)``. A new connector kind adds one
model here and one module under :mod:`holdings.connectors`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from holdings.vocabulary import check_words

IlsName = Literal["koha", "evergreen", "folio", "alma", "sirsi", "aleph", "huiwen", "interlib", "innovative"]
StatusName = Literal["available", "on_loan", "in_transit", "on_hold_shelf", "lost", "missing", "not_for_loan",
                     "unavailable", "unknown"]

class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Per-member timeout in seconds; ``None``: the service's ``availability_timeout``.
    timeout: float | None = Field(None, gt=0, le=30)
    #: Connections this member is sent at once, however many hits of a page it holds.
    max_connections: int = Field(4, ge=1, le=32)
    #: The member's library system: its status table (``holdings/status_words/<ils>.toml``) is used.
    ils: IlsName | None = None
    #: The member's own status words, read before any table: ``{ "闭架借阅" = "not_for_loan" }``.
    status_words: dict[str, StatusName] = Field(default_factory=dict, max_length=500)

    @field_validator("status_words")
    @classmethod
    def _words(cls, value: dict[str, str]) -> dict[str, str]:
        check_words(value.items())
        return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    return value


class Z3950OpacHoldings(_Base):
    """Z39.50 OPAC record syntax (holdings with circulation data)."""

    type: Literal["z3950-opac"]
    host: str
    port: int = Field(210, ge=1, le=65535)
    database: str = "Default"
    #: ``opac`` (the OPAC record syntax) or ``xml`` (OPAC XML, with ``element_set``).
    syntax: Literal["opac", "xml"] = "opac"
    element_set: str | None = None
    #: PQF query finding one record by the member's local id.
    id_query: str = '@attr 1=12 "{id}"'
    user: str | None = None
    password: str | None = Field(None, repr=False)


class SruHoldings(_Base):
    """SRU returning records with items in them (Koha 952, Alma AVA, Sirsi 999, 852) or OPAC XML."""

    type: Literal["sru"]
    url: str
    version: Literal["1.1", "1.2", "2.0"] = "1.2"
    holdings_schema: str = "marcxml"
    #: CQL finding one record by the member's local id.
    id_query: str = 'rec.id="{id}"'
    marc_flavour: Literal["marc21", "unimarc"] = "marc21"

    _url = field_validator("url")(_http_url)


class IlsDiHoldings(_Base):
    """DLF ILS-DI ``GetAvailability`` (Koha: ``.../cgi-bin/koha/ilsdi.pl``)."""

    type: Literal["ils-di"]
    url: str
    id_type: Literal["bib", "item"] = "bib"

    _url = field_validator("url")(_http_url)


class NcipHoldings(_Base):
    """NCIP 2.0 ``LookupItem`` for each item id harvested with the member's record."""

    type: Literal["ncip"]
    url: str
    agency_id: str
    from_agency_id: str = "unicat"

    _url = field_validator("url")(_http_url)


class HarvestedHoldings(_Base):
    """No live source: show the items harvested with the record, "as of" their datestamp."""

    type: Literal["harvested"]


HoldingsConfig = Annotated[
    Z3950OpacHoldings | SruHoldings | IlsDiHoldings | NcipHoldings | HarvestedHoldings,
    Field(discriminator="type"),
]
