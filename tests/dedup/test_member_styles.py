"""The four members' house styles of the million-record bench (bench/member_styles.py), on real LC records."""

from __future__ import annotations

import re
from pathlib import Path

import pymarc
import pytest

from bench.member_styles import MEMBERS, SYNTAX, qualifier, styled, write_members
from mappings import crosswalk, detect_syntax

DATA = Path(__file__).resolve().parents[1] / "data" / "records"
SAMPLES = ["marc21-lc-english.mrc", "marc21-lc-chinese-880.mrc", "marc21-lc-chinese-sets.mrc"]
HAN = re.compile("[\u3400-\u9fff]")


def _raws() -> list[bytes]:
    raws: list[bytes] = []
    for name in SAMPLES:
        raws += [part + b"\x1d" for part in (DATA / name).read_bytes().split(b"\x1d") if part.strip()]
    return raws


def _record(data: bytes) -> pymarc.Record:
    return pymarc.Record(data=data, to_unicode=True, force_utf8=True)


@pytest.fixture(scope="module")
def members() -> list[tuple[pymarc.Record, dict[str, bytes]]]:
    out = []
    for n, raw in enumerate(_raws()):
        made = styled(raw, n)
        assert all(data is not None for data in made)
        out.append((_record(raw), dict(zip(MEMBERS, made, strict=True))))
    return out


def test_output_is_the_same_on_every_run(tmp_path: Path) -> None:
    source = tmp_path / "lc.mrc"
    source.write_bytes(b"".join(_raws()))
    first = write_members(source, tmp_path / "a", processes=1)
    second = write_members(source, tmp_path / "b", processes=1)
    assert first == second == {"lc": 9, **dict.fromkeys(MEMBERS, 9)}
    for code in MEMBERS:
        assert (tmp_path / "a" / f"{code}.mrc").read_bytes() == (tmp_path / "b" / f"{code}.mrc").read_bytes()


def test_member1_keeps_lc_cataloguing_under_its_own_number(members) -> None:  # type: ignore[no-untyped-def]
    lc, made = members[1]
    m1 = _record(made["m1"])
    assert m1["001"].data == "b1000001" and m1["003"].data == "UCM1"
    assert lc["001"].data != m1["001"].data
    unchanged = [str(f) for f in lc.fields if f.tag not in ("001", "003", "005")]
    assert [str(f) for f in m1.fields if f.tag not in ("001", "003", "005")] == unchanged


def test_member2_writes_hyphenated_isbn13_without_isbd_punctuation(members) -> None:  # type: ignore[no-untyped-def]
    lc, made = members[1]  # "Buying time :$btelevision advertising ... /$cby Jonathan S. Krasno ..." ISBN 0965406334
    m2 = _record(made["m2"])
    assert lc["020"]["a"] == "0965406334"
    assert m2["020"]["a"] == "978-0-9654063-3-8"
    assert m2["245"].get_subfields("a", "b") == [
        "Buying time", "television advertising in the 1998 congressional elections"]
    assert m2["245"]["c"] == "by Jonathan S. Krasno and Daniel E. Seltz"
    assert str(m2.leader)[18] == "c"
    assert qualifier("(pbk. : alk. paper)") == "paperback : acid-free paper"
    assert qualifier("(hbk.)") == "hardback"


def test_member3_drops_numbers_and_writes_title_case(members) -> None:  # type: ignore[no-untyped-def]
    lc, made = members[1]
    m3 = _record(made["m3"])
    assert lc.get_fields("010", "035") and not m3.get_fields("010", "035")
    assert m3["245"]["b"] == "Television Advertising in the 1998 Congressional Elections /"
    dropped = [_record(m["m3"]).get_fields("020") == [] for _, m in members]
    assert any(dropped) and not all(dropped)  # a share of the records, not all


def test_member4_is_cnmarc_in_the_vernacular_and_crosswalks_as_unimarc(members) -> None:  # type: ignore[no-untyped-def]
    _lc, made = members[3]  # the first Chinese record: 880 titles in Han script
    m4 = made["m4"]
    assert detect_syntax(m4, "iso2709") == "unimarc"
    doc = crosswalk(m4, "iso2709", SYNTAX["m4"])
    assert HAN.search(doc.title or ""), doc.title
    assert doc.title == "頭戴之硬盔"  # LC's 245 is romanised (Tou dai zhi ying kui); its 880 gives the script
    assert doc.isbns == ["9789579823104"]  # LC's 9579823103, read from 010 $a


def test_every_member_record_crosswalks_like_lc_s(members) -> None:  # type: ignore[no-untyped-def]
    for lc, made in members:
        lc_doc = crosswalk(lc.as_marc(), "iso2709", "marc21")
        for code, data in made.items():
            doc = crosswalk(data, "iso2709", SYNTAX[code])
            assert doc.title and doc.year == lc_doc.year, (code, doc.title)
