"""CSL-JSON export: the input format of CSL processors (citeproc-js, citeproc-py, Zotero, Pandoc)."""

from __future__ import annotations

from typing import Any

import orjson

from portals.bib import citable
from portals.names import Name


def _name(name: Name) -> dict[str, str]:
    if name.literal:
        return {"literal": name.literal}
    out = {"family": name.family or ""}
    if name.given:
        out["given"] = name.given
    return out


def item(record: dict[str, Any], base_url: str = "") -> dict[str, Any]:
    view = citable(record, base_url)
    data: dict[str, Any] = {"id": view.id, "type": view.types()[0], "title": view.full_title}
    if view.names:
        data["author"] = [_name(n) for n in view.names]
    if view.year:
        data["issued"] = {"date-parts": [[view.year]]}
    optional = {
        "publisher": view.publisher,
        "publisher-place": view.place,
        "edition": view.edition,
        "ISBN": " ".join(view.isbns) or None,
        "ISSN": " ".join(view.issns) or None,
        "collection-title": view.series[0] if view.series else None,
        "language": view.language,
        "keyword": ", ".join(view.subjects) or None,
        "URL": view.url,
    }
    data.update({k: v for k, v in optional.items() if v})
    return data


def items(records: list[dict[str, Any]], base_url: str = "") -> list[dict[str, Any]]:
    return [item(r, base_url) for r in records]


def write(records: list[dict[str, Any]], *, base_url: str = "") -> bytes:
    return orjson.dumps(items(records, base_url), option=orjson.OPT_INDENT_2)
