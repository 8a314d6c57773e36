"""Crosswalk behaviour on real records: detection, vernacular script, character sets, errors."""

from __future__ import annotations

import pytest

from mappings import CrosswalkError, crosswalk, detect_syntax, to_marcxml
from tests.mappings.golden import RECORDS, split_records


def _records(name: str) -> list[tuple[bytes, str]]:
    return list(split_records(name))


@pytest.mark.parametrize(
    ("name", "syntax"),
    [
        ("marc21-lc-english.mrc", "marc21"),
        ("marc21-rero.xml", "marc21"),
        ("cnmarc-bnu-alma.xml", "unimarc"),
        ("unimarc-bnf.xml", "unimarc"),
        ("unimarc-sru-dp2.xml", "unimarc"),
        ("unimarc-pride-and-prejudice-taiwan.mrc", "unimarc"),
        ("dc-uva-princes.xml", "dc"),
    ],
)
def test_detect_syntax(name: str, syntax: str) -> None:
    for raw, encoding in _records(name):
        assert detect_syntax(raw, encoding) == syntax


def test_lc_chinese_record_shows_vernacular_title() -> None:
    raw, encoding = _records("marc21-lc-chinese-880.mrc")[0]
    doc = crosswalk(raw, encoding)
    assert doc.title == "頭戴之硬盔"
    assert "Tou dai zhi ying kui" in doc.parallel_titles
    assert doc.authors[:2] == ["吳正德", "Wu, Zhengde"]
    assert doc.publisher == "財團法人李天禄布袋戲文敎基金會"


def test_marc8_record_comes_out_as_utf8() -> None:
    raw, encoding = _records("marc21-uva-sirsi-999.mrc")[1]
    assert raw[9:10] == b" " and b"H\xe1a-ti\xe3en" in raw  # MARC-8 grave and circumflex, before the letter
    doc = crosswalk(raw, encoding)
    assert doc.title == "The princes of Hà-tiên (1682-1867)"
    assert "<subfield code=\"a\">The princes of Hà-tiên (1682-1867) /</subfield>" in to_marcxml(raw, encoding)


def test_marc8_chinese_and_ncr_records_equal_the_utf8_one() -> None:
    docs = [crosswalk(raw, enc) for raw, enc in _records("marc21-marc4j-chinese-880.mrc")]
    assert docs[1].title == docs[2].title == docs[3].title == "車輪滾滾"
    assert docs[1].authors == docs[3].authors


def test_sirsi_items_grouped_with_status() -> None:
    raw, encoding = _records("marc21-uva-sirsi-999.mrc")[4]
    holdings = crosswalk(raw, encoding).holdings
    assert sum(h.items for h in holdings) == 3
    assert any(h.status == "WITHDRAWN" for h in holdings)


def test_unimarc_han_names_joined_without_space() -> None:
    raw, encoding = _records("unimarc-pride-and-prejudice-taiwan.mrc")[0]
    doc = crosswalk(raw, encoding)
    assert doc.title == "傲慢與偏見" and doc.authors[0] == "奧斯丁"


@pytest.mark.parametrize(
    "raw",
    [b"<record><datafield", b"<?xml version='1.0'?><foo/>", b"", b"garbage that is no record at all!!",
     b"<!DOCTYPE r [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><record><leader>00000nam a2200000 a 4500</leader>"
     b"<datafield tag='245' ind1='0' ind2='0'><subfield code='a'>&e;</subfield></datafield></record>"],
)
def test_unusable_input_raises_crosswalk_error(raw: bytes) -> None:
    encoding = "iso2709" if raw.startswith(b"garbage") or not raw else "xml"
    with pytest.raises(CrosswalkError):  # the external entity is never expanded: no title left
        crosswalk(raw, encoding)


def test_record_without_title_is_rejected() -> None:
    xml = (b'<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
           b'<controlfield tag="001">x1</controlfield><datafield tag="100" ind1="1" ind2=" ">'
           b'<subfield code="a">Austen, Jane</subfield></datafield></record>')
    with pytest.raises(CrosswalkError, match="no title"):
        crosswalk(xml, "xml")
    assert isinstance(CrosswalkError("x"), ValueError)


def test_dirty_records_map_or_raise_crosswalk_error() -> None:
    path = RECORDS / "dirty" / "marc21-pride-and-prejudice-with-errors.mrc"
    mapped = rejected = 0
    for chunk in path.read_bytes().split(b"\x1d"):
        if not chunk.strip():
            continue
        try:
            crosswalk(chunk + b"\x1d", "iso2709")
            mapped += 1
        except CrosswalkError:
            rejected += 1
    assert mapped >= 8 and rejected >= 5


def test_unimarc_sent_in_marc21_namespace_is_detected() -> None:
    raw, _ = _records("cnmarc-bnu-alma.xml")[0]
    relabelled = raw.replace(b"http://www.nlc.cn/", b"http://www.loc.gov/MARC21/slim")
    assert detect_syntax(relabelled, "xml") == "unimarc"
    assert crosswalk(relabelled, "xml").title == "'94中国发展报告"


def test_dc_to_marcxml_returns_dc_xml() -> None:
    raw, encoding = _records("dc-lc-chinese.xml")[0]
    assert "頭戴之硬盔" in to_marcxml(raw, encoding)


@pytest.mark.parametrize(
    ("extent", "pages"),
    [
        ("viii, 68, [1] p. ; 21 cm.", 68),  # the main sequence, not an unnumbered leaf
        ("[4] p. l., lxvi, 104 p. : port. ; 23 cm.", 104),  # "p. l." = preliminary leaves
        ("xii, 320", 320),
        ("[16] p. : chiefly ill.", 16),
        ("3 v. ; 24 cm.", None),
    ],
)
def test_page_count_read_from_the_extent(extent: str, pages: int | None) -> None:
    from mappings._common import pages_from

    assert pages_from(extent) == pages
