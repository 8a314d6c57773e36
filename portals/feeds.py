"""Atom feeds of searches (feedgen), with OpenSearch response elements so feed readers and
OpenSearch clients can page through them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from feedgen.feed import FeedGenerator
from lxml import etree

from portals.bib import citable
from portals.opensearch import OPENSEARCH


def search_feed(result: dict[str, Any], params: list[tuple[str, str]], base_url: str) -> bytes:
    """An Atom feed of one search result page (``result`` as :func:`catalog.search.search` gives it)."""
    base = base_url.rstrip("/")
    query = urlencode(params)
    feed = FeedGenerator()
    feed.id(f"{base}/api/v1/search/feed?{query}")
    terms = " ".join(v for k, v in params if k in ("q", "title", "author", "subject", "isbn", "issn"))
    feed.title(f"unicat: {terms}" if terms else "unicat: all records")
    feed.author({"name": "unicat union catalogue"})
    feed.link(href=f"{base}/search?{query}", rel="alternate", type="text/html")
    feed.link(href=f"{base}/api/v1/search/feed?{query}", rel="self", type="application/atom+xml")
    feed.updated(datetime.now(UTC))
    feed.language("zh-CN")
    for hit in result["hits"]:
        _entry(feed, hit, base)
    return _with_opensearch(feed.atom_str(pretty=False), result)


def _with_opensearch(atom: bytes, result: dict[str, Any]) -> bytes:
    """feedgen has no OpenSearch extension: the three response elements are added to its feed."""
    root = etree.fromstring(atom, etree.XMLParser(resolve_entities=False, no_network=True))
    values = (
        ("totalResults", result["total"]),
        ("startIndex", (result["page"] - 1) * result["size"] + 1),
        ("itemsPerPage", result["size"]),
    )
    for position, (name, value) in enumerate(values):
        element = etree.Element(f"{{{OPENSEARCH}}}{name}", nsmap={"opensearch": OPENSEARCH})
        element.text = str(value)
        root.insert(position, element)
    etree.cleanup_namespaces(root, top_nsmap={"opensearch": OPENSEARCH})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _entry(feed: FeedGenerator, hit: dict[str, Any], base: str) -> None:
    view = citable(hit, base)
    entry = feed.add_entry(order="append")
    entry.id(view.url)
    entry.title(view.full_title)
    entry.link(href=view.url, rel="alternate", type="text/html")
    for name in view.names[:10]:
        entry.author({"name": name.display()})
    entry.updated(datetime.now(UTC))
    held = ", ".join(m["name"]["zh"] for m in hit.get("members") or [] if m.get("name"))
    parts = [p for p in (view.publisher, str(view.year) if view.year else None) if p]
    summary = " · ".join([", ".join(parts)] if parts else [])
    entry.summary(f"{summary} — {held}" if held else summary or view.full_title)
