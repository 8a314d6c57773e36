"""Cataloguers' tools in the console: the staff view shows each source record as MARC (tags,
indicators, subfields); a split needs a reason, is kept across reclustering and listed with the
record; a merge joins them again; a cataloguer decides only about their own member's records and
sees only the duplicates their member is part of."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from admin import audit
from catalog.maintenance import rebuild_index
from catalog.pipeline import ingest
from catalog.records import find_by_source
from tests.admin.helpers import account, csrf_of, sign_in
from tests.core.helpers import DEMO, as_harvested, read_marc
from unicat.app import create_app

EDITION_ISBN = "0192802380"  # Oxford World's Classics 2004: catalogued by PKU and SJTU


def _edition(member: str) -> Any:
    records = read_marc(DEMO / member / "pride-and-prejudice.mrc")
    return next(r for r in records if any(EDITION_ISBN in (f.get("a") or "") for f in r.get_fields("020")))


def _one_union_record(services) -> tuple[str, str, str]:  # noqa: ANN001
    pku, sjtu = as_harvested([_edition("pku")]), as_harvested([_edition("sjtu")])
    ingest(services, "pku", pku)
    ingest(services, "sjtu", sjtu)
    union_id = find_by_source(services, "pku", pku[0].local_id)["id"]
    assert find_by_source(services, "sjtu", sjtu[0].local_id)["id"] == union_id
    return union_id, f"pku:{pku[0].local_id}", f"sjtu:{sjtu[0].local_id}"


def test_split_with_a_reason_from_the_staff_view_survives_reclustering(services):
    union_id, a, b = _one_union_record(services)
    account(services, "nlc", "boss", "admin")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "nlc", "boss")
        view = http.get(f"/admin/records/{union_id}")
        assert view.status_code == 200
        section = view.text.split(f'data-source="{a}"')[1].split("</section>")[0]
        assert "<th>LDR</th>" in section and "<th>245</th>" in section
        assert "<b>$a</b> Pride and prejudice" in section, "subfields with their codes"
        assert '<td class="ind">1#</td>' in section or '<td class="ind">10</td>' in section, "indicators shown"

        token = csrf_of(view.text)
        unreasoned = http.post(f"/admin/records/{union_id}/split", data={"a": a, "b": b, "reason": " ",
                                                                         "csrf_token": token})
        assert unreasoned.status_code == 422 and "give the reason" in unreasoned.text
        assert find_by_source(services, "sjtu", b.split(":")[1])["id"] == union_id, "nothing changed"

        done = http.post(f"/admin/records/{union_id}/split", follow_redirects=False,
                         data={"a": a, "b": b, "reason": "different printings (2004 vs 2008 reissue)",
                               "csrf_token": token})
        assert done.status_code == 303
        apart = {find_by_source(services, m, lid)["id"] for m, lid in (a.split(":"), b.split(":"))}
        assert len(apart) == 2
        rebuild_index(services, recluster=True)
        assert len({find_by_source(services, m, lid)["id"] for m, lid in (a.split(":"), b.split(":"))}) == 2
        listed = http.get(done.headers["location"]).text
        assert "different printings (2004 vs 2008 reissue)" in listed and "admin:nlc:boss" in listed


        two = as_harvested(read_marc(DEMO / "calis-lc-chinese.mrc", limit=2))
        ingest(services, "nlc", two)
        first, second = (find_by_source(services, "nlc", r.local_id)["id"] for r in two)
        assert first != second
        refs = [f"nlc:{r.local_id}" for r in two]
        merged = http.post(f"/admin/records/{first}/merge", follow_redirects=False,
                           data={"a": refs[0], "b": refs[1], "reason": "one work, two records", "csrf_token": token})
        assert merged.status_code == 303
    assert len({find_by_source(services, "nlc", r.local_id)["id"] for r in two}) == 1
    assert [e["action"] for e in audit.entries(services)] == ["cluster.merge", "cluster.split"]


def test_cataloguers_decide_about_their_own_records_only(services):
    union_id, a, b = _one_union_record(services)
    account(services, "bnu", "bnu-cat", "cataloguer")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "bnu", "bnu-cat")
        duplicates = http.get("/admin/duplicates").text
        assert f'data-union="{union_id}"' not in duplicates, "BNU holds no record of it"
        token = csrf_of(http.get(f"/admin/records/{union_id}").text)
        refused = http.post(f"/admin/records/{union_id}/split", data={"a": a, "b": b, "reason": "mine?",
                                                                      "csrf_token": token})
        assert refused.status_code == 403
    account(services, "pku", "pku-cat", "cataloguer")
    with TestClient(create_app(services.settings, services=services)) as http:
        sign_in(http, "pku", "pku-cat")
        assert f'data-union="{union_id}"' in http.get("/admin/duplicates").text
