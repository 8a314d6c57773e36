"""Deduplication into union records, on real MARC 21 and CNMARC records, with the real index."""

from __future__ import annotations

import pymarc
from lxml import etree

from catalog.maintenance import rebuild_index
from catalog.pipeline import ingest
from catalog.quality import add_override, duplicates_report
from catalog.records import find_by_source, get_record
from catalog.search import SearchQuery, search
from harvesters.base import HarvestedRecord
from tests.core.helpers import DEMO, RECORDS, as_harvested, isbn13, read_marc, variant

CNMARC_ISBN = "9787503717444"  # '94中国发展报告, BNU's CNMARC record


def cnmarc_records() -> list[HarvestedRecord]:
    root = etree.parse(str(RECORDS / "cnmarc-bnu-alma.xml")).getroot()
    out = []
    for element in root.iter("{*}record"):
        local_id = element.xpath("./*[local-name()='controlfield'][@tag='001']")[0].text
        out.append(HarvestedRecord(local_id=local_id, raw=etree.tostring(element), encoding="xml", syntax="unimarc"))
    return out


def lc_chinese(n: int = 40):  # type: ignore[no-untyped-def]
    return read_marc(DEMO / "calis-lc-chinese.mrc", limit=n)


def union_of(services, member: str, local_id: str) -> str | None:  # type: ignore[no-untyped-def]
    found = find_by_source(services, member, local_id)
    return found["id"] if found else None


def test_same_isbn_in_marc21_and_cnmarc_members_merges(services, refresh):
    bnu = cnmarc_records()
    base = lc_chinese(1)[0]
    # PKU's MARC 21 record of the same book, with the ISBN-10 form of the number
    pku_copy = variant(
        base, "pku-1", isbns=["7-5037-1744-0"], title="'94中国发展报告", author="叶震", year="1994", pages="320页"
    )
    ingest(services, "bnu", bnu)
    ingest(services, "pku", as_harvested([pku_copy]))
    uid = union_of(services, "bnu", bnu[0].local_id)
    assert uid is not None and uid == union_of(services, "pku", "pku-1")
    record = get_record(services, uid)
    assert {h["member"] for h in record["holdings"]} == {"bnu", "pku"}
    assert CNMARC_ISBN in record["isbns"]
    # the other BNU book (a different ISBN) stays its own union record
    assert union_of(services, "bnu", bnu[1].local_id) != uid
    refresh()
    hits = search(services, SearchQuery(isbn=CNMARC_ISBN))
    assert hits["total"] == 1 and hits["hits"][0]["holdings_count"] == 2


def test_without_an_isbn_the_title_key_merges_across_scripts_but_not_a_namesake(services):
    """PKU catalogued BNU's CNMARC book in MARC 21 without its ISBN and in traditional characters;
    SJTU holds a book of the same title, author and year from another publisher."""
    bnu = cnmarc_records()[:1]
    base = lc_chinese(1)[0]
    same = dict(isbns=[], title="'94中國發展報告", author="葉震", year="1994", pages="320頁")
    pku = variant(base, "pku-t", publisher="中國統計出版社", **same)
    sjtu = variant(base, "sjtu-n", publisher="經濟日報出版社", **same)
    ingest(services, "bnu", bnu)
    ingest(services, "pku", as_harvested([pku]))
    ingest(services, "sjtu", as_harvested([sjtu]))
    uid = union_of(services, "bnu", bnu[0].local_id)
    assert uid is not None and uid == union_of(services, "pku", "pku-t")
    assert union_of(services, "sjtu", "sjtu-n") != uid, "another publisher's book is not merged on title alone"


def test_duplicates_report_flags_merges_a_cataloguer_should_check(services):
    """Two members' records of one ISBN, one describing the book with its CD-ROM: merged (one
    ISBN, same pages), but listed for review; a plain duplicate is not."""
    base = lc_chinese(3)[2]
    isbn = isbn13("978750371745")
    book = variant(base, "p-book", isbns=[isbn], pages="320 p.")
    kit = variant(base, "s-kit", isbns=[isbn], pages="320 p. + 1 CD-ROM")
    twin = variant(base, "b-twin", isbns=[isbn13("978750371746")], pages="200 p.")
    ingest(services, "pku", as_harvested([book, variant(twin, "p-twin")]))
    ingest(services, "sjtu", as_harvested([kit, variant(twin, "s-twin")]))
    merged = union_of(services, "pku", "p-book")
    assert merged == union_of(services, "sjtu", "s-kit")
    assert union_of(services, "pku", "p-twin") == union_of(services, "sjtu", "s-twin")
    flagged = {row["id"]: row["why"] for row in duplicates_report(services)["suspicious"]}
    assert "extents 320 / 320 1" in flagged.get(merged, "")
    assert union_of(services, "pku", "p-twin") not in flagged


def test_duplicates_report_reviews_recent_changes_and_a_members_own_records(services):
    """The report looks into a bounded number of union records (the largest and the most recently
    changed), says how many of how many, and scoped to a member lists only what it holds."""
    base = lc_chinese(3)[2]
    isbn = isbn13("978750371745")
    twin = variant(base, "b-twin", isbns=[isbn13("978750371746")], pages="200 p.")
    ingest(services, "pku", as_harvested([variant(twin, "p-twin")]))
    ingest(services, "sjtu", as_harvested([variant(twin, "s-twin")]))
    ingest(services, "pku", as_harvested([variant(base, "p-book", isbns=[isbn], pages="320 p.")]))
    ingest(services, "bnu", as_harvested([variant(base, "n-kit", isbns=[isbn], pages="320 p. + 1 CD-ROM")]))
    kit, twins = union_of(services, "bnu", "n-kit"), union_of(services, "pku", "p-twin")
    assert kit == union_of(services, "pku", "p-book") and twins == union_of(services, "sjtu", "s-twin")

    latest_only = duplicates_report(services, top=0, reviewed=1)
    assert (latest_only["reviewed"], latest_only["merged"]) == (1, 2)
    assert [row["id"] for row in latest_only["suspicious"]] == [], "top=0 lists none"
    recent = duplicates_report(services, top=5, reviewed=1)
    assert [row["id"] for row in recent["suspicious"]] == [kit], "the latest change is looked into"
    for_sjtu = duplicates_report(services, member="sjtu")
    assert [row["id"] for row in for_sjtu["largest"]] == [twins] and for_sjtu["suspicious"] == []
    assert for_sjtu["merged"] == 1


def test_volumes_and_editions_stay_apart(services):
    base = lc_chinese(3)[2]
    set_isbn = isbn13("978702000220")
    vol1 = variant(base, "v1", isbns=[set_isbn, isbn13("978702000221")], part="第1册")
    vol2 = variant(base, "v2", isbns=[set_isbn, isbn13("978702000222")], part="第2册")
    vol1_again = variant(base, "v1b", isbns=[isbn13("978702000221")], part="第1册")
    second_ed = variant(base, "e2", isbns=[isbn13("978702000878")], edition="第2版", year="2001")
    ingest(services, "pku", as_harvested([vol1, vol2, second_ed]))
    ingest(services, "sjtu", as_harvested([vol1_again]))
    u1, u2, ue = (union_of(services, "pku", i) for i in ("v1", "v2", "e2"))
    assert len({u1, u2, ue}) == 3, "volumes 1 and 2 and the second edition must be three union records"
    assert union_of(services, "sjtu", "v1b") == u1, "the same volume at another member joins volume 1"


def test_deleting_the_linking_record_splits_the_cluster(services):
    base = lc_chinese(5)[4]
    a = variant(base, "a", isbns=[isbn13("978710100304")])
    bridge = variant(base, "bridge", isbns=[isbn13("978710100304"), isbn13("978753251234")])
    # Another setting (240 p. against 234): only the bridge's two ISBNs can link it to ``a``; two
    # ISBNs with the very same imprint and extent would be one edition and merge on their own.
    c = variant(base, "c", isbns=[isbn13("978753251234")], pages="ii, 240 p. ; 22 cm.")
    ingest(services, "pku", as_harvested([a]))
    ingest(services, "sjtu", as_harvested([c]))
    ingest(services, "bnu", as_harvested([bridge]))
    assert union_of(services, "pku", "a") == union_of(services, "sjtu", "c") == union_of(services, "bnu", "bridge")
    deleted = HarvestedRecord(local_id="bridge", raw=b"", deleted=True)
    ingest(services, "bnu", [deleted])
    assert union_of(services, "bnu", "bridge") is None
    assert union_of(services, "pku", "a") != union_of(services, "sjtu", "c")


def test_a_record_edited_at_the_member_moves_to_the_right_cluster(services):
    records = lc_chinese(12)
    first, second = records[10], records[11]
    ingest(services, "pku", as_harvested([variant(first, "x1", isbns=[isbn13("978702000220")])]))
    ingest(services, "sjtu", as_harvested([variant(second, "y1", isbns=[isbn13("978710100304")])]))
    ingest(services, "bnu", as_harvested([variant(first, "z1", isbns=[isbn13("978702000220")])]))
    assert union_of(services, "bnu", "z1") == union_of(services, "pku", "x1")
    # the member corrects its record: it is really the other book
    ingest(services, "bnu", as_harvested([variant(second, "z1", isbns=[isbn13("978710100304")])]))
    assert union_of(services, "bnu", "z1") == union_of(services, "sjtu", "y1")
    assert union_of(services, "bnu", "z1") != union_of(services, "pku", "x1")
    assert get_record(services, union_of(services, "pku", "x1"))["holdings_count"] == 1


def test_facet_counts_equal_distinct_union_records(services, refresh):
    records = lc_chinese(30)
    ingest(services, "pku", as_harvested(records[:20]))
    ingest(services, "sjtu", as_harvested(records[10:30]))  # 10 shared with pku
    refresh()
    result = search(services, SearchQuery(size=100))
    union_ids = {
        union_of(services, m, r["001"].data.strip())
        for m, rs in (("pku", records[:20]), ("sjtu", records[10:30]))
        for r in rs
    }
    assert result["total"] == len(union_ids)
    facets = {b["value"]: b["count"] for b in result["facets"]["member"]}
    pku_unions = {union_of(services, "pku", r["001"].data.strip()) for r in records[:20]}
    sjtu_unions = {union_of(services, "sjtu", r["001"].data.strip()) for r in records[10:30]}
    assert facets == {"pku": len(pku_unions), "sjtu": len(sjtu_unions)}
    assert sum(1 for h in result["hits"] if h["holdings_count"] == 2) == len(pku_unions & sjtu_unions) >= 10


def test_records_without_keys_stay_alone_and_bad_isbns_are_ignored(services):
    base = lc_chinese(8)[7]
    bad1 = variant(base, "bad1", isbns=["9787020002208"], title="无书号之书一")  # wrong check digit
    bad2 = variant(base, "bad2", isbns=["9787020002208"], title="完全不同的另一本书")
    ingest(services, "pku", as_harvested([bad1]))
    ingest(services, "sjtu", as_harvested([bad2]))
    assert union_of(services, "pku", "bad1") != union_of(services, "sjtu", "bad2")
    record = get_record(services, union_of(services, "pku", "bad1"))
    assert record["isbns"] == []


def test_oversized_cluster_is_reported_not_grown(settings):
    from catalog.context import build_services
    from catalog.members import sync_members
    from store.db import transaction
    from tests.core.conftest import MEMBERS

    services = build_services(settings(max_cluster_size=3))
    with transaction(services.db) as session:
        sync_members(session, [dict(m) for m in MEMBERS])
    base = lc_chinese(9)[8]
    copies = [variant(base, f"c{i}", isbns=[isbn13("978753251234")]) for i in range(5)]
    ingest(services, "pku", as_harvested(copies))
    unions = {union_of(services, "pku", f"c{i}") for i in range(5)}
    assert len(unions) >= 2
    report = duplicates_report(services)
    assert report["oversized"], "a cluster held at the limit must be reported"
    services.close()


def test_reindex_from_scratch_gives_the_same_clusters_and_overrides_survive(services, refresh):
    records = read_marc(DEMO / "pku" / "pride-and-prejudice.mrc", limit=60) + lc_chinese(20)
    ingest(services, "pku", as_harvested(records[:50]))
    ingest(services, "sjtu", as_harvested(records[30:]))
    pairs = [("pku", r["001"].data.strip()) for r in records[:50]] + [
        ("sjtu", r["001"].data.strip()) for r in records[30:]
    ]
    before = {p: union_of(services, *p) for p in pairs}
    a, b = pairs[30], pairs[50]  # the same record at pku and sjtu → one union record
    assert before[a] == before[b]
    add_override(services, "split", f"{a[0]}:{a[1]}", f"{b[0]}:{b[1]}", note="test")
    assert union_of(services, *a) != union_of(services, *b)
    after_split = {p: union_of(services, *p) for p in pairs}
    result = rebuild_index(services, recluster=True)
    assert result["failed"] == 0
    rebuilt = {p: union_of(services, *p) for p in pairs}
    assert _partition(rebuilt) == _partition(after_split)
    refresh()
    total = search(services, SearchQuery(size=1))["total"]
    assert total == len(set(rebuilt.values()))


def _partition(assignment: dict) -> set[frozenset]:  # type: ignore[type-arg]
    groups: dict[str, set] = {}  # type: ignore[type-arg]
    for key, uid in assignment.items():
        groups.setdefault(uid, set()).add(key)
    return {frozenset(g) for g in groups.values()}


def _set_records() -> tuple[list[HarvestedRecord], list[HarvestedRecord]]:
    """Three real LC Chinese records (a set of 2 v. with its total pages, a book entered under
    title with its 710 before the 700, a name with 100 $c) and the CNMARC records a Chinese library
    would make of them (``bench/marc21_to_cnmarc.py``; see tests/data/records/PROVENANCE.md)."""
    lc = as_harvested(read_marc(RECORDS / "marc21-lc-chinese-sets.mrc"))
    cn = as_harvested(read_marc(RECORDS / "cnmarc-converted-from-lc-chinese.mrc"), syntax="unimarc")
    return lc, cn


def test_isbn_typed_with_spaces_label_and_price_is_the_only_shared_key_and_merges(services):
    """PKU keys BNU's book's ISBN as its cataloguers type it and records no author, so the title
    key differs too: the ISBN alone must bring the two copies together."""
    bnu = cnmarc_records()[:1]
    pku = variant(lc_chinese(1)[0], "pku-typed", isbns=["ISBN 978 7 5037 1744 4：CNY25.00"],
                  title="'94中国发展报告", year="1994", pages="320页")
    pku.remove_fields("100", "110", "111", "700", "710", "711")
    ingest(services, "bnu", bnu)
    ingest(services, "pku", as_harvested([pku]))
    uid = union_of(services, "bnu", bnu[0].local_id)
    assert uid is not None and uid == union_of(services, "pku", "pku-typed")
    assert CNMARC_ISBN in get_record(services, uid)["isbns"]


def test_a_set_described_with_its_total_pages_merges_across_formats_and_within_marc21(services):
    """"2 v. (15, 1836 p.)" / "2册 (15, 1836页)": a set and a page count on both sides."""
    lc, cn = _set_records()
    copy = variant(read_marc(RECORDS / "marc21-lc-chinese-sets.mrc", limit=1)[0], "sjtu-set")
    ingest(services, "nlc", lc[:1])
    ingest(services, "bnu", cn[:1])
    ingest(services, "sjtu", as_harvested([copy]))
    uid = union_of(services, "nlc", lc[0].local_id)
    assert uid is not None
    assert union_of(services, "bnu", cn[0].local_id) == uid == union_of(services, "sjtu", "sjtu-set")


def test_first_author_in_tag_order_merges_lc_entry_under_title_with_its_cnmarc(services):
    """LC gives the 710 (大雁矿务局) before the 700 (刘志成); CNMARC lists 701 before 711."""
    lc, cn = _set_records()
    ingest(services, "nlc", lc[1:2])
    ingest(services, "bnu", cn[1:2])
    uid = union_of(services, "nlc", lc[1].local_id)
    assert uid is not None and uid == union_of(services, "bnu", cn[1].local_id)
    assert get_record(services, uid)["authors"][0] == "刘志成"


def test_name_additions_read_alike_in_marc21_100_c_and_cnmarc_700_c():
    from mappings import crosswalk

    lc, cn = _set_records()
    marc21 = crosswalk(lc[2].raw, "iso2709")
    cnmarc = crosswalk(cn[2].raw, "iso2709", "unimarc")
    assert marc21.authors[0] == cnmarc.authors[0] == "弘一, da shi, 1880-1942"


def test_a_subject_longer_than_the_keyword_limit_does_not_lose_the_record(services, refresh):
    """A real LC record (in MARCXML) whose 650 $a runs past Elasticsearch's 32,766-byte term limit
    (a catalogue that pasted a table of contents into a subject): the record is indexed and found,
    with the subject searchable as text."""
    from catalog.harvests import index_failures

    record = read_marc(RECORDS / "marc21-lc-chinese-sets.mrc", limit=1)[0]
    heading = "中国祠庙诗联，" * 2000  # 3 bytes a character: 42,000 bytes
    record.add_ordered_field(
        pymarc.Field(tag="650", indicators=[" ", "0"], subfields=[pymarc.Subfield("a", heading)])
    )
    xml = pymarc.record_to_xml(record, namespace=True)  # ISO 2709 cannot hold a field this long
    report = ingest(services, "nlc", [HarvestedRecord(local_id="long-650", raw=xml, encoding="xml")])
    assert report.rejected == 0
    failures = index_failures(services)
    assert failures["total"] == 0, failures
    refresh()
    hits = search(services, SearchQuery(q="祠庙诗联"))
    assert hits["total"] == 1


def test_a_cataloguers_merge_joins_what_the_matcher_keeps_apart_and_survives_reclustering(services, refresh):
    """SJTU's MARC 21 record of BNU's CNMARC book names the publisher differently, so the matcher
    keeps the two apart; a cataloguer who has the books in hand merges them. The merge holds after
    the member sends the record again and after a rebuild that re-clusters everything."""
    bnu = cnmarc_records()[:1]
    sjtu = variant(lc_chinese(1)[0], "sjtu-m", isbns=[], title="'94中國發展報告", author="葉震", year="1994",
                   pages="320頁", publisher="經濟日報出版社")
    ingest(services, "bnu", bnu)
    ingest(services, "sjtu", as_harvested([sjtu]))
    a, b = f"bnu:{bnu[0].local_id}", "sjtu:sjtu-m"
    assert union_of(services, "bnu", bnu[0].local_id) != union_of(services, "sjtu", "sjtu-m")
    add_override(services, "merge", a, b, note="same book, publisher misread")
    uid = union_of(services, "bnu", bnu[0].local_id)
    assert uid is not None and uid == union_of(services, "sjtu", "sjtu-m")
    ingest(services, "sjtu", as_harvested([variant(sjtu, "sjtu-m", edition="修订本")]))  # sent again, edited
    assert union_of(services, "sjtu", "sjtu-m") == union_of(services, "bnu", bnu[0].local_id)
    assert rebuild_index(services, recluster=True)["failed"] == 0
    uid = union_of(services, "bnu", bnu[0].local_id)
    assert uid == union_of(services, "sjtu", "sjtu-m")
    assert {h["member"] for h in get_record(services, uid)["holdings"]} == {"bnu", "sjtu"}
