"""What the record and result pages embed for other systems: COinS, JSON-LD, the export menu
and the cite panel (built by :mod:`portals`, placed by the templates)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from portals.citations import cite_all
from portals.embed import coins, json_ld
from portals.export import FORMATS

EXPORT_LABELS = {"marcxml": "MARCXML", "marc": "MARC 21 (ISO 2709)", "ris": "RIS (EndNote, Zotero)",
                 "bibtex": "BibTeX", "csl-json": "CSL-JSON"}


def record_parts(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    base = str(request.base_url)
    ld = orjson.dumps(json_ld(record, base)).decode("utf-8").replace("</", "<\\/")
    return {
        "coins": coins(record, base),
        "json_ld": ld,
        "citations": cite_all(record, base, forms=("html",)),  # the page shows only HTML
        "exports": [(EXPORT_LABELS[name], f"/api/v1/records/{record['id']}/export?format={name}") for name in FORMATS],
        "permalink": f"{base.rstrip('/')}/records/{record['id']}",
    }


def results_parts(request: Request, hits: list[dict[str, Any]]) -> dict[str, Any]:
    base = str(request.base_url)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("format", "page", "lang")]
    from urllib.parse import urlencode

    return {
        "coins": {hit["id"]: coins(hit, base) for hit in hits},
        "exports": [(EXPORT_LABELS[name], "/api/v1/search/export?" + urlencode([*params, ("format", name)]))
                    for name in FORMATS],
        "feed": "/api/v1/search/feed?" + urlencode(params),
    }
