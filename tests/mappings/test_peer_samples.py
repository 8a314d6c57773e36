"""Other projects' test records read right (issue 14): character-set faults, broken escapes,
characters XML cannot carry, UNIMARC names, standard numbers as cataloguers type them.

The records are single records cut from the peer projects' test files (``tests/data/records/peer``,
provenance in ``tests/data/records/PROVENANCE.md``).
"""

from __future__ import annotations

import re

import pytest
from lxml import etree

from harvesters.files import Charset
from mappings import CrosswalkError, crosswalk, match_keys, to_marcxml
from mappings._common import normalise_issn, split_isbns
from mappings.marcio import CHARSETS
from tests.mappings.golden import RECORDS

PEER = RECORDS / "peer"


def _raw(name: str) -> bytes:
    return (PEER / name).read_bytes()


def test_marc8_bytes_under_a_utf8_leader_are_read_as_marc8() -> None:
    """ruby-marc: leader/09 says UTF-8, the bytes are MARC-8 (0xE2 = acute before its letter)."""
    raw = _raw("ruby-marc-marc8-under-utf8-leader.mrc")
    assert raw[9:10] == b"a"
    doc = crosswalk(raw, "iso2709")
    assert doc.title == 'Histoire du "nouveau théâtre."'
    assert doc.authors == ["Serreau, Geneviève"]


def test_one_broken_marc8_escape_garbles_only_its_own_subfield() -> None:
    """marc4j: an EACC record whose 880s break off inside an escape sequence; the 245 is fine."""
    raw = _raw("marc4j-incomplete-escape.mrc")
    doc = crosswalk(raw, "iso2709")
    assert doc.title == "窃听风云"
    assert "Mai, Zhaohui, 1965-" in doc.authors
    assert not any("\x1b" in text for text in (doc.title, doc.responsibility or "", *doc.authors))


def test_diacritic_before_a_character_reference_goes_on_the_decoded_letter() -> None:
    """marc4j: Greek written as NCRs, with MARC-8 acutes placed before them."""
    doc = crosswalk(_raw("marc4j-greek-diacritic-before-ncr.mrc"), "iso2709")
    assert doc.title == "Η αγορά στη Μεσόγειο"
    assert "&#" not in doc.title


def test_cp1251_under_a_marc8_leader_is_a_named_reject_unless_the_feed_says_cp1251() -> None:
    """pymarc: Russian in cp1251 under a blank (MARC-8) leader/09."""
    raw = _raw("pymarc-cp1251-under-marc8-leader.mrc")
    with pytest.raises(CrosswalkError, match="not MARC-8.*charset"):
        crosswalk(raw, "iso2709")
    doc = crosswalk(raw, "iso2709;cp1251")
    assert re.fullmatch(r"[А-Яа-яЁё ,.:;()\-–!?«»0-9]+", doc.title), doc.title
    assert doc.authors and re.match("[А-Я]", doc.authors[0])
    assert "Ильин" in to_marcxml(raw, "iso2709;cp1251")


def test_declared_charsets_are_the_ones_the_crosswalk_reads() -> None:
    assert set(Charset.__args__) == set(CHARSETS)  # type: ignore[attr-defined]
    with pytest.raises(CrosswalkError, match="unknown character set"):
        crosswalk(_raw("ruby-marc-marc8-under-utf8-leader.mrc"), "iso2709;ebcdic")


def test_display_marcxml_is_well_formed_whatever_control_characters_the_record_holds() -> None:
    """A stray 0x1B (a MARC-8 escape that lost its bytes) and 0x01/0x02 in subfields."""
    raw = _raw("marc4j-incomplete-escape.mrc")
    dirty = raw.replace(b"\x1fa60-0", b"\x1fa\x01\x0260-0", 1)
    for record in (raw, dirty):
        xml = to_marcxml(record, "iso2709")
        etree.fromstring(xml.encode("utf-8"))  # raises when not well-formed
    assert "\ufffd" in to_marcxml(dirty, "iso2709")


def test_unimarc_forename_keyed_with_its_comma() -> None:
    """pymarc's UNIMARC sample: 700 $aAsimov$b, Isaac."""
    doc = crosswalk(_raw("pymarc-unimarc.mrc"), "iso2709", "unimarc")
    assert doc.authors[0] == "Asimov, Isaac"


@pytest.mark.parametrize(
    "typed",
    ["978 7 5037 1744 4", "ISBN 978-7-5037-1744-4", "９７８－７－５０３７－１７４４－４", "7-5037-1744-0：CNY25.00",
     "ISBN7-5037-1744-0 (精装)：￥25.00", "７５０３７１７４４０", "7503717440 (pbk.)"],
)
def test_isbn_as_cataloguers_type_it_gives_the_isbn13_key(typed: str) -> None:
    valid: list[str] = []
    invalid: list[str] = []
    split_isbns([typed], valid, invalid)
    assert valid == ["9787503717444"] and invalid == []


def test_isbn10_with_a_lower_case_check_digit_and_a_wrong_check_digit() -> None:
    valid: list[str] = []
    invalid: list[str] = []
    split_isbns(["7-02-000220-x", "7-5037-1744-1 (pbk.)", "0000000000"], valid, invalid)
    assert valid == ["9787020002207"]
    assert invalid == ["7-5037-1744-1 (pbk.)", "0000000000"]  # kept for display, no match key


def test_issn_as_typed() -> None:
    assert normalise_issn("ISSN ００２８-０８３６") == "0028-0836"
    assert normalise_issn("1050-124x (print)") == "1050-124X"
    assert normalise_issn("0028-0837") is None


def test_cnmarc_isbn_typed_with_price_gives_the_key(cnmarc_bnu: bytes) -> None:
    """BNU's real CNMARC record with its 010 $a keyed as many Chinese catalogues do."""
    typed = cnmarc_bnu.replace(b">7-5037-1744-0<", "> ISBN 978 7 5037 1744 4：CNY25.00<".encode(), 1)
    assert typed != cnmarc_bnu
    keys = match_keys(crosswalk(typed, "xml", "unimarc"))
    assert "isbn:9787503717444" in keys.strong


@pytest.fixture
def cnmarc_bnu() -> bytes:
    root = etree.parse(str(RECORDS / "cnmarc-bnu-alma.xml")).getroot()
    return etree.tostring(next(root.iter("{*}record")))
