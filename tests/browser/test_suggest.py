"""The search box's suggestions in a real browser: typing shows them, the keyboard picks one, Enter searches."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from catalog.context import Services
from catalog.pipeline import ingest
from tests.browser.conftest import refresh
from tests.core.helpers import DEMO, RECORDS, as_harvested, read_marc

pytestmark = pytest.mark.browser


@pytest.fixture
def site(services: Services, live_server: Any) -> str:
    ingest(services, "pku", as_harvested(read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=30)))
    ingest(services, "nlc", as_harvested(read_marc(RECORDS / "marc21-lc-chinese-honglou.mrc")))
    refresh(services)
    return live_server(services)


def searched_for(page: Any) -> str:
    return parse_qs(urlparse(page.url).query)["q"][0]


def test_typing_pinyin_shows_han_titles_and_the_keyboard_picks_one(site: str, new_page: Any, shot: Any) -> None:
    page = new_page("zh-CN")
    page.goto(site + "/?lang=zh_Hans")
    box = page.locator("#home-q")
    assert box.get_attribute("role") == "combobox"
    assert box.get_attribute("aria-expanded") == "false"
    box.press_sequentially("hongl", delay=40)
    listbox = page.locator(f"#{box.get_attribute('aria-controls')}")
    listbox.locator("[role=option]").first.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    options = listbox.locator("[role=option] .text").all_inner_texts()
    assert "红楼梦之谜" in options
    assert "题名" in listbox.inner_text()  # kinds are labelled in the page's language
    shot(page, "suggest-01-pinyin")

    target = options.index("红楼梦之谜")
    for _ in range(target + 1):
        box.press("ArrowDown")
    chosen = listbox.locator("[role=option]").nth(target)
    assert chosen.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == chosen.get_attribute("id")
    box.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert searched_for(page) == "红楼梦之谜"
    assert page.locator("li.hit h3").first.inner_text().startswith("红楼梦之谜")
    assert page.js_errors == []


def test_enter_without_a_pick_searches_what_was_typed(site: str, new_page: Any) -> None:
    page = new_page("en-US")
    page.goto(site + "/search?q=austen")
    box = page.locator("#q")
    box.fill("")
    box.press_sequentially("pride and pre", delay=30)
    page.locator("#" + box.get_attribute("aria-controls") + " [role=option]").first.wait_for()
    first = page.locator("#" + box.get_attribute("aria-controls") + " [role=option] .text").first.inner_text()
    assert first.lower().startswith("pride and prejudice")
    box.press("Escape")
    assert box.get_attribute("aria-expanded") == "false"
    box.press("Enter")
    page.wait_for_url("**/search?q=pride+and+pre")
    assert searched_for(page) == "pride and pre"
    assert page.js_errors == []


def test_the_box_works_without_javascript(site: str, chromium: Any) -> None:
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site + "/")
        assert page.locator("#home-q").get_attribute("role") is None  # a plain search field
        page.locator("#home-q").fill("红楼")
        page.locator("#home-q").press("Enter")
        page.wait_for_url("**/search?q=*")
        assert page.locator("li.hit").count() >= 1
    finally:
        context.close()
