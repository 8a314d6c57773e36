"""Exports and citations read back by parsers nobody here wrote: pymarc, rispy, bibtexparser,
citeproc-py (reading CSL-JSON); Chinese records among them; GB/T 7714 in the standard's form."""

from __future__ import annotations

import io
import json

import bibtexparser
import pymarc
import pytest
import rispy
from citeproc.source.json import CiteProcJSON

from catalog.pipeline import ingest
from tests.core.helpers import DEMO, as_harvested, read_marc, variant


def record_id(client, **params) -> str:  # type: ignore[no-untyped-def]
    hits = client.get("/api/v1/search", params={"size": 100, **params}).json()["hits"]
    assert hits, params
    return hits[0]["id"]


def chinese_id(client) -> str:  # type: ignore[no-untyped-def]
    return record_id(client, isbn="9787534331824")  # 包忠文《当代中国文艺理论史》, LC record


def shared_id(client) -> str:  # type: ignore[no-untyped-def]
    hits = client.get("/api/v1/search", params={"q": "pride prejudice", "member": ["pku", "sjtu"], "size": 100}).json()
    return next(h["id"] for h in hits["hits"] if h["holdings_count"] == 2)


def test_marcxml_and_iso2709_union_records_with_sources_as_received(client, catalogue):
    uid = shared_id(client)
    response = client.get(f"/api/v1/records/{uid}/export", params={"format": "marcxml", "include": "sources"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/marcxml+xml")
    records = pymarc.parse_xml_to_array(io.BytesIO(response.content))
    union, *sources = records
    assert union["001"].data == uid and {f["a"] for f in union.get_fields("852")} == {"pku", "sjtu"}
    assert len(sources) == 2 and all(s["245"]["a"].lower().startswith("pride") for s in sources)
    binary = client.get(f"/api/v1/records/{uid}/export", params={"format": "marc", "include": "sources"})
    parsed = list(pymarc.MARCReader(binary.content, to_unicode=True, force_utf8=True))
    assert [r["001"].data for r in parsed] == [r["001"].data for r in records]
    member = client.get(f"/api/v1/records/{uid}").json()["sources"][0]
    one = client.get(f"/api/v1/records/{uid}/export",
                     params={"format": "marc", "source": f"{member['member']}:{member['local_id']}"})
    originals = {r["001"].data.strip(): r for r in read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=40)}
    received = as_harvested([originals[member["local_id"]]])[0].raw
    assert one.content == received  # byte for byte as the member sent it


def test_chinese_record_in_every_format(client):
    uid = chinese_id(client)
    get = lambda fmt: client.get(f"/api/v1/records/{uid}/export", params={"format": fmt})  # noqa: E731
    marc = pymarc.parse_xml_to_array(io.BytesIO(get("marcxml").content))[0]
    assert marc["245"]["a"] == "当代中国文艺理论史" and marc["100"]["a"] == "包忠文"
    assert marc["008"].data[35:38] == "chi" and marc["852"]["a"] == "nlc"
    iso = next(iter(pymarc.MARCReader(get("marc").content, to_unicode=True, force_utf8=True)))
    assert iso.leader[9] == "a" and iso["245"]["a"] == "当代中国文艺理论史"
    ris = rispy.loads(get("ris").content.decode("utf-8"))[0]
    assert ris["type_of_reference"] == "BOOK" and ris["title"] == "当代中国文艺理论史"
    assert ris["authors"] == ["包忠文"] and ris["language"] == "zh" and ris["publisher"] == "江苏教育出版社"
    assert ris["year"] == "1998"
    bib = bibtexparser.parse_string(get("bibtex").content.decode("utf-8"))
    assert not bib.failed_blocks
    entry = bib.entries[0]
    assert entry.entry_type == "book" and entry.key == uid
    assert entry["author"] == "{包忠文}" and entry["title"] == "{当代中国文艺理论史}"
    assert entry["language"] == "chinese" and entry["address"] == "南京"
    items = json.loads(get("csl-json").content)
    assert items[0]["author"] == [{"literal": "包忠文"}] and items[0]["language"] == "zh"
    source = CiteProcJSON(items)  # citeproc-py's own reader takes it as CSL-JSON
    reference = source[uid]
    assert str(reference.title) == "当代中国文艺理论史" and reference.issued.year == 1998


def test_a_family_name_first_chinese_name_stays_one_name(catalogue, client):
    original = read_marc(DEMO / "calis-lc-chinese.mrc", limit=20)[9]  # 当代中国文艺理论史
    record = variant(original, "bnu-hlm-1", isbns=["9787020002207"], title="红楼梦", author="曹雪芹, 1715?-1763")
    ingest(catalogue, "bnu", as_harvested([record]))
    catalogue.es.indices.refresh(index=catalogue.settings.records_alias)
    uid = record_id(client, isbn="9787020002207")
    csl = client.get(f"/api/v1/records/{uid}/export", params={"format": "csl-json"}).json()[0]
    assert csl["author"][0] == {"literal": "曹雪芹"}
    bib = bibtexparser.parse_string(client.get(f"/api/v1/records/{uid}/export", params={"format": "bibtex"}).text)
    assert bib.entries[0]["author"].startswith("{曹雪芹}")
    ris = rispy.loads(client.get(f"/api/v1/records/{uid}/export", params={"format": "ris"}).text)[0]
    assert ris["authors"][0] == "曹雪芹"
    gbt = client.get(f"/api/v1/records/{uid}/citation", params={"style": "gb-t-7714"}).json()
    assert gbt["text"].startswith("[1] 曹雪芹") and " 红楼梦[M]. " in gbt["text"]


def test_gb_t_7714_for_a_chinese_book_has_the_standards_form(client):
    uid = chinese_id(client)
    gbt = client.get(f"/api/v1/records/{uid}/citation", params={"style": "gb-t-7714"}).json()
    # GB/T 7714-2015 §8 / example: [序号] 主要责任者. 题名[文献类型标识]. 出版地: 出版者, 出版年.
    assert gbt["text"] == "[1] 包忠文. 当代中国文艺理论史[M]. 南京: 江苏教育出版社, 1998."
    english = client.get(f"/api/v1/records/{shared_id(client)}/citation", params={"style": "gb-t-7714"}).json()
    assert english["text"].startswith("[1] AUSTEN J") and " Pride and prejudice[M]. " in english["text"]
    for style, form in (("mla", "Austen, Jane"), ("chicago", "Austen, Jane"), ("apa", "Austen, J.")):
        cited = client.get(f"/api/v1/records/{shared_id(client)}/citation", params={"style": style}).json()
        assert cited["text"].startswith(form), cited  # MLA and Chicago keep given names whole
    everything = client.get(f"/api/v1/records/{uid}/citation").json()["citations"]
    assert [c["style"] for c in everything] == ["apa", "mla", "chicago", "gb-t-7714"]
    apa = everything[0]
    assert apa["text"] == "包忠文. (1998). 当代中国文艺理论史. 江苏教育出版社."
    assert "<i>当代中国文艺理论史</i>" in apa["html"]


def test_result_list_export_is_bounded_and_keeps_search_order(client):
    search = client.get("/api/v1/search", params={"q": "pride", "size": 100}).json()
    response = client.get("/api/v1/search/export", params={"q": "pride", "format": "ris", "limit": 5})
    refs = rispy.loads(response.text)
    assert [r["id"] for r in refs] == [h["id"] for h in search["hits"][:5]]
    assert response.headers["x-total-hits"] == str(search["total"]) and response.headers["x-exported-records"] == "5"
    everything = client.get("/api/v1/search/export", params={"format": "bibtex"})
    assert len(bibtexparser.parse_string(everything.text).entries) == client.get("/api/v1/search").json()["total"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/records/{id}/export", {"format": "docx"}, 400, "unknown_format"),
        ("/api/v1/records/{id}/export", {"format": "ris", "include": "sources"}, 400, "unsupported_export"),
        ("/api/v1/records/{id}/export", {"format": "marc", "source": "pku:nope"}, 404, "not_found"),
        ("/api/v1/records/u0000000000000000/export", {"format": "ris"}, 404, "not_found"),
        ("/api/v1/records/{id}/citation", {"style": "harvard"}, 400, "unknown_style"),
        ("/api/v1/search/export", {"format": "ris", "limit": 1000000}, 422, "invalid_parameter"),
        ("/api/v1/search/export", {"format": "ris", "page": 3, "size": 100}, 400, "bad_query"),
        ("/api/v1/search/export", {"format": "yaml"}, 400, "unknown_format"),
    ],
)
def test_bad_export_requests_get_clear_errors(client, path, params, status, code):
    response = client.get(path.format(id=chinese_id(client)), params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
