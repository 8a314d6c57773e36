"""What browsers, crawlers and reference managers read: COinS and JSON-LD on pages, OpenSearch,
Atom feeds (read back by feedparser-free lxml: Atom and OpenSearch namespaces), sitemap, robots."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
OS = "http://a9.com/-/spec/opensearch/1.1/"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


def chinese_id(client) -> str:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/search", params={"isbn": "9787534331824"}).json()["hits"][0]["id"]


def test_record_page_embeds_coins_json_ld_cite_panel_and_exports(client):
    uid = chinese_id(client)
    page = client.get(f"/records/{uid}", headers={"accept-language": "zh-CN"}).text
    span = re.search(r'<span class="Z3988" title="([^"]+)"', page)
    assert span, "a COinS span Zotero can read"
    kev = parse_qs(html.unescape(span.group(1)))
    assert kev["ctx_ver"] == ["Z39.88-2004"] and kev["rft_val_fmt"] == ["info:ofi/fmt:kev:mtx:book"]
    assert kev["rft.btitle"] == ["当代中国文艺理论史"] and kev["rft.au"] == ["包忠文"]
    assert kev["rft.isbn"] == ["9787534331824"]
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.+?)</script>', page, re.S).group(1))
    assert ld["@type"] == "Book" and ld["name"] == "当代中国文艺理论史" and ld["isbn"] == ["9787534331824"]
    assert ld["inLanguage"] == ["zh"] and ld["author"] == [{"@type": "Person", "name": "包忠文"}]
    assert ld["url"].endswith(f"/records/{uid}")
    assert "引用" in page and "[1] 包忠文. 当代中国文艺理论史[M]. 南京: 江苏教育出版社, 1998." in page
    for fmt in ("marcxml", "marc", "ris", "bibtex", "csl-json"):
        href = f"/api/v1/records/{uid}/export?format={fmt}"
        assert href in page and client.get(href).status_code == 200
    assert '<link rel="search" type="application/opensearchdescription+xml" href="/opensearch.xml"' in page


def test_result_page_has_coins_per_hit_export_menu_and_feed(client):
    page = client.get("/search", params={"q": "pride", "lang": "en"}).text
    total = client.get("/api/v1/search", params={"q": "pride"}).json()
    assert page.count('class="Z3988"') == len(total["hits"])
    links = re.findall(r'href="(/api/v1/search/export\?[^"]+)"', page)
    assert len(links) == 5
    ris = client.get(html.unescape(links[2]))
    assert ris.status_code == 200 and ris.text.count("ER  - ") == total["total"]
    assert 'type="application/atom+xml"' in page


def test_opensearch_description_and_atom_feed(client):
    description = etree.fromstring(client.get("/opensearch.xml").content)
    templates = {u.get("type"): u.get("template") for u in description.iter(f"{{{OS}}}Url")}
    assert templates["application/json"].endswith("/api/v1/search?q={searchTerms}&page={startPage?}&size={count?}")
    assert "/api/v1/search/feed?q={searchTerms}" in templates["application/atom+xml"]
    assert templates["application/x-suggestions+json"].endswith("/api/v1/suggest?q={searchTerms}")
    assert templates["text/html"].endswith("/search?q={searchTerms}&page={startPage?}")
    feed_response = client.get("/api/v1/search/feed", params={"q": "文艺理论"})
    assert feed_response.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(feed_response.content)
    assert feed.findtext(f"{{{OS}}}totalResults") == "1"
    entries = feed.findall(f"{{{ATOM}}}entry")
    assert [e.findtext(f"{{{ATOM}}}title") for e in entries] == ["当代中国文艺理论史"]
    pride = etree.fromstring(client.get("/api/v1/search/feed", params={"q": "pride", "size": 5}).content)
    api = client.get("/api/v1/search", params={"q": "pride", "size": 5}).json()
    ids = [e.findtext(f"{{{ATOM}}}id").rsplit("/", 1)[1] for e in pride.findall(f"{{{ATOM}}}entry")]
    assert ids == [h["id"] for h in api["hits"]]
    assert client.get("/api/v1/search/feed", params={"isbn": "12"}).json()["error"]["code"] == "bad_query"


def test_sitemap_lists_every_record_and_robots_points_to_it(client, catalogue):
    robots = client.get("/robots.txt").text
    assert "Disallow: /api/" in robots and re.search(r"^Sitemap: http://testserver/sitemap.xml$", robots, re.M)
    index = etree.fromstring(client.get("/sitemap.xml").content)
    pages = [loc.text for loc in index.iter(f"{{{SITEMAP}}}loc")]
    assert pages == ["http://testserver/sitemap-1.xml"]
    urls = etree.fromstring(client.get("/sitemap-1.xml").content)
    locs = [loc.text for loc in urls.iter(f"{{{SITEMAP}}}loc")]
    assert len(locs) == catalogue.es.count(index=catalogue.settings.records_alias)["count"]
    assert client.get(locs[0].replace("http://testserver", "")).status_code == 200
    assert client.get("/sitemap-2.xml").status_code == 404
