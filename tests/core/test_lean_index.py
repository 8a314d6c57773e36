"""The leaner index (mapping v4, documents without empty fields; issue 19) answers every search and
suggestion exactly as mapping v3 with every field sent did.

Version 4 stops sending empty fields (a Latin record's ``*_cjk`` and ``*_py`` are empty), keeps no
doc values for fields that are only ever matched and no index for fields that are only ever sorted
or read as values, all to save Elasticsearch CPU per document. None of it may change what a reader
sees. Here the same union records — UVA's Latin records (no Han at all), LC's Chinese, Japanese and
Korean records, and one Pride and Prejudice held by two members — are indexed twice, once as
version 3 was and once as the code indexes now, and the two indices must give the same hits with
the same scores in the same order, the same totals and facets under every sort, and the same
suggestions.

Records: ``tests/data/records/marc21-uva-sirsi-999.mrc`` (UVA SirsiDynix export),
``demo/data/calis-lc-chinese.mrc`` (LC records with 880 vernacular fields),
``tests/data/records/marc21-lc-japanese-korean.mrc`` and the demo's Pride and Prejudice copies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from elasticsearch.helpers import bulk

from catalog.context import Services, build_services
from catalog.profiles import load_profile
from catalog.search import SORTS, SearchQuery, build_query, search
from catalog.suggest import suggest
from indexer.index import MAPPINGS_DIR, IndexSpec, create_index, latest_spec
from indexer.union import MemberInfo, SourceView, build_union, full_es_document, to_es_document
from mappings import crosswalk
from tests.core.helpers import DEMO, RECORDS, as_harvested, read_marc
from tests.services import delete_prefix, make_settings

PKU = MemberInfo("pku", "北京大学图书馆", "Peking University Library", "north", "regional")
SJTU = MemberInfo("sjtu", "上海交通大学图书馆", "Shanghai Jiao Tong University Library", "east")
NLC = MemberInfo("nlc", "国家图书馆", "National Library", "national", "national")

QUERIES = [
    # Latin free text, phrases, fields, truncation, Boolean syntax, an ISBN, a call number
    "history", "pride and prejudice", '"pride and prejudice"', "austen", "title:poems", "author:smith",
    "subject:history", "publisher:press", "educat*", "war NOT world", "music OR poetry",
    "callnumber:PS", "9780141439518",
    # Chinese words, Traditional characters, pinyin, Japanese and Korean
    "中国", "历史", "農村改革", "马克思", "鲁迅", "zhongguo", "li shi", "hong lou meng", "日本", "한국",
]
SUGGEST = ["pri", "aus", "hist", "the", "zhong", "中国", "鲁", "lu xun", "日本", "한국", "zzzz"]


def _unions() -> list[dict[str, Any]]:
    def one(member: MemberInfo, raw: bytes, i: int) -> dict[str, Any]:
        doc = crosswalk(raw, "iso2709")
        return build_union(f"u{i:05d}", [SourceView(member, doc.local_id or str(i), doc.to_dict())])

    raws = [(PKU, h.raw) for h in as_harvested(read_marc(RECORDS / "marc21-uva-sirsi-999.mrc"))]
    raws += [(NLC, h.raw) for h in as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=300))]
    raws += [(SJTU, h.raw) for h in as_harvested(read_marc(RECORDS / "marc21-lc-japanese-korean.mrc"))]
    out = [one(member, raw, i) for i, (member, raw) in enumerate(raws)]
    pair = [as_harvested(read_marc(DEMO / m / "pride-and-prejudice.mrc", limit=1))[0] for m in ("pku", "sjtu")]
    views = [SourceView(member, h.local_id, crosswalk(h.raw, "iso2709").to_dict())
             for member, h in zip((PKU, SJTU), pair, strict=True)]
    out.append(build_union("u-pride", views))
    untitled = {**crosswalk(raws[0][1], "iso2709").to_dict(), "title": None, "subtitle": None}
    out.append(build_union("u-untitled", [SourceView(PKU, "untitled", untitled)]))  # sorts first by title
    return out


def _load(services: Services, spec: IndexSpec, docs: list[dict[str, Any]]) -> None:
    """One segment in corpus order behind the services' alias (ties among suggestions fall alike)."""
    es, alias = services.es, services.settings.records_alias
    name = create_index(es, alias, spec)
    bulk(es, ({"_index": name, "_id": d["id"], "_source": d} for d in docs), chunk_size=500, refresh=True)
    es.indices.forcemerge(index=name, max_num_segments=1)
    es.indices.update_aliases(actions=[{"add": {"index": name, "alias": alias}}])


@pytest.fixture(scope="module")
def twins(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(services over the index as version 3 was, services over the index as it is now), and the
    union records both hold."""
    es_url, redis_url = request.getfixturevalue("es_url"), request.getfixturevalue("redis_url")
    made = [build_services(make_settings(tmp_path_factory.mktemp(n), es_url, redis_url)) for n in ("v3", "now")]
    unions = _unions()
    v3 = json.loads((MAPPINGS_DIR / "records-v3.json").read_text(encoding="utf-8"))
    v3.pop("_comment")
    _load(made[0], IndexSpec(3, v3), [full_es_document(u) for u in unions])
    _load(made[1], latest_spec(), [to_es_document(u) for u in unions])
    yield made, unions
    for services in made:
        delete_prefix(es_url, services.settings.index_prefix)
        services.close()


def _scored(services: Services, query: SearchQuery, profile: Any) -> list[tuple[str, float | None]]:
    body = build_query(query, profile)
    response = services.es.search(index=services.settings.records_alias, query=body, sort=SORTS[query.sort],
                                  size=100, track_scores=True, source=False)
    return [(h["_id"], h["_score"]) for h in response["hits"]["hits"]]


def test_a_latin_record_is_indexed_without_its_empty_chinese_fields(twins):
    _, unions = twins
    latin = next(u for u in unions if u["id"] == "u00000")
    full, lean = full_es_document(latin), to_es_document(latin)
    assert full["title_cjk"] == full["title_py"] == "" and "title_cjk" not in lean and "title_py" not in lean
    assert lean == {k: v for k, v in full.items() if v not in ("", [], None)}
    untitled = to_es_document(next(u for u in unions if u["id"] == "u-untitled"))
    assert untitled["title_sort"] == "", "an empty sort key sorts first; a missing one would sort last"
    assert lean["display"] == full["display"] and lean["title_t"] == full["title_t"] != ""


@pytest.mark.parametrize("sort", list(SORTS))
def test_every_search_answers_as_the_version_3_index_did(twins, sort):
    (then, now), _ = twins
    profile = load_profile()
    hit_somewhere = 0
    for text in QUERIES:
        query = SearchQuery(q=text, size=50, sort=sort)
        before, after = search(then, query, profile), search(now, query, profile)
        assert [h["id"] for h in after["hits"]] == [h["id"] for h in before["hits"]], text
        assert (after["total"], after["facets"]) == (before["total"], before["facets"]), text
        assert _scored(now, query, profile) == _scored(then, query, profile), text
        hit_somewhere += before["total"] > 0
    assert hit_somewhere >= len(QUERIES) - 2, "the queries must find records to compare"


def test_filters_and_fielded_search_answer_as_before(twins):
    (then, now), _ = twins
    profile = load_profile()
    for query in (SearchQuery(q="history", filters={"language": ["eng"]}), SearchQuery(author="austen"),
                  SearchQuery(filters={"member": ["sjtu"]}, sort="title"), SearchQuery(year_from=1990, year_to=2000),
                  SearchQuery(isbn="9780141439518"), SearchQuery(subject="中国")):
        before, after = search(then, query, profile), search(now, query, profile)
        assert [h["id"] for h in after["hits"]] == [h["id"] for h in before["hits"]], query
        assert (after["total"], after["facets"]) == (before["total"], before["facets"]), query
    shared = search(now, SearchQuery(q="pride and prejudice"), profile)["hits"]
    assert shared and shared[0]["id"] == "u-pride" and shared[0]["holdings_count"] == 2


def test_suggestions_are_the_same(twins):
    (then, now), _ = twins
    answered = 0
    for typed in SUGGEST:
        before = suggest(then, typed)
        assert suggest(now, typed) == before, typed
        answered += bool(before)
    assert answered >= len(SUGGEST) - 2, "the prefixes must complete to something"
