"""Export formats for union records: one module per format, one registry for routers.

``export(records, fmt, base_url=..., sources=...)`` returns the bytes of a file holding every
record; :data:`FORMATS` tells routers the media type and file extension. MARC formats can also
carry each member's source record as received (``sources``: union id → stored records).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portals.export import bibtex, csljson, marc, ris
from portals.records import StoredSource


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    extension: str
    write: Callable[..., bytes]
    #: Whether the format can carry member source records (MARC only).
    sources: bool = False


FORMATS: dict[str, Format] = {
    "marcxml": Format("marcxml", "application/marcxml+xml", "xml", marc.write_marcxml, sources=True),
    "marc": Format("marc", "application/marc", "mrc", marc.write_iso2709, sources=True),
    "ris": Format("ris", "application/x-research-info-systems; charset=utf-8", "ris", ris.write),
    "bibtex": Format("bibtex", "application/x-bibtex; charset=utf-8", "bib", bibtex.write),
    "csl-json": Format("csl-json", "application/vnd.citationstyles.csl+json", "json", csljson.write),
}


class ExportError(ValueError):
    """An export that cannot be made as asked (unknown format, sources in a format without them)."""


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ExportError(f"unknown export format {name!r}; one of: {', '.join(FORMATS)}") from None


def export(
    records: list[dict[str, Any]],
    fmt: str,
    *,
    base_url: str = "",
    sources: dict[str, list[StoredSource]] | None = None,
) -> bytes:
    spec = get_format(fmt)
    if sources is not None and not spec.sources:
        raise ExportError(f"member source records can only be exported as marcxml or marc, not {fmt}")
    if spec.sources:
        return spec.write(records, sources=sources or {})
    return spec.write(records, base_url=base_url)
