"""Interlibrary loan in a real browser, end to end, over union records ingested through the real pipeline.

A reader of BNU (north) asks for a Pride and Prejudice edition held by PKU (north) and SJTU (east), not
by BNU. The rota asks PKU first (same region); PKU's lending desk cannot supply, the request moves on to
SJTU, whose desk lends it; the reader sees each state and the history. A copy request is delivered as a
PDF. Forms without the session's CSRF token are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from catalog.context import Services
from catalog.pipeline import ingest
from ill.auth import create_account
from tests.browser.conftest import refresh
from tests.core.helpers import DEMO, as_harvested, read_marc

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
EDITION_ISBN = "0192802380"  # Oxford World's Classics 2004: catalogued by PKU and SJTU


def _edition(path: Path) -> Any:
    return next(r for r in read_marc(path) if any(EDITION_ISBN in (f.get("a") or "") for f in r.get_fields("020")))


@pytest.fixture
def consortium(services: Services, live_server: Any) -> dict[str, Any]:
    ingest(services, "pku", as_harvested([_edition(DEMO / "pku" / "pride-and-prejudice.mrc")]))
    ingest(services, "sjtu", as_harvested([_edition(DEMO / "sjtu" / "pride-and-prejudice.mrc")]))
    refresh(services)
    from catalog.search import SearchQuery, search

    hits = search(services, SearchQuery(isbn=EDITION_ISBN))["hits"]
    assert len(hits) == 1 and {m["code"] for m in hits[0]["members"]} == {"pku", "sjtu"}, hits
    for member, username, kind, desks in (
        ("bnu", "reader", "patron", []),
        ("pku", "pku-desk", "staff", ["lending"]),
        ("sjtu", "sjtu-desk", "staff", ["lending"]),
    ):
        create_account(
            services,
            member_code=member,
            username=username,
            password=PASSWORD,
            kind=kind,
            desks=desks,
            display_name=f"{username} ({member})",
        )
    return {"url": live_server(services), "union_id": hits[0]["id"], "services": services}


def sign_in(page: Any, member: str, username: str) -> None:
    assert "/ill/login" in page.url
    page.locator("#member").select_option(member)
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/ill/login" not in url)


def history(page: Any) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("ol.ill-history li").all_inner_texts()]


def act(page: Any, action: str, message: str = "", reason: str | None = None) -> None:
    form = page.locator("form", has=page.locator(f"button[data-action={action}]"))
    if reason:
        form.locator("select[name=reason]").select_option(reason)
    if message:
        form.locator("input[name=message]").fill(message)
    form.locator(f"button[data-action={action}]").click()
    page.wait_for_load_state()


def desk_row(page: Any, base: str, request_id: str) -> Any:
    page.get_by_role("link", name="Lending desk").click()
    page.wait_for_url(f"{base}/ill/desk/lending")
    return page.locator(f"table.ill-queue tr[data-id='{request_id}']")


def test_loan_request_moves_down_the_rota_and_the_reader_follows_it(
    consortium: dict[str, Any], new_page: Any, shot: Any
) -> None:
    base, union_id = consortium["url"], consortium["union_id"]
    reader = new_page("en-US")
    reader.goto(f"{base}/records/{union_id}")
    assert reader.locator("#holdings-h").inner_text() == "Held by 2 libraries"
    reader.get_by_role("link", name="Request this item (interlibrary loan or copy)").click()
    reader.wait_for_url(re.compile(r"/ill/login\?next="))
    shot(reader, "ill-01-sign-in")
    sign_in(reader, "bnu", "reader")
    assert reader.url == f"{base}/ill/request?union_id={union_id}"
    assert reader.locator(".who").inner_text() == "reader (bnu) · bnu"
    assert reader.locator("p.ill-record strong").inner_text() == "Pride and prejudice"
    assert reader.locator("#submit-request").count() == 0  # the estimate comes first

    reader.get_by_role("button", name="Show estimated fee").click()
    reader.wait_for_load_state()
    assert reader.locator("#estimate").inner_text() == "CNY 10.00"
    assert "Libraries that will be asked: 2" in reader.locator("section.ill-estimate").inner_text()
    shot(reader, "ill-02-fee-estimate")
    reader.locator("#note").fill("For my thesis chapter on Austen")
    reader.locator("#submit-request").click()
    reader.wait_for_url(re.compile(r"/ill/requests/\d+$"))
    request_id = reader.url.rsplit("/", 1)[-1]
    assert reader.locator("#state").inner_text() == "sent"
    assert reader.locator("dl.ill-facts").inner_text().count("pku") == 1  # asked first: same region
    assert reader.locator("button[data-action=cancel]").count() == 1
    shot(reader, "ill-03-request-sent")
    spoof = reader.goto(f"{base}/ill/requests/{request_id}?error=Pay+the+fee+at+evil.example")
    assert spoof is not None and spoof.status == 200  # a link cannot put its words on the page
    assert "evil.example" not in reader.locator("main").inner_text()

    reader.get_by_role("link", name="My requests").click()
    mine = reader.locator(f"article.ill-req:has(a[href='/ill/requests/{request_id}'])")
    assert mine.get_attribute("data-state") == "sent"
    assert mine.locator("h2").inner_text() == f"#{request_id} Pride and prejudice"
    assert "loan · sent · pku" in " ".join(mine.locator("p").first.inner_text().split())
    shot(reader, "ill-04-my-requests")

    # PKU's lending desk: the request is in its queue; it cannot supply it.
    pku = new_page("en-US")
    pku.goto(f"{base}/ill/login")
    sign_in(pku, "pku", "pku-desk")
    row = desk_row(pku, base, request_id)
    assert [c.strip() for c in row.locator("td").all_inner_texts()[1:6]] == [
        "Pride and prejudice",
        "loan",
        "sent",
        "bnu",
        "pku",
    ]
    shot(pku, "ill-05-pku-lending-queue")
    row.get_by_role("link", name=request_id).click()
    rota = pku.locator("table.ill-rota tbody tr")
    assert [r.locator("td").nth(1).inner_text() for r in rota.all()] == ["pku", "sjtu"]
    assert "same region" in rota.nth(0).inner_text() and "other region" in rota.nth(1).inner_text()
    shot(pku, "ill-06-pku-request-detail")
    act(pku, "unfilled", "Our copy is at the bindery", reason="NotOnShelf")
    assert pku.locator("#state").inner_text() == "sent"
    assert "sjtu" in pku.locator("dl.ill-facts").inner_text()
    assert "unfilled (NotOnShelf)" in pku.locator("table.ill-rota tbody tr").nth(0).inner_text()
    shot(pku, "ill-07-pku-unfilled-moved-on")

    # SJTU's lending desk now has it and lends it.
    sjtu = new_page("en-US")
    sjtu.goto(f"{base}/ill/login")
    sign_in(sjtu, "sjtu", "sjtu-desk")
    row = desk_row(sjtu, base, request_id)
    assert row.locator("td").nth(5).inner_text().strip() == "sjtu"
    row.get_by_role("link", name=request_id).click()
    act(sjtu, "will_supply", "On the shelf, sending today")
    assert sjtu.locator("#state").inner_text() == "will_supply"
    act(sjtu, "loaned", "Posted by courier")
    assert sjtu.locator("#state").inner_text() == "shipped"
    shot(sjtu, "ill-08-sjtu-loaned")

    # The reader sees the new state and the whole history.
    reader.goto(f"{base}/ill/requests/{request_id}")
    assert reader.locator("#state").inner_text() == "shipped"
    assert reader.locator("table.ill-rota").count() == 0  # the rota reasoning is for staff
    steps = history(reader)
    assert [re.sub(r"^\S+ \S+ ", "", s).split(":")[0] for s in steps] == [
        "submit",
        "route",
        "unfilled (Unfilled)",
        "will_supply (WillSupply)",
        "loaned (Loaned)",
    ]
    joined = "\n".join(steps)
    assert "Our copy is at the bindery" in joined and "Posted by courier" in joined
    assert "→ shipped · sjtu" in joined
    assert reader.locator("button[data-action=received]").count() == 1  # the reader can confirm receipt
    shot(reader, "ill-09-reader-sees-shipped")
    reader.get_by_role("link", name="My requests").click()
    assert (
        reader.locator(f"article.ill-req:has(a[href='/ill/requests/{request_id}'])").get_attribute("data-state")
        == "shipped"
    )
    for page in (reader, pku, sjtu):
        assert page.js_errors == []


def test_copy_request_is_delivered_as_a_pdf(
    consortium: dict[str, Any], new_page: Any, shot: Any, tmp_path: Path
) -> None:
    base, union_id = consortium["url"], consortium["union_id"]
    reader = new_page("en-US")
    reader.goto(f"{base}/ill/request?union_id={union_id}")
    sign_in(reader, "bnu", "reader")
    reader.get_by_label("Copy (article or chapter)").check()
    reader.locator("#pages").fill("12-30")
    reader.locator("#citation").fill("Introduction, pp. 12-30")
    reader.get_by_role("button", name="Show estimated fee").click()
    reader.wait_for_load_state()
    assert reader.locator("#estimate").inner_text() == "CNY 7.70"  # 2.00 + 19 pages × 0.30
    reader.locator("#submit-request").click()
    reader.wait_for_url(re.compile(r"/ill/requests/\d+$"))
    request_id = reader.url.rsplit("/", 1)[-1]
    assert "copy · 12-30" in reader.locator("dl.ill-facts").inner_text()

    pku = new_page("en-US")
    pku.goto(f"{base}/ill/requests/{request_id}")
    sign_in(pku, "pku", "pku-desk")
    assert pku.url == f"{base}/ill/requests/{request_id}"
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(pku.pdf())  # a real PDF, made by Chromium
    pku.locator("input[type=file][name=file]").set_input_files(str(scan))
    pku.locator("button[data-action=deliver]").click()
    pku.wait_for_load_state()
    assert pku.locator("#state").inner_text() == "copy_delivered"
    shot(pku, "ill-10-copy-delivered-by-pku")

    reader.reload()
    assert reader.locator("#state").inner_text() == "copy_delivered"
    link = reader.get_by_role("link", name="Open the delivered copy")
    copy = reader.request.get(base + link.get_attribute("href"))
    assert copy.status == 200 and copy.headers["content-type"] == "application/pdf"
    assert copy.body() == scan.read_bytes()
    shot(reader, "ill-11-reader-copy-ready")


def test_forms_without_the_csrf_token_are_refused(consortium: dict[str, Any], new_page: Any, shot: Any) -> None:
    base, union_id = consortium["url"], consortium["union_id"]
    reader = new_page("en-US")
    reader.goto(f"{base}/ill/request?union_id={union_id}")
    sign_in(reader, "bnu", "reader")
    token = reader.locator("form.ill-form input[name=csrf_token]").input_value()
    form = {"union_id": union_id, "service": "loan", "step": "submit"}
    for sent in ({}, {"csrf_token": "forged-" + token[7:]}):
        refused = reader.request.post(f"{base}/ill/request", form={**form, **sent}, max_redirects=0)
        assert refused.status == 403, refused.text()
        assert "CSRF check failed" in refused.text()
    refused = reader.request.post(f"{base}/ill/logout", form={}, max_redirects=0)
    assert refused.status == 403
    reader.goto(f"{base}/ill/my")  # still signed in, and nothing was requested
    assert reader.locator(".who").inner_text() == "reader (bnu) · bnu"
    assert reader.locator("article.ill-req").count() == 0
    assert "You have no interlibrary loan requests yet." in reader.locator("main").inner_text()
    shot(reader, "ill-12-csrf-refused-nothing-requested")
    beyond = reader.goto(f"{base}/ill/requests/{2**70}")  # an id no database row can have: a page, not a crash
    assert beyond is not None and beyond.status == 400
    assert reader.get_by_role("alert").locator("h1").inner_text() == "The request could not be understood"
    accepted = reader.request.post(f"{base}/ill/request", form={**form, "csrf_token": token, "step": "preview"})
    assert accepted.status == 200 and "CNY 10.00" in accepted.text()
