"""Metadata embedded in pages for reference managers and search engines: COinS (OpenURL 1.0
ContextObjects in a ``<span class="Z3988">``, read by Zotero and others) and schema.org ``Book``
JSON-LD. Both work from a union record or from a search hit (the same display fields)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from portals.bib import citable

CTX_VERSION = "Z39.88-2004"
BOOK_FORMAT = "info:ofi/fmt:kev:mtx:book"
JOURNAL_FORMAT = "info:ofi/fmt:kev:mtx:journal"


def coins(record: dict[str, Any], base_url: str = "") -> str:
    """The ``title`` attribute of a COinS span (an OpenURL KEV string; escape it as an attribute)."""
    view = citable(record, base_url)
    serial = view.kind == "serial"
    pairs: list[tuple[str, str]] = [
        ("ctx_ver", CTX_VERSION),
        ("rft_val_fmt", JOURNAL_FORMAT if serial else BOOK_FORMAT),
        ("rfr_id", "info:sid/unicat"),
        ("rft.genre", "journal" if serial else "book"),
        ("rft.jtitle" if serial else "rft.btitle", view.full_title),
    ]
    if view.url:
        pairs.append(("rft_id", view.url))
    for name in view.names:
        pairs.append(("rft.au", name.display()))
    for key, value in (("rft.date", view.year), ("rft.pub", view.publisher), ("rft.place", view.place),
                       ("rft.edition", view.edition)):
        if value:
            pairs.append((key, str(value)))
    pairs += [("rft.isbn", isbn) for isbn in view.isbns]
    pairs += [("rft.issn", issn) for issn in view.issns]
    if view.language:
        pairs.append(("rft.language", view.language))
    return urlencode(pairs)


def json_ld(record: dict[str, Any], base_url: str = "") -> dict[str, Any]:
    """schema.org ``Book`` (``Periodical`` for serials) with the libraries that hold it."""
    view = citable(record, base_url)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Periodical" if view.kind == "serial" else "Book",
        "@id": view.url or view.id,
        "name": view.full_title,
    }
    if view.url:
        data["url"] = view.url
    if view.names:
        data["author"] = [
            {"@type": "Person" if (n.given or (n.literal and not _corporate(n.literal))) else "Organization",
             "name": n.display()}
            for n in view.names
        ]
    optional = {
        "datePublished": str(view.year) if view.year else None,
        "bookEdition": view.edition,
        "isbn": view.isbns or None,
        "issn": view.issns or None,
        "inLanguage": view.languages or None,
        "about": view.subjects[:10] or None,
    }
    data.update({k: v for k, v in optional.items() if v})
    if view.publisher:
        publisher: dict[str, Any] = {"@type": "Organization", "name": view.publisher}
        if view.place:
            publisher["location"] = view.place
        data["publisher"] = publisher
    holders = record.get("holdings") or record.get("members") or []
    if holders:
        data["holdingArchive"] = [
            {"@type": "Library", "name": (h.get("member_name") or h.get("name") or {}).get("en")
             or h.get("member") or h.get("code")}
            for h in holders
        ]
    return data


def _corporate(name: str) -> bool:
    return any(word in name for word in ("(China)", "委员会", "出版社", "图书馆", "大学", "University", "Society"))
