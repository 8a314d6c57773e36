"""Chinese search as readers type it (issue 13), against a real Elasticsearch and real records.

Records: the demo's LC Chinese MARC 21 (records 1–120 of ``demo/data/calis-lc-chinese.mrc``, with
880 vernacular fields) held by nlc, and the two CNMARC records of ``tests/data/records/cnmarc-bnu-alma.xml``
(Beijing Normal University's Alma; no romanised field at all) held by bnu, and the UVA records of
``tests/data/records/marc21-uva-sirsi-999.mrc`` (u27 is a serial with ISSN 0139-0600) held by pku, and
LC's Japanese and Korean records of ``tests/data/records/marc21-lc-japanese-korean.mrc`` held by sjtu.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from catalog.pipeline import ingest
from catalog.profiles import PROFILES_DIR, ensure_index_fields, load_profile, missing_index_fields
from catalog.records import find_by_source
from catalog.search import SearchError, SearchQuery, build_query, search
from indexer.index import MAPPINGS_DIR, IndexSpec, alias_targets, create_index, switch_alias
from tests.core.helpers import DEMO, RECORDS, as_harvested, read_marc
from tests.core.test_dedup import cnmarc_records
from tests.core.test_members_cli import run_cli
from unicat.app import create_app

CNMARC_94 = "990002180740203961"  # '94中国发展报告, 叶震 … 编, 中国统计出版社, ISBN 978-7-5037-1744-4
CNMARC_98 = "990001379150203961"  # '98中国发展报告
RURAL_REFORM = "00272013"  # 中国农村敎育综合改革: 农村 … 改革 stand apart
MARXISM = "00050517"  # 中國民族主義與馬克思主義的興起 (Traditional characters)
RURAL_ROAD = "00271989"  # 中国社会主义道路与农村现代化, 陆学艺
CAI_YUANPEI = "00271518"  # 蔡元培传
LI_YINING = "00271513"  # 厉以宁九十年代文选, author 厉以宁
YANG_SAO = "00271984"  # 杨骚传, series 福建现代作家传记丛书
SERIAL = "u27"  # Ethnographica et folkloristica Carpathica, ISSN 0139-0600
RED_CHAMBER = "00290655"  # 紅楼圆明隐秘, romanised "Hong lou Yuan ming yin mi", 曹雪芹 in the subtitle
MUMMIES = "00271347"  # 日本のミイラ信仰 (Japanese: Han, hiragana, katakana in one run)
EMPEROR = "00271350"  # 天皇をめぐる物語 : 歴史の視座の中で
KNOWLEDGE = "00272142"  # 지식 경영 과 한국 의 미래 (Korean)
ECONOMY = "00272144"  # 한국 경제 더 물러 설 수 없다


@pytest.fixture
def catalog(services, refresh):  # type: ignore[no-untyped-def]
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=120)))
    ingest(services, "bnu", cnmarc_records())
    ingest(services, "pku", as_harvested(read_marc(RECORDS / "marc21-uva-sirsi-999.mrc")))
    ingest(services, "sjtu", as_harvested(read_marc(RECORDS / "marc21-lc-japanese-korean.mrc")))
    refresh()
    ids = {}
    for member, local_id in [("bnu", CNMARC_94), ("bnu", CNMARC_98), ("pku", SERIAL)] + [
        ("sjtu", x) for x in (MUMMIES, EMPEROR, KNOWLEDGE, ECONOMY)
    ] + [
        ("nlc", x) for x in (RURAL_REFORM, MARXISM, RURAL_ROAD, CAI_YUANPEI, LI_YINING, YANG_SAO, RED_CHAMBER)
    ]:
        ids[local_id] = find_by_source(services, member, local_id)["id"]  # type: ignore[index]
    return services, ids


@pytest.fixture
def api(catalog):  # type: ignore[no-untyped-def]
    services, ids = catalog
    with TestClient(create_app(services.settings, services=services)) as http:
        yield http, ids


def found(services, q: str, size: int = 100) -> list[str]:  # type: ignore[no-untyped-def]
    return [h["id"] for h in search(services, SearchQuery(q=q, size=size))["hits"]]


def test_two_words_without_a_space_find_a_title_holding_them_apart_in_both_forms(catalog):
    services, ids = catalog
    for q in ("农村改革", "農村改革", "改革农村"):
        assert ids[RURAL_REFORM] in found(services, q), q
    for q in ("马克思民族主义", "馬克思民族主義"):  # the record is catalogued in Traditional characters
        assert ids[MARXISM] in found(services, q), q
    # each word is still required: a title with only one of them is not a hit
    assert ids[RURAL_ROAD] not in found(services, "农村改革")
    hit = next(h for h in search(services, SearchQuery(q="農村改革"))["hits"] if h["id"] == ids[RURAL_REFORM])
    assert hit["highlight"]["title"].count("<mark>") == 2  # both words marked where they stand


def test_japanese_kana_and_korean_hangul_words_are_found_apart(catalog):
    services, ids = catalog
    assert ids[MUMMIES] in found(services, "ミイラ日本")  # katakana + Han typed together, reversed
    assert ids[MUMMIES] in found(services, "信仰ミイラ")
    assert ids[EMPEROR] in found(services, "天皇物語") and ids[MUMMIES] not in found(services, "天皇物語")
    assert found(services, "日本のミイラ信仰")[0] == ids[MUMMIES]
    assert ids[KNOWLEDGE] in found(services, "미래 한국")  # Korean words, spaced, in another order
    assert ids[ECONOMY] in found(services, "없다 경제") and ids[KNOWLEDGE] not in found(services, "없다 경제")


def test_a_whole_title_still_ranks_its_record_first(catalog):
    services, ids = catalog
    assert found(services, "中国社会主义道路与农村现代化")[0] == ids[RURAL_ROAD]
    assert found(services, "中國社會主義道路與農村現代化")[0] == ids[RURAL_ROAD]
    assert found(services, "中国民族主义与马克思主义的兴起")[0] == ids[MARXISM]


@pytest.mark.parametrize("q", ["zhongguofazhanbaogao", "zhongguo fazhan baogao", "Zhōngguó fāzhǎn bàogào",
                               "zhong guo fa zhan bao gao", "zhong1guo2 fa1zhan3"])
def test_pinyin_finds_cnmarc_records_without_romanisation(catalog, q):
    services, ids = catalog
    hits = found(services, q)
    assert {ids[CNMARC_94], ids[CNMARC_98]} <= set(hits[:5]), q


def test_pinyin_of_an_author_and_of_a_title_with_romanised_words(catalog):
    services, ids = catalog
    assert found(services, "yezhen") == [ids[CNMARC_94]]  # 叶震, in the CNMARC record only
    assert found(services, "zhongguo fazhan baogao 1994") == [ids[CNMARC_94]]  # a year beside pinyin
    assert found(services, "caiyuanpei")[0] == ids[CAI_YUANPEI]
    # LC romanises word by word ("Hong lou Yuan ming"); typed run together only the pinyin field has it
    assert ids[RED_CHAMBER] in found(services, "honglouyuanming")
    # topical pinyin: two words run together find a title holding them apart, like 农村改革 does
    assert ids[RURAL_REFORM] in found(services, "nongcungaige")
    assert ids[RURAL_ROAD] not in found(services, "nongcungaige")


def test_english_words_are_not_read_as_pinyin():
    # "china" splits as chi+na, but "rural" is no pinyin, so neither word is read as pinyin
    assert "_py" not in str(build_query(SearchQuery(q="rural china")))
    assert "title_py" in str(build_query(SearchQuery(q="hong lou meng")))


@pytest.mark.parametrize(
    ("q", "present", "absent"),
    [
        ('"农村现代化"', [RURAL_ROAD], [RURAL_REFORM]),
        ('"现代化农村"', [], [RURAL_ROAD]),
        ("蔡元培 OR 厉以宁", [CAI_YUANPEI, LI_YINING], [RURAL_ROAD]),
        ("中国 农村 -改革", [RURAL_ROAD], [RURAL_REFORM]),
        ("中国 AND 农村 NOT 改革", [RURAL_ROAD], [RURAL_REFORM]),
        ("(蔡元培 OR 厉以宁) 传", [CAI_YUANPEI], [LI_YINING]),
        ("author:陆学艺", [RURAL_ROAD], []),
        ("title:陆学艺", [], [RURAL_ROAD]),
        ("subject:rural development", [RURAL_ROAD], [RURAL_REFORM]),
        ("subject:中国经济", [CNMARC_94], [RURAL_ROAD]),  # 606: 经济发展 -- 概况 -- 中国 -- 1994
        ("series:传记作家", [YANG_SAO], []),
        ("publisher:中国统计出版社", [CNMARC_94, CNMARC_98], [RURAL_ROAD]),
        ("callnumber:F124", [CNMARC_94, CNMARC_98], [RURAL_ROAD]),
        ("isbn:978-7-5037-1744-4", [CNMARC_94], [CNMARC_98]),
        ("7503717440", [CNMARC_94], [CNMARC_98]),
        ("978 7 5037 1744 4", [CNMARC_94], [CNMARC_98]),
        ("９７８－７－５０３７－１７４４－４", [CNMARC_94], [CNMARC_98]),
        ("issn:0139-0600", [SERIAL], [RURAL_ROAD]),
        ("0139 0600", [SERIAL], []),
        ("０１３９－０６００", [SERIAL], []),
        ("carpath*", [SERIAL], []),
        ("xueq*", [RED_CHAMBER], [RURAL_ROAD]),
        ("marx 民族主义", [MARXISM], []),
    ],
)
def test_query_syntax(api, q, present, absent):
    http, ids = api
    response = http.get("/api/v1/search", params={"q": q, "size": 100})
    assert response.status_code == 200, response.text
    hits = [h["id"] for h in response.json()["hits"]]
    assert all(ids[p] in hits for p in present), (q, hits)
    assert not any(ids[a] in hits for a in absent), (q, hits)


@pytest.mark.parametrize(
    "q",
    ['"unbalanced 中国', "(中国 历史", "中国 历史)", "AND", "OR", "NOT", "-", "a AND", "OR 中国", "*story",
     "中国*", "a*", "hi*ory", "\x00\x01中国\x7f", "title:", "title:()", "((((", '"""', "中国 ) (", "NOT NOT 中国",
     "\u200b中国\ufeff", "title:isbn:", "-(", "x:y:z"],
)
def test_bad_input_gets_a_sensible_answer_or_a_clear_error(api, q):
    http, _ = api
    response = http.get("/api/v1/search", params={"q": q})
    assert response.status_code in (200, 400), (q, response.text)
    text = response.text.lower()
    assert "exception" not in text and "elasticsearch" not in text and "traceback" not in text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "bad_query"


def test_punctuation_only_and_overlong_queries_are_refused_clearly(api):
    http, _ = api
    pasted = "中国社会主义道路与农村现代化当代中国文艺理论史武举制度史略外商投资企业分析" * 8  # ~150 words
    cases = [(pasted, 400), ("!!!", 400), ("？。，", 400), ("中国 " * 3_334, 422), ("isbn:12", 400),
             ("issn:1234-5678", 400)]
    for q, status in cases:
        response = http.get("/api/v1/search", params={"q": q})
        assert response.status_code == status, q
        assert response.json()["error"]["message"]
    with pytest.raises(SearchError):  # the service refuses it too, for callers other than the API
        search(http.app.state.services, SearchQuery(q="中国 " * 3_334))


def test_star_alone_browses_everything(api):
    http, _ = api
    everything = http.get("/api/v1/search", params={"q": "*"}).json()["total"]
    assert everything == http.get("/api/v1/search").json()["total"] >= 100


def test_truncation_is_bounded_and_finds_words_by_their_start(catalog):
    services, ids = catalog
    clause = build_query(SearchQuery(q="xueq*"))["function_score"]["query"]["bool"]["must"][0]["multi_match"]
    assert clause["type"] == "phrase_prefix" and clause["max_expansions"] == load_profile().max_expansions
    for q in ("*zhong", "zh*", "*"):  # a leading wildcard, a short stem: never an open-ended expansion
        body = str(build_query(SearchQuery(q=q)))
        assert "prefix" not in body and "wildcard" not in body
    assert ids[RED_CHAMBER] in found(services, "xueq*") and ids[RED_CHAMBER] not in found(services, "xueq")


def test_a_profile_needing_fields_the_live_index_lacks_rebuilds_it(catalog):
    services, ids = catalog
    alias = services.settings.records_alias
    body = json.loads((MAPPINGS_DIR / "records-v2.json").read_text())
    body.pop("_comment")
    old = create_index(services.es, alias, IndexSpec(2, body))
    switch_alias(services.es, alias, old)
    profile = load_profile("default-v1")
    assert "title_cjk" in missing_index_fields(services, profile)
    result = ensure_index_fields(services, profile)
    assert result and result["failed"] == 0
    assert alias_targets(services.es, alias) != [old] and missing_index_fields(services, profile) == []
    assert ids[RURAL_REFORM] in found(services, "农村改革")
    assert ensure_index_fields(services, profile) is None  # nothing to do the second time


def test_profile_check_through_the_cli_names_missing_fields_and_rebuilds(catalog):
    services, ids = catalog
    alias = services.settings.records_alias
    body = json.loads((MAPPINGS_DIR / "records-v2.json").read_text())
    body.pop("_comment")
    switch_alias(services.es, alias, create_index(services.es, alias, IndexSpec(2, body)))
    members = DEMO.parent / "members.toml"
    lacking = run_cli(services.settings, members, "profile", "check")
    assert lacking.returncode == 1 and "title_cjk" in lacking.stdout
    assert run_cli(services.settings, members, "profile", "check", "default", "--rebuild").returncode == 0
    assert run_cli(services.settings, members, "profile", "check").returncode == 0
    assert ids[RURAL_REFORM] in found(services, "农村改革")
    unknown = run_cli(services.settings, members, "profile", "check", "nosuch")
    assert unknown.returncode == 2 and "no search profile 'nosuch'" in " ".join(unknown.stderr.split())


def test_a_candidate_profile_file_changes_synonyms_and_stop_words(catalog, tmp_path):
    services, ids = catalog
    default = (PROFILES_DIR / "default-v1.toml").read_text(encoding="utf-8")
    candidate = tmp_path / "candidate-v1.toml"
    candidate.write_text(
        default.replace('name = "default"', 'name = "candidate"').replace('["电脑", "计算机"],', '["农村", "乡村"],'),
        encoding="utf-8",
    )
    assert ids[RURAL_REFORM] not in found(services, "乡村改革")
    hits = [h["id"] for h in search(services, SearchQuery(q="鄉村改革", size=100), profile=str(candidate))["hits"]]
    assert ids[RURAL_REFORM] in hits
    # 的 is a stop word of both: the record does not hold it, and is found all the same
    assert ids[RURAL_REFORM] in found(services, "中国的农村改革")
