"""sitemap.xml for search engines: an index of pages of at most 50,000 record URLs (the limit of
the sitemaps protocol), read from the store in id order."""

from __future__ import annotations

from lxml import etree
from sqlalchemy import select

from catalog.context import Services
from portals.records import live_union_count
from store.models import Cluster

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
PAGE_SIZE = 50_000


def page_count(services: Services) -> int:
    with services.db() as session:
        total = live_union_count(session)
    return max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)


def sitemap_index(services: Services, base_url: str) -> bytes:
    base = base_url.rstrip("/")
    root = etree.Element(f"{{{SITEMAP}}}sitemapindex", nsmap={None: SITEMAP})
    for number in range(1, page_count(services) + 1):
        etree.SubElement(etree.SubElement(root, f"{{{SITEMAP}}}sitemap"), f"{{{SITEMAP}}}loc").text = (
            f"{base}/sitemap-{number}.xml"
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def sitemap_page(services: Services, number: int, base_url: str) -> bytes | None:
    """Page ``number`` (from 1) of record URLs, or None past the last page."""
    if number < 1 or number > page_count(services):
        return None
    base = base_url.rstrip("/")
    with services.db() as session:
        rows = session.execute(
            select(Cluster.id, Cluster.updated_at)
            .where(Cluster.size > 0)
            .order_by(Cluster.id)
            .offset((number - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()
    root = etree.Element(f"{{{SITEMAP}}}urlset", nsmap={None: SITEMAP})
    for union_id, updated in rows:
        url = etree.SubElement(root, f"{{{SITEMAP}}}url")
        etree.SubElement(url, f"{{{SITEMAP}}}loc").text = f"{base}/records/{union_id}"
        if updated is not None:
            etree.SubElement(url, f"{{{SITEMAP}}}lastmod").text = updated.date().isoformat()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def robots_txt(base_url: str) -> str:
    base = base_url.rstrip("/")
    return "\n".join([
        "User-agent: *",
        "Allow: /records/",
        "Disallow: /search",
        "Disallow: /api/",
        "Disallow: /sru",
        "Disallow: /ill/",
        f"Sitemap: {base}/sitemap.xml",
        "",
    ])
