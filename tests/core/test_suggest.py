"""Search-box suggestions and "did you mean", through the API, over real records in a real index."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from catalog.pipeline import ingest
from indexer.index import MAPPINGS_DIR, IndexSpec, alias_targets, create_index
from tests.core.helpers import DEMO, RECORDS, admin_headers, as_harvested, read_marc
from unicat.app import create_app

HONGLOU = RECORDS / "marc21-lc-chinese-honglou.mrc"  # 紅楼圆明隐秘, 红楼真本, 红楼梦之谜, 红楼真味


@pytest.fixture
def client(services, refresh) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    ingest(services, "pku", as_harvested(read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=40)))
    ingest(services, "nlc", as_harvested(read_marc(HONGLOU) + read_marc(DEMO / "calis-lc-chinese.mrc", limit=60)))
    refresh()
    with TestClient(create_app(services.settings, services=services)) as http:
        yield http


def completions(client: TestClient, typed: str) -> list[str]:
    response = client.get("/api/v1/suggest", params={"q": typed})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-suggestions+json")
    body = response.json()
    assert body[0] == typed and len(body[1]) == len(body[2])
    return body[1]


def test_a_chinese_prefix_in_either_character_form_completes_titles(client: TestClient) -> None:
    simplified = completions(client, "红楼")
    assert {"红楼梦之谜", "红楼真本", "红楼真味"} <= set(simplified)
    assert any(s.startswith("紅楼圆明隐秘") for s in simplified)  # shown as catalogued
    assert set(completions(client, "紅樓")) == set(simplified)
    assert completions(client, "红楼梦")[0] == "红楼梦之谜"


def test_a_pinyin_prefix_completes_the_han_title(client: TestClient) -> None:
    assert "红楼梦之谜" in completions(client, "hongl")
    for typed in ("hongloumeng", "hong lou meng", "Hóng lóu mèng", "HONGLOUM"):
        assert completions(client, typed)[0] == "红楼梦之谜", typed
    # an author's name in pinyin, from the Han form of the heading
    body = client.get("/api/v1/suggest", params={"q": "zhaoguo"}).json()
    assert "赵国栋" in [text for text, kind in zip(body[1], body[2], strict=True) if kind == "author"]


def test_a_latin_prefix_completes_titles_authors_and_subjects(client: TestClient) -> None:
    body = client.get("/api/v1/suggest", params={"q": "pride and pre"}).json()
    assert body[1][0].lower().startswith("pride and prejudice")
    assert body[2][0] == "title"
    authors = client.get("/api/v1/suggest", params={"q": "austen, j"}).json()
    assert any(t.startswith("Austen, Jane") for t, k in zip(authors[1], authors[2], strict=True) if k == "author")
    assert completions(client, "zzqx") == []


@pytest.mark.parametrize("typed", ["", "   ", "\x00\x01\x1b", "!!!", "*", "\u200b"])
def test_nothing_to_complete_is_an_empty_answer(client: TestClient, typed: str) -> None:
    assert completions(client, typed) == []


def test_control_characters_are_ignored_and_a_huge_query_is_a_json_400(client: TestClient) -> None:
    assert completions(client, "hong\x00lou\x07") == completions(client, "honglou")
    response = client.get("/api/v1/suggest", params={"q": "hong" * 2_500})
    assert response.status_code in (400, 422)
    assert response.json()["error"]["status"] == response.status_code


def test_did_you_mean_corrects_a_misspelt_latin_word(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "pride prejudise"}).json()
    assert body["total"] == 0
    assert body["did_you_mean"]["q"] == "pride prejudice"
    corrected = client.get("/api/v1/search", params={"q": "pride prejudice"}).json()
    assert body["did_you_mean"]["total"] == corrected["total"] > 3
    assert corrected["did_you_mean"] is None


def test_did_you_mean_offers_the_characters_of_the_same_sound(client: TestClient) -> None:
    # 孟 for 梦: the same syllable, as a pinyin input method offers it
    body = client.get("/api/v1/search", params={"q": "红楼孟之谜"}).json()
    assert body["total"] == 0
    assert body["did_you_mean"] == {"q": "红楼梦之谜", "total": 1}
    # the same in Traditional characters
    assert client.get("/api/v1/search", params={"q": "紅樓孟之謎"}).json()["did_you_mean"]["q"] == "红楼梦之谜"


def test_the_results_page_links_the_suggestion(client: TestClient) -> None:
    page = client.get("/search", params={"q": "pride prejudise"})
    assert page.status_code == 200
    assert 'class="did-you-mean"' in page.text
    assert "/search?q=pride+prejudice" in page.text


def test_a_live_index_of_mapping_v3_takes_the_new_documents_after_an_upgrade(services, refresh) -> None:  # type: ignore[no-untyped-def]
    """An upgrade to mapping v4 before `unicat reindex`: the search box answers (no completion
    field of v4 in the index was a 503), and the v3 index behind the alias gets the new fields,
    so new records are indexed (a strict v3 mapping refused them whole) and complete."""
    body = json.loads((MAPPINGS_DIR / "records-v3.json").read_text())
    body.pop("_comment")
    alias = services.settings.records_alias
    old = create_index(services.es, alias, IndexSpec(3, body))
    services.es.indices.update_aliases(actions=[{"add": {"index": old, "alias": alias, "is_write_index": True}}])
    with TestClient(create_app(services.settings, services=services)) as http:
        assert completions(http, "hongl") == []
        report = ingest(services, "nlc", as_harvested(read_marc(HONGLOU)))
        refresh()
        assert report.indexed == 4 and report.index_failed == 0
        assert alias_targets(services.es, alias) == [old]
        assert "suggest_title" in services.es.indices.get_mapping(index=old)[old]["mappings"]["properties"]
        assert "红楼梦之谜" in completions(http, "hongl")
        state = http.get("/api/v1/store-state", headers=admin_headers(services)).json()
        assert (state["index_mapping"], state["latest_mapping"], state["index_stale"]) == (3, 4, True)
