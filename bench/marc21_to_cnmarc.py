"""A deterministic MARC 21 → CNMARC conversion, for the cross-format deduplication set (issue 14).

There is no bulk CNMARC in the shared data, so the MARC 21 ↔ CNMARC evaluation pairs each real
Chinese LC record with the record a Chinese library would make of the same book: the same
description, field by field, in CNMARC as the national format (WH/T 0503, after UNIMARC) and
Chinese cataloguing practice lay it out. The conversion uses the vernacular (880) form wherever
LC gives one, as Chinese libraries catalogue in Chinese, and writes the ISO 2709 record in UTF-8.

======================  =================================================================
MARC 21                 CNMARC
======================  =================================================================
001                     001 ``CN`` + the LC control number
020 $a $q $c            010 $a ISBN (hyphenated, as printed on the book) $b qualifier $d price
008/00-05, 06, 07-14    100 $a date entered (yyyymmdd), date type (s→d, m→g, r→e, t→d,
                        e→d, other→f), dates 1 and 2, then ``   y0chiy50      ea``
008/35-37, 041 $a       101 0# $a language codes
245 (880) $a $b $n $p   200 1# $a title $e subtitle (or $d after "=") $h part number
$c                      $i part name $f statement of responsibility
250 (880)               205 $a edition
260/264 (880)           210 $a place $c publisher $d date
300 $a $b $c $e         215 $a extent (``v.`` → ``册``, ``p.`` → ``页``) $c illustrations (``图``)
                        $d dimensions (``cm`` closed up) $e accompanying material
490 (880) $a $v         225 2# $a series $v volume
502 $a                  328 $a dissertation note
650/600/651 $a $x..     606/600/607 $a heading $x/$y/$z subdivisions
100 / 110               700 #0 / 710 02: main responsibility
700 / 710 / 711         701 #0 / 711 02 / 711 12: alternative responsibility
name subfields          Han name (880) whole in $a; a Latin name "Surname, Forename" as $a
                        surname, $b forename; $c additions; $d dates → $f; relator $4 著
040 $a                  801 #0 $a CN $b the cataloguing agency
======================  =================================================================

The result is what :func:`convert` returns: ISO 2709 bytes. Everything is a pure function of the
LC record's bytes, so the set is rebuilt identically from the shared file.
"""

from __future__ import annotations

import re

import pymarc
from pymarc import Field, Indicators, Record, Subfield
from stdnum import isbn as stdnum_isbn

_DATE_TYPES = {"s": "d", "m": "g", "r": "e", "t": "d", "e": "d", "q": "f", "n": "f", "c": "a", "d": "b", "u": "f"}
_NAME_MAP = {"100": ("700", " 0"), "110": ("710", "02"), "111": ("710", "12"),
             "700": ("701", " 0"), "710": ("711", "02"), "711": ("711", "12")}
_HAN_GAP = re.compile(r"(?<=[\u3400-\u9fff])[\s,，]+(?=[\u3400-\u9fff])")
_SUBJECT_MAP = {"600": "600", "610": "601", "650": "606", "651": "607"}


def _linked(record: Record) -> dict[tuple[str, str], Field]:
    out: dict[tuple[str, str], Field] = {}
    for field in record.get_fields("880"):
        link = field.get("6") or ""
        if len(link) >= 6:
            out.setdefault((link[:3], link[4:6]), field)
    return out


def _vernacular(field: Field, linked: dict[tuple[str, str], Field]) -> Field:
    link = field.get("6") or ""
    found = linked.get((field.tag, link[4:6])) if link.startswith("880-") else None
    return found if found is not None and found.get("a") else field


def _strip(value: str | None) -> str:
    return (value or "").strip().rstrip(" /:;,=.").strip()


def _sub(code: str, value: str | None) -> list[Subfield]:
    text = _strip(value)
    return [Subfield(code, text)] if text else []


def _isbn(value: str) -> tuple[str, str]:
    """(ISBN as printed, with hyphens; qualifier) from a 020 $a such as ``7503717440 (pbk.)``."""
    number, _, rest = value.strip().partition(" ")
    try:
        printed = stdnum_isbn.format(number)
    except Exception:  # not an ISBN: kept as typed, as a cataloguer would copy it
        printed = number
    return printed, rest.strip(" ()")


def _fixed(record: Record) -> tuple[str, str]:
    field = record.get("008")
    data = (field.data if field is not None else "").ljust(40)
    entered = data[0:6]
    century = "19" if entered[:2].isdigit() and int(entered[:2]) > 50 else "20"
    date_type = _DATE_TYPES.get(data[6], "f")
    date1 = data[7:11] if data[7:11].isdigit() else "    "  # "uuuu", "199u": 210 $d gives the year
    date2 = data[11:15] if data[11:15].strip().isdigit() else "    "
    general = f"{century}{entered}{date_type}{date1}{date2}   y0chiy50      ea"
    return general, data[35:38]


def _extent(field: Field) -> list[Subfield]:
    extent = (field.get("a") or "").strip().rstrip(" :;+")
    extent = re.sub(r"(\d+)\s*v\.", r"\1册", extent)
    extent = re.sub(r"\bv\.", "册", extent)
    extent = re.sub(r"\s*(?:p|pages)\.?(?=[\s),;]|$)", "页", extent)
    extent = re.sub(r"\s*leaves", "叶", extent)
    other = (field.get("b") or "").strip().rstrip(" :;")
    other = re.sub(r"\bill(?:us)?\.?|illustrations", "图", other)
    size = re.sub(r"\s*cm\.?", "cm", (field.get("c") or "").strip().rstrip(" +"))
    return _sub("a", extent) + _sub("c", other) + _sub("d", size) + _sub("e", field.get("e"))


def _title(field: Field) -> list[Subfield]:
    out = _sub("a", field.get("a"))
    previous = field.get("a") or ""
    for sub in field.subfields:
        if sub.code == "b":
            out += _sub("d" if previous.rstrip().endswith("=") else "e", sub.value)
        elif sub.code == "n":
            out += _sub("h", sub.value)
        elif sub.code == "p":
            out += _sub("i", sub.value)
        previous = sub.value
    out += _sub("f", field.get("c"))
    return out


def _name(field: Field, vernacular: Field) -> list[Subfield]:
    name = _strip(vernacular.get("a"))
    if field.tag.endswith("00"):
        if "," in name and not re.search("[\u3400-\u9fff]", name):
            surname, _, forename = name.partition(",")
            subs = _sub("a", surname) + _sub("b", forename)
        else:  # a Han name is written as one word: 谢, 宗一 → 谢宗一
            subs = _sub("a", _HAN_GAP.sub("", name)) + _sub("b", vernacular.get("b"))
        subs += _sub("c", vernacular.get("c")) + _sub("f", vernacular.get("d"))
    else:
        subs = _sub("a", name) + [Subfield("b", _strip(v)) for v in vernacular.get_subfields("b") if _strip(v)]
    return subs + [Subfield("4", "著")]


def convert(raw: bytes) -> bytes:
    """The CNMARC record (ISO 2709, UTF-8) of one MARC 21 record (see the module docstring)."""
    source = Record(data=raw, to_unicode=True, force_utf8=raw[9:10] == b"a", utf8_handling="replace")
    linked = _linked(source)
    out = Record(force_utf8=True)
    out.leader = pymarc.Leader("     nam0 22     450 ".ljust(24)[:24])
    control = source.get("001")
    out.add_field(Field(tag="001", data="CN" + (control.data.strip() if control is not None else "")))
    for field in source.get_fields("020"):
        if field.get("a"):
            printed, qualifier = _isbn(field.get("a") or "")
            qualifier = qualifier or _strip(" ".join(field.get_subfields("q")))
            subs = [Subfield("a", printed)] + _sub("b", qualifier) + _sub("d", field.get("c"))
            out.add_field(Field(tag="010", indicators=Indicators(" ", " "), subfields=subs))
    general, language = _fixed(source)
    out.add_field(Field(tag="100", indicators=Indicators(" ", " "), subfields=[Subfield("a", general)]))
    if language.strip():
        out.add_field(Field(tag="101", indicators=Indicators("0", " "), subfields=[Subfield("a", language)]))
    out.add_field(Field(tag="102", indicators=Indicators(" ", " "), subfields=[Subfield("a", "CN")]))
    _description(source, linked, out)
    _access_points(source, linked, out)
    agency = source.get("040")
    out.add_field(Field(tag="801", indicators=Indicators(" ", "0"),
                        subfields=[Subfield("a", "CN")] + _sub("b", agency.get("a") if agency is not None else "DLC")))
    return out.as_marc()


def _description(source: Record, linked: dict[tuple[str, str], Field], out: Record) -> None:
    f245 = source.get("245")
    if f245 is not None:
        out.add_field(Field(tag="200", indicators=Indicators("1", " "), subfields=_title(_vernacular(f245, linked))))
    f250 = source.get("250")
    if f250 is not None:
        edition = _sub("a", _vernacular(f250, linked).get("a"))
        out.add_field(Field(tag="205", indicators=Indicators(" ", " "), subfields=edition))
    imprint = next(iter([f for f in source.get_fields("264") if f.indicator2 == "1"] + source.get_fields("260")), None)
    if imprint is not None:
        v = _vernacular(imprint, linked)
        subs = _sub("a", v.get("a")) + _sub("c", v.get("b")) + _sub("d", v.get("c") or imprint.get("c"))
        out.add_field(Field(tag="210", indicators=Indicators(" ", " "), subfields=subs))
    f300 = source.get("300")
    if f300 is not None:
        out.add_field(Field(tag="215", indicators=Indicators(" ", " "), subfields=_extent(f300)))
    for field in source.get_fields("502"):
        out.add_field(Field(tag="328", indicators=Indicators(" ", " "), subfields=_sub("a", field.get("a"))))
    for field in source.get_fields("490"):
        v = _vernacular(field, linked)
        series = _sub("a", v.get("a")) + _sub("v", v.get("v"))
        out.add_field(Field(tag="225", indicators=Indicators("2", " "), subfields=series))


def _access_points(source: Record, linked: dict[tuple[str, str], Field], out: Record) -> None:
    for field in source.fields:
        tag = _SUBJECT_MAP.get(field.tag)
        if tag and not field.control_field:
            subs = _sub("a", field.get("a")) + [Subfield(s.code, _strip(s.value)) for s in field.subfields
                                               if s.code in "xyz" and _strip(s.value)]
            out.add_field(Field(tag=tag, indicators=Indicators(" ", "0"), subfields=subs))
    names = sorted(source.get_fields(*_NAME_MAP), key=lambda f: list(_NAME_MAP).index(f.tag))
    for field in names:
        tag, indicators = _NAME_MAP[field.tag]
        subs = _name(field, _vernacular(field, linked))
        if subs[:-1]:
            out.add_field(Field(tag=tag, indicators=Indicators(*indicators), subfields=subs))
