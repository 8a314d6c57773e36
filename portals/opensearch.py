"""The OpenSearch 1.1 description document: browsers offer to add the catalogue as a search
engine; clients find the HTML, JSON, Atom and suggestion URL templates."""

from __future__ import annotations

from lxml import etree

OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"


def description(base_url: str) -> bytes:
    base = base_url.rstrip("/")
    root = etree.Element(f"{{{OPENSEARCH}}}OpenSearchDescription", nsmap={None: OPENSEARCH})
    for tag, text in (
        ("ShortName", "unicat"),
        ("LongName", "unicat union catalogue · 联合目录"),
        ("Description", "Search every member library's catalogue at once / 一次检索所有成员馆的馆藏"),
        ("Tags", "library catalogue union catalog 图书馆 联合目录"),
        ("InputEncoding", "UTF-8"),
        ("OutputEncoding", "UTF-8"),
        ("Language", "zh-CN"),
        ("Language", "en"),
    ):
        etree.SubElement(root, f"{{{OPENSEARCH}}}{tag}").text = text
    templates = (
        ("text/html", f"{base}/search?q={{searchTerms}}&page={{startPage?}}"),
        ("application/json", f"{base}/api/v1/search?q={{searchTerms}}&page={{startPage?}}&size={{count?}}"),
        ("application/atom+xml", f"{base}/api/v1/search/feed?q={{searchTerms}}&page={{startPage?}}&size={{count?}}"),
        ("application/x-suggestions+json", f"{base}/api/v1/suggest?q={{searchTerms}}"),
    )
    for media_type, template in templates:
        url = etree.SubElement(root, f"{{{OPENSEARCH}}}Url", type=media_type, template=template)
        if media_type != "application/x-suggestions+json":
            url.set("indexOffset", "1")
            url.set("pageOffset", "1")
    etree.SubElement(root, f"{{{OPENSEARCH}}}Url", type="application/opensearchdescription+xml", rel="self",
                     template=f"{base}/opensearch.xml")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
