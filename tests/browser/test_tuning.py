"""Relevance tuning in a real browser: an administrator types a synonym set that chains into
another and sees why beside the field, fixes it, uploads a judged set and reads the live and the
candidate figures side by side, applies the candidate and rolls it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog.search import live_profile
from ill.auth import create_account
from tests.admin.test_tuning import build_catalogue, judged_files

pytestmark = pytest.mark.browser
PASSWORD = "console password"


def test_administrator_tunes_measures_applies_and_rolls_back(services, live_server, new_page, shot,
                                                             tmp_path: Path):
    qrels = build_catalogue(services)
    create_account(services, member_code="nlc", username="boss", password=PASSWORD, kind="admin")
    files: dict[str, Path] = {}
    for field, (name, blob) in judged_files(qrels).items():
        files[field] = tmp_path / name
        files[field].write_bytes(blob)
    base = live_server(services)
    page: Any = new_page("en-US")
    page.goto(f"{base}/admin/tuning")
    page.wait_for_url(lambda url: "/ill/login" in url)
    page.locator("#member").select_option("nlc")
    page.locator("#username").fill("boss")
    page.locator("#password").fill(PASSWORD)
    page.locator("form.ill-form button[type=submit]").click()
    page.wait_for_url(f"{base}/admin/tuning")
    assert page.locator("#live-profile").inner_text() == "default-v1"

    page.locator("#synonyms").fill("电脑, 计算机\n计算机, computer")
    page.locator("#save-candidate").click()
    page.wait_for_load_state()
    assert "already in the set of line 1" in page.locator("#error-synonyms").inner_text()
    assert page.locator("#synonyms").input_value() == "电脑, 计算机\n计算机, computer", "kept as typed"
    shot(page, "tuning-synonym-loop")

    page.locator("#synonyms").fill("电脑, 计算机, computer\nausten, 奥斯汀")
    page.locator("#boosts").fill("title = 0.5\nauthor = 6\nsubject = 2\nseries = 1\npublisher = 1\nall = 2")
    page.locator("#save-candidate").click()
    page.wait_for_load_state()
    assert page.locator("#candidate-profile").inner_text() == "default-v2"

    page.locator("#queries").set_input_files(str(files["queries"]))
    page.locator("#qrels").set_input_files(str(files["qrels"]))
    page.locator("#evaluate").click()
    page.wait_for_load_state()
    for label in ("live", "candidate"):
        cells = page.locator(f'#means tr[data-profile="{label}"] td')
        assert cells.count() == 3
        assert all(0.0 <= float(c) <= 1.0 for c in cells.all_inner_texts())
    assert page.locator("#per-query tbody tr").count() == len(qrels)
    shot(page, "tuning-measured")

    page.locator("#apply").click()
    page.wait_for_load_state()
    assert page.locator("#live-profile").inner_text() == "default-v2"
    assert live_profile(services).label == "default-v2"
    page.locator("#rollback").click()
    page.wait_for_load_state()
    assert page.locator("#live-profile").inner_text() == "default-v1"
    assert "Rolled back" in page.locator("#notice").inner_text()
