"""Discovery in a real browser: search box, highlights, facets, record page by region, languages, errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from catalog.context import Services
from catalog.pipeline import ingest
from catalog.records import get_record
from catalog.search import SearchQuery, search
from tests.browser.conftest import refresh
from tests.core.helpers import DEMO, as_harvested, read_marc, variant

pytestmark = pytest.mark.browser

SHARED_ISBN = "0192802380"  # a Pride and Prejudice edition both PKU and SJTU catalogued


@pytest.fixture
def catalogue(services: Services, live_server: Any) -> dict[str, Any]:
    """PKU's and SJTU's real Pride and Prejudice records, BNU's copy of one edition, NLC's Chinese LC records."""
    pku = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc")
    ingest(services, "pku", as_harvested(pku))
    ingest(services, "sjtu", as_harvested(read_marc(DEMO / "sjtu" / "pride-and-prejudice.mrc")))
    ingest(services, "bnu", as_harvested([variant(_edition(DEMO / "pku" / "pride-and-prejudice.mrc"), "bnu-pp-1")]))
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=40)))
    refresh(services)
    return {"url": live_server(services), "services": services}


@pytest.fixture
def edition(services: Services, live_server: Any) -> dict[str, Any]:
    """Just one edition, held by PKU, SJTU and BNU (a small catalogue for the quicker tests)."""
    for member, path in (
        ("pku", DEMO / "pku" / "pride-and-prejudice.mrc"),
        ("sjtu", DEMO / "sjtu" / "pride-and-prejudice.mrc"),
    ):
        record = _edition(path)
        ingest(services, member, as_harvested([record]))
    ingest(services, "bnu", as_harvested([variant(record, "bnu-pp-1")]))
    refresh(services)
    return {"url": live_server(services), "services": services}


def _edition(path: Any) -> Any:
    return next(r for r in read_marc(path) if any(SHARED_ISBN in (f.get("a") or "") for f in r.get_fields("020")))


def results_total(page: Any) -> int:
    text = page.locator("#total").inner_text()
    match = re.search(r"\d[\d,]*", text)
    assert match, f"no result count in {text!r}"
    return int(match.group().replace(",", ""))


def test_search_highlights_facets_and_record_holdings_by_region(
    catalogue: dict[str, Any], new_page: Any, shot: Any
) -> None:
    services: Services = catalogue["services"]
    page = new_page("en-US")
    page.goto(catalogue["url"] + "/")
    assert page.locator("h1").inner_text() == "One search across every member library"
    assert "from 4 member libraries" in page.locator("p.stats").inner_text()
    shot(page, "discovery-01-home")

    # Search from the home page's box, as a user types it.
    page.locator("#home-q").fill("pride prejudice")
    page.locator("#home-q").press("Enter")
    page.wait_for_url("**/search?q=pride+prejudice")
    expected = search(services, SearchQuery(q="pride prejudice"))
    assert results_total(page) == expected["total"] > 20
    hits = page.locator("li.hit")
    assert hits.count() == 20  # one page
    marks = {m.lower() for m in page.locator("li.hit h3 mark").all_inner_texts()}
    assert {"pride", "prejudice"} <= marks
    held = page.locator("li.hit .held-count").all_inner_texts()
    assert any(re.fullmatch(r"Held by [23] libraries", h) for h in held), held
    assert all(re.fullmatch(r"Held by \d+ librar(y|ies)", h) for h in held), held

    # Facets with counts; choosing a library narrows the results to exactly its count.
    member_facet = page.locator("section.facet[data-facet=member]")
    facet_counts = {}
    for item in member_facet.locator("li").all():
        facet_counts[item.locator("a").inner_text().strip()] = int(item.locator(".count").inner_text())
    assert set(facet_counts) >= {"Peking University Library", "Shanghai Jiao Tong University Library"}
    region_facet = page.locator("section.facet[data-facet=region]").inner_text()
    assert "North China" in region_facet and "East China" in region_facet, "regions by the members file's names"
    shot(page, "discovery-02-results")

    sjtu_count = facet_counts["Shanghai Jiao Tong University Library"]
    assert 0 < sjtu_count < results_total(page)
    member_facet.get_by_role("link", name="Shanghai Jiao Tong University Library").click()
    page.wait_for_url(re.compile(r"member=sjtu"))
    assert results_total(page) == sjtu_count
    assert page.locator("p.active-filters .chip").inner_text().startswith("Shanghai Jiao Tong University Library")
    assert page.locator("section.facet[data-facet=member] li.active a").inner_text().strip() == (
        "Shanghai Jiao Tong University Library"
    )
    shot(page, "discovery-03-results-member-facet")

    # Follow the hit three libraries hold: the record page groups them by region.
    page.locator("li.hit", has_text="Held by 3 libraries").first.locator("h3 a").click()
    page.wait_for_url(re.compile(r"/records/u[0-9a-f]+$"))
    union_id = page.url.rsplit("/", 1)[-1]
    record = get_record(services, union_id)
    assert record is not None and {h["member"] for h in record["holdings"]} == {"pku", "bnu", "sjtu"}
    assert page.locator("h1").inner_text().startswith(record["title"])
    assert page.locator("#holdings-h").inner_text() == "Held by 3 libraries"
    north = page.locator("section.region[data-region=north]")
    east = page.locator("section.region[data-region=east]")
    assert north.locator("h3 .count").inner_text() == "2"
    assert north.locator("h3").inner_text().startswith("Region: North China")
    assert set(north.locator("tbody td:first-child").all_inner_texts()) == {
        "Peking University Library",
        "Beijing Normal University Library",
    }
    assert east.locator("tbody td:first-child").all_inner_texts() == ["Shanghai Jiao Tong University Library"]
    assert "9780192802385" in page.locator("dl.fields").inner_text()
    request_link = page.get_by_role("link", name="Request this item (interlibrary loan or copy)")
    assert request_link.get_attribute("href") == f"/ill/request?union_id={union_id}"
    live = page.locator("#availability tbody tr[data-member]")
    live.nth(2).wait_for()
    assert sorted(live.locator("th").all_inner_texts()) == [
        "Beijing Normal University Library",
        "Peking University Library",
        "Shanghai Jiao Tong University Library",
    ]
    shot(page, "discovery-04-record")
    assert page.js_errors == []


def test_traditional_query_finds_simplified_records(
    services: Services, live_server: Any, new_page: Any, shot: Any
) -> None:
    ingest(services, "nlc", as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=40)))
    refresh(services)
    page = new_page("en-US")
    page.goto(live_server(services) + "/")
    page.locator("header #q").fill("當代中國文藝理論")  # Traditional characters
    page.locator("header form.searchbox button").click()
    page.wait_for_url("**/search?q=*")
    assert results_total(page) >= 1
    first = page.locator("li.hit").first
    assert first.locator("h3 a").inner_text().startswith("当代中国文艺理论史")  # found in Simplified
    assert first.locator("h3 mark").first.inner_text() == "当代中国文艺理论"
    assert first.locator(".held-count").inner_text() == "Held by 1 library"
    assert "National Library" in first.locator("p.held").inner_text()
    shot(page, "discovery-05-results-traditional-query")


def test_language_switch_changes_the_interface(edition: dict[str, Any], new_page: Any, shot: Any) -> None:
    page = new_page("en-US")
    page.goto(edition["url"] + "/search?q=pride+prejudice")
    total = results_total(page)
    assert page.locator("header form.searchbox button").inner_text() == "Search"
    assert page.locator("#total").inner_text() == f"{total} result{'' if total == 1 else 's'}"
    shot(page, "discovery-06-results-english")

    page.get_by_role("link", name="简体中文").click()
    page.wait_for_url(re.compile(r"lang=zh_Hans"))
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.locator("header form.searchbox button").inner_text() == "检索"
    assert page.locator("#total").inner_text() == f"共 {total} 条结果"
    assert page.locator("header #q").input_value() == "pride prejudice"  # the query survives the switch
    assert "图书馆收藏" in page.locator("li.hit .held-count").first.inner_text()
    assert "北京大学图书馆" in page.locator("section.facet[data-facet=member]").inner_text()
    shot(page, "discovery-07-results-chinese")

    page.goto(edition["url"] + "/")  # the choice is remembered without ?lang=
    assert page.locator("h1").inner_text() == "一站式检索全部成员馆馆藏"
    shot(page, "discovery-08-home-chinese")

    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(r"lang=en"))
    assert page.locator("h1").inner_text() == "One search across every member library"
    assert page.locator("header form.searchbox button").inner_text() == "Search"


ERRORS = [  # path, status, heading, part of the message, screenshot name
    ("/search?isbn=123", 400, "The request could not be understood", "123", "bad-isbn"),
    ("/records/unknown", 404, "Not found", "unknown", "unknown-record"),
    ("/search?page=0", 400, "The request could not be understood", "page", "bad-page"),
]


def test_bad_input_shows_a_readable_error_page(services: Services, live_server: Any, new_page: Any, shot: Any) -> None:
    url = live_server(services)
    page = new_page("en-US")
    for path, status, heading, detail, name in ERRORS:
        response = page.goto(url + path)
        assert response is not None and response.status == status, path
        assert response.headers["content-type"].startswith("text/html"), path
        alert = page.get_by_role("alert")
        assert alert.locator("h1").inner_text() == heading, path
        assert detail in alert.locator("p").first.inner_text(), path
        body = page.locator("body").inner_text()
        assert "Traceback" not in body and not body.lstrip().startswith("{"), path
        assert page.get_by_role("link", name="Back to the search page").get_attribute("href") == "/"
        assert page.locator("header form.searchbox").is_visible()  # the user can search again from here
        shot(page, f"discovery-error-{status}-{name}")


def test_record_page_shows_copy_counts(edition: dict[str, Any], new_page: Any) -> None:
    union_id = search(edition["services"], SearchQuery(isbn=SHARED_ISBN))["hits"][0]["id"]
    page = new_page("en-US")
    page.goto(f"{edition['url']}/records/{union_id}")
    copies = page.locator("table.holdings-table tbody td:nth-child(4)").all_inner_texts()
    assert len(copies) == 3 and all(c.strip().isdigit() for c in copies), copies
