"""Union ids: never shared by two works, kept alive by redirects when merged away, and cataloguers'
merge decisions that hold through reclustering. Real records, the real store and index."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from catalog.maintenance import rebuild_index
from catalog.pipeline import ingest
from catalog.records import find_by_source, get_record
from catalog.search import SearchQuery, search
from indexer.clusterstore import _candidate
from store.db import transaction
from store.models import Cluster, UnionRedirect
from tests.core.helpers import DEMO, as_harvested, isbn13, read_marc, run_cli, variant
from unicat.app import create_app

UVA = DEMO / "pku" / "uva-sirsi.mrc.gz"
ISBN_X, ISBN_Y, ISBN_Z = isbn13("978711100001"), isbn13("978711100002"), isbn13("978711100003")


@pytest.fixture(scope="module")
def base():  # type: ignore[no-untyped-def]
    return read_marc(UVA, limit=1)[0]


def put(services, member: str, local_id: str, base, isbn: str, title: str) -> None:  # type: ignore[no-untyped-def]
    """The member sends (or re-sends, edited) its record of a work."""
    ingest(services, member, as_harvested([variant(base, local_id, isbns=[isbn], title=title)]))


def union_of(services, member: str, local_id: str) -> str:  # type: ignore[no-untyped-def]
    found = find_by_source(services, member, local_id)
    assert found is not None, f"{member}:{local_id} has no union record"
    return str(found["id"])


def test_a_new_group_never_takes_the_id_of_an_unrelated_union_record(services, base):
    """A leaves its union record twice: the second time, the id its first departure minted
    belongs to another work (D's); A must get an id of its own, not join D's union record."""
    for member in ("bnu", "pku", "sjtu"):
        put(services, member, f"{member}-1", base, ISBN_X, "Concerning the first work")
    shared = union_of(services, "bnu", "bnu-1")
    put(services, "bnu", "bnu-1", base, ISBN_Y, "A second work altogether")  # A edited: leaves
    second_id = union_of(services, "bnu", "bnu-1")
    assert second_id == _candidate(("bnu", "bnu-1"), 1)  # the first candidate was taken by the others
    put(services, "nlc", "nlc-1", base, ISBN_Y, "A second work altogether")  # D joins A there
    put(services, "bnu", "bnu-1", base, ISBN_X, "Concerning the first work")  # A edited back
    assert union_of(services, "bnu", "bnu-1") == shared and union_of(services, "nlc", "nlc-1") == second_id
    put(services, "bnu", "bnu-1", base, ISBN_Z, "A third work, unlike both")  # A leaves again

    a, d = union_of(services, "bnu", "bnu-1"), union_of(services, "nlc", "nlc-1")
    assert a != d, "two different works must never share a union record"
    assert d == second_id, "D keeps its union id"
    assert [(s["member"], s["local_id"]) for s in get_record(services, d)["sources"]] == [("nlc", "nlc-1")]
    assert [(s["member"], s["local_id"]) for s in get_record(services, a)["sources"]] == [("bnu", "bnu-1")]
    with services.db() as session:
        assert session.get(Cluster, d).size == 1 and session.get(Cluster, a).size == 1


@pytest.fixture
def http(services):  # type: ignore[no-untyped-def]
    with TestClient(create_app(services.settings, services=services), follow_redirects=False) as client:
        yield client


def _second_local_id(first: tuple[str, str], member: str) -> str:
    """A local id whose first union-id candidate sorts after ``first``'s, so that ``first`` keeps
    its id when the two merge (the recipe keeps the smaller id on a tie)."""
    mine = _candidate(first, 0)
    return next(f"{member}-{n}" for n in range(100) if _candidate((member, f"{member}-{n}"), 0) > mine)


def test_a_union_id_merged_away_answers_301_to_the_record_it_joined(services, http, base):
    put(services, "bnu", "bnu-1", base, ISBN_X, "Concerning the first work")
    b = _second_local_id(("bnu", "bnu-1"), "pku")
    put(services, "pku", b, base, ISBN_Y, "Another title for another work")
    kept, lost = union_of(services, "bnu", "bnu-1"), union_of(services, "pku", b)
    assert kept != lost
    put(services, "pku", b, base, ISBN_X, "Concerning the first work")  # corrected: the same book
    assert union_of(services, "pku", b) == kept
    assert http.get(f"/api/v1/records/{kept}").status_code == 200

    moved = http.get(f"/api/v1/records/{lost}", params={"marcxml": "false"})
    assert moved.status_code == 301 and moved.headers["location"] == f"/api/v1/records/{kept}?marcxml=false"
    sub = http.get(f"/api/v1/records/{lost}/availability")
    assert sub.status_code == 301 and sub.headers["location"] == f"/api/v1/records/{kept}/availability"
    page = http.get(f"/records/{lost}")
    assert page.status_code == 301 and page.headers["location"] == f"/records/{kept}"
    followed = http.get(f"/api/v1/records/{lost}", follow_redirects=True)
    assert followed.status_code == 200 and followed.json()["id"] == kept
    from ill import sources  # an ILL request placed from an old link goes to the record it joined

    assert sources.get_record(services, lost)["id"] == kept
    missing = http.get("/api/v1/records/u000000000000000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    # the record it joined is merged away in turn: the old link goes straight to the survivor
    for member, local_id in (("nlc", "nlc-1"), ("sjtu", "sjtu-1"), ("sjtu", "sjtu-2")):
        put(services, member, local_id, base, ISBN_Z, "A larger union record")
    larger = union_of(services, "nlc", "nlc-1")
    put(services, "pku", b, base, ISBN_Z, "A larger union record")
    put(services, "bnu", "bnu-1", base, ISBN_Z, "A larger union record")
    assert union_of(services, "bnu", "bnu-1") == larger
    for old in (kept, lost):
        answer = http.get(f"/api/v1/records/{old}")
        assert answer.status_code == 301 and answer.headers["location"] == f"/api/v1/records/{larger}"


def test_a_split_that_brings_an_id_back_removes_its_redirect(services, http, base):
    put(services, "bnu", "bnu-1", base, ISBN_X, "Concerning the first work")
    b = _second_local_id(("bnu", "bnu-1"), "pku")
    put(services, "pku", b, base, ISBN_Y, "Another title for another work")
    kept, lost = union_of(services, "bnu", "bnu-1"), union_of(services, "pku", b)
    put(services, "pku", b, base, ISBN_X, "Concerning the first work")
    assert http.get(f"/records/{lost}").status_code == 301
    put(services, "pku", b, base, ISBN_Y, "Another title for another work")  # apart again
    assert union_of(services, "pku", b) == lost and union_of(services, "bnu", "bnu-1") == kept
    assert http.get(f"/api/v1/records/{lost}").status_code == 200
    page = http.get(f"/records/{lost}")
    assert page.status_code == 200 and f"/records/{lost}" in page.text
    with services.db() as session:
        assert session.get(UnionRedirect, lost) is None


def test_redirects_left_in_a_loop_are_not_followed_round_it(services, http):
    with transaction(services.db) as session:  # a store damaged by hand or by older code
        session.add_all([UnionRedirect(old_id="u" + "a" * 15, target_id="u" + "b" * 15),
                         UnionRedirect(old_id="u" + "b" * 15, target_id="u" + "a" * 15)])  # fmt: skip
    answer = http.get("/api/v1/records/u" + "a" * 15)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_every_record_page_shows_its_permalink(services, http, base):
    put(services, "bnu", "bnu-1", base, ISBN_X, "Concerning the first work")
    uid = union_of(services, "bnu", "bnu-1")
    page = http.get(f"/records/{uid}")
    link = f"http://testserver/records/{uid}"
    assert page.status_code == 200
    assert f'<a rel="bookmark" href="{link}">{link}</a>' in page.text
    assert f'<link rel="canonical" href="{link}">' in page.text
    zh = http.get(f"/records/{uid}", params={"lang": "zh_Hans"})
    assert "永久链接" in zh.text


def test_a_cataloguers_merge_holds_and_survives_reclustering(services, base):
    """Two records of one book that the matcher keeps apart (their ISBNs are disjoint and the
    titles differ) are merged by a cataloguer; the decision survives a recluster from scratch,
    a later edit of one of them, and the duplicates report shows one union record."""
    put(services, "pku", "pku-1", base, ISBN_X, "Concerning the first work")
    put(services, "sjtu", "sjtu-9", base, ISBN_Y, "Concerning the first work : a reprint")
    assert union_of(services, "pku", "pku-1") != union_of(services, "sjtu", "sjtu-9")
    merged = run_cli(services, "cluster", "merge", "pku:pku-1", "sjtu:sjtu-9", "--note", "same book, reprint")
    assert merged.returncode == 0, merged.stderr
    uid = union_of(services, "pku", "pku-1")
    assert union_of(services, "sjtu", "sjtu-9") == uid and uid in merged.stdout
    record = get_record(services, uid)
    assert {h["member"] for h in record["holdings"]} == {"pku", "sjtu"}

    reclustered = run_cli(services, "reindex", "--recluster")
    assert reclustered.returncode == 0, reclustered.stderr
    assert union_of(services, "pku", "pku-1") == union_of(services, "sjtu", "sjtu-9") == uid
    put(services, "sjtu", "sjtu-9", base, ISBN_Y, "Concerning the first work : a reprint, corrected")
    assert union_of(services, "sjtu", "sjtu-9") == union_of(services, "pku", "pku-1") == uid
    result = rebuild_index(services, recluster=True)
    assert result["failed"] == 0 and union_of(services, "sjtu", "sjtu-9") == uid
    services.es.indices.refresh(index=services.settings.records_alias)
    hits = search(services, SearchQuery(isbn=ISBN_Y))
    assert hits["total"] == 1 and hits["hits"][0]["id"] == uid and hits["hits"][0]["holdings_count"] == 2
    with services.db() as session:
        assert session.scalars(select(Cluster.id)).all() == [uid]
