"""MARC 21 bibliographic record → :class:`BibDocument`.

Vernacular script: when a field has a linked 880 (``$6 880-01`` ↔ ``$6 245-01/$1``) the 880
form is preferred for display (title, statement of responsibility, publication, edition) and the
romanised form is kept as a parallel title / extra author form, so an LC record of 红楼梦 shows
红楼梦, not "Hong lou meng". Names list the vernacular form first, then the romanised one.

Format (first rule that applies): leader/06 e,f → map; c,d → score; i,j → audio; g → video;
k,o,p,r → other; m, or 007/00 ``c``, or 008 form of item ``o``/``q``/``s``, or 337 "computer"/338
"online resource"/``cr`` → eresource; leader/07 b,i,s → serial; 502 present → thesis; else book.
"""

from __future__ import annotations

import re

from mappings._common import (
    CrosswalkError,
    add_unique,
    clean,
    clean_title,
    closing_year,
    join_clean,
    normalise_issn,
    normalise_lccn,
    package_isbns,
    pages_from,
    split_isbns,
    year_from,
)
from mappings.document import BibDocument, Link
from mappings.holdings import marc21_holdings
from mappings.indexed import IndexedRecord, MarcRecord
from mappings.marclib import Field

_OCLC_RE = re.compile(r"^\(OCoLC\)\s*(?:ocm|ocn|on)?\s*0*(\d+)", re.IGNORECASE)
_SUBJECT_MAIN = "abcdqtnpgk"
_SUBJECT_SUBDIVISIONS = "vxyz"
_CLC_SOURCES = ("clc", "中图法", "中国图书馆分类法", "cclc")
_NAME_TAGS = ("100", "110", "111", "700", "710", "711")


def _linked(record: MarcRecord) -> dict[tuple[str, str], Field]:
    """880 fields by (tag they belong to, occurrence number)."""
    out: dict[tuple[str, str], Field] = {}
    for field in record.get_fields("880"):
        link = field.get("6") or ""
        if len(link) >= 6 and link[4:6] != "00":
            out.setdefault((link[:3], link[4:6]), field)
    return out


def _vernacular(field: Field | None, linked: dict[tuple[str, str], Field]) -> Field | None:
    if field is None or not linked:
        return None
    link = field.get("6") or ""
    if link.startswith("880-") and len(link) >= 6:
        return linked.get((field.tag, link[4:6]))
    return None


def _preferred(field: Field | None, linked: dict[tuple[str, str], Field]) -> Field | None:
    vernacular = _vernacular(field, linked)
    return vernacular if vernacular is not None and vernacular.get("a") else field


def _join(field: Field, codes: str, sep: str = " ") -> str | None:
    return join_clean([s.value for s in field.subfields if s.code in codes], sep)


def _name(field: Field) -> str | None:
    if field.tag.endswith("00") or (field.get("6") or "").startswith(("100", "700")):
        base = clean(" ".join([s.value for s in field.subfields if s.code in "abcq"]))
        dates = clean(field.get("d"))
        return f"{base}, {dates}" if base and dates else base
    if field.tag.endswith("11") or (field.get("6") or "").startswith(("111", "711")):
        return _join(field, "andc")
    return _join(field, "ab")


def map_marc21(record: MarcRecord) -> BibDocument:
    """Map a decoded MARC 21 record; :class:`CrosswalkError` when it has no title at all."""
    record = IndexedRecord.of(record)  # read ~25 tags without walking the fields for each
    linked = _linked(record)
    doc = BibDocument(source_format="marc21")
    doc.local_id = (_control(record, "001") or "").strip() or None
    leader = str(record.leader)
    doc.encoding_level = leader[17] if len(leader) > 17 else None
    _titles(record, doc, linked)
    if not doc.title:
        raise CrosswalkError("record has no title (245 $a/$k, 130, 240, 246)")
    _names(record, doc, linked)
    _identifiers(record, doc)
    _publication(record, doc, linked)
    fixed = _control(record, "008") or ""
    _languages(record, doc, fixed)
    doc.format = marc21_format(record, leader, fixed)
    _subjects_and_classes(record, doc)
    _description(record, doc, linked)
    doc.holdings = marc21_holdings(record)
    return doc


def _control(record: MarcRecord, tag: str) -> str | None:
    field = record.get(tag)
    return field.data if field is not None and field.control_field else None


def _titles(record: MarcRecord, doc: BibDocument, linked: dict[tuple[str, str], Field]) -> None:
    f245 = record.get("245")
    main = _preferred(f245, linked)
    if main is not None:
        doc.title, marked = clean_title(main.get("a") or main.get("k"))
        doc.subtitle, parallel = _subtitle(main)
        add_unique(doc.parallel_titles, parallel)
        doc.part = _join(main, "np", ". ")
        doc.responsibility = clean(main.get("c"))
        nonfiling = main.indicator2 or " "
        if nonfiling.isdigit() and doc.title and int(nonfiling) < len(doc.title):
            doc.title_nonfiling = int(nonfiling)
        doc.title_nonfiling = marked or doc.title_nonfiling
        if main is not f245 and f245 is not None:
            romanised, romanised_subtitle = clean(f245.get("a")), _subtitle(f245)[0]
            add_unique(doc.parallel_titles, " : ".join(t for t in (romanised, romanised_subtitle) if t))
    for field in record.get_fields("246"):
        if field.indicator2 == "1":
            add_unique(doc.parallel_titles, clean(field.get("a")))
    if not doc.title:  # no 245 $a: fall back on a uniform or varying title
        for tag in ("130", "240", "246"):
            for field in record.get_fields(tag):
                doc.title = clean(field.get("a"))
                if doc.title:
                    return


def _subtitle(field: Field) -> tuple[str | None, str | None]:
    """245 $b as (subtitle, parallel title): after a subfield ending in "=" it is a parallel title."""
    previous = ""
    for sub in field.subfields:
        if sub.code == "b":
            value = clean(sub.value)
            return (None, value) if previous.rstrip().endswith("=") else (value, None)
        previous = sub.value
    return None, None


def _names(record: MarcRecord, doc: BibDocument, linked: dict[tuple[str, str], Field]) -> None:
    """Names in tag order (1XX, then 700, 710, 711), each tag's fields in record order: LC records
    entered under title often give a 710 before the 700, and UNIMARC orders its 7XX by tag too, so
    both sides name the same first author."""
    for field in sorted(record.get_fields(*_NAME_TAGS), key=lambda f: _NAME_TAGS.index(f.tag)):
        vernacular = _vernacular(field, linked)
        if vernacular is not None:
            add_unique(doc.authors, _name(vernacular))
        add_unique(doc.authors, _name(field))


def _identifiers(record: MarcRecord, doc: BibDocument) -> None:
    for field in record.get_fields("020"):
        split_isbns(field.get_subfields("a"), doc.isbns, doc.invalid_isbns)
        qualifier = " ".join(field.get_subfields("q"))
        package_isbns(((value, qualifier) for value in field.get_subfields("a")), doc.package_isbns)
        for value in field.get_subfields("z"):
            add_unique(doc.invalid_isbns, value.strip())
    for field in record.get_fields("022"):
        add_unique(doc.issns, normalise_issn(field.get("a")))
    for field in record.get_fields("010"):
        add_unique(doc.lccn, normalise_lccn(field.get("a")))
    for field in record.get_fields("035"):
        for value in field.get_subfields("a"):
            match = _OCLC_RE.match(value.strip())
            if match:
                add_unique(doc.oclc, match.group(1))
    if (_control(record, "003") or "").strip().upper() == "OCOLC":
        number = (_control(record, "001") or "").strip().lstrip("ocmn").lstrip("0")
        if number.isdigit():
            add_unique(doc.oclc, number)
    for field in record.get_fields("015", "016"):
        source = field.get("2") or ("LAC" if field.tag == "016" and field.indicator1 == " " else None)
        for value in field.get_subfields("a"):
            number = clean(value)
            if number:
                add_unique(doc.national_numbers, f"{source.upper()}:{number}" if source else number)


def _publication(record: MarcRecord, doc: BibDocument, linked: dict[tuple[str, str], Field]) -> None:
    f264 = record.get_fields("264")
    candidates = [f for f in f264 if f.indicator2 == "1"] + record.get_fields("260") + f264
    field = _preferred(candidates[0], linked) if candidates else None
    if field is not None:
        doc.place = clean(field.get("a"))
        doc.publisher = clean(field.get("b"))
        if field is not candidates[0]:
            doc.publisher_romanised = clean(candidates[0].get("b"))
    fixed = _control(record, "008") or ""
    date1 = fixed[7:11]
    if date1.isdigit():
        doc.year = int(date1)
        doc.year_end = closing_year(fixed[6:7], doc.year, fixed[11:15], single="srtep", span="m")
    elif candidates:
        doc.year = year_from(candidates[0].get("c"))
    edition = _preferred(record.get("250"), linked)
    if edition is not None:
        doc.edition = _join(edition, "ab")


def _languages(record: MarcRecord, doc: BibDocument, fixed: str) -> None:
    code = fixed[35:38].strip().lower()
    if len(code) == 3 and code.isalpha():
        doc.languages.append(code)
    for field in record.get_fields("041"):
        for value in field.get_subfields("a"):
            value = value.strip().lower()
            for i in range(0, len(value) - 2, 3):  # old records run codes together: "engfre"
                if value[i : i + 3].isalpha():
                    add_unique(doc.languages, value[i : i + 3])


def marc21_format(record: MarcRecord, leader: str, fixed: str) -> str:
    """The document format from leader/06-07, 007, 008 and 33X/502 (see module docstring)."""
    kind = leader[6:7]
    level = leader[7:8]
    simple = {"e": "map", "f": "map", "c": "score", "d": "score", "i": "audio", "j": "audio", "g": "video"}
    if kind in simple:
        return simple[kind]
    if kind in ("k", "o", "p", "r"):
        return "other"
    if kind == "m" or _online(record, fixed):
        return "eresource"
    if level in ("b", "i", "s"):
        return "serial"
    if "502" in record:
        return "thesis"
    return "book"


def _online(record: MarcRecord, fixed: str) -> bool:
    if fixed[23:24] in ("o", "q", "s"):
        return True
    for field in record.get_fields("007"):
        if field.data[:1] == "c":
            return True
    for field in record.get_fields("338"):
        if (field.get("b") or "").strip() == "cr" or "online" in (field.get("a") or "").lower():
            return True
    return any((f.get("b") or "").strip() == "c" for f in record.get_fields("337") if f.get("2") == "rdamedia")


def _subjects_and_classes(record: MarcRecord, doc: BibDocument) -> None:
    for field in record.fields:
        if "6" <= field.tag < "690" and not field.control_field:  # 6XX below the local 69X
            main = " ".join([s.value for s in field.subfields if s.code in _SUBJECT_MAIN])
            parts = [clean(main)] + [clean(s.value) for s in field.subfields if s.code in _SUBJECT_SUBDIVISIONS]
            add_unique(doc.subjects, " -- ".join([p for p in parts if p]) or None)
    classes: dict[str, list[str]] = {}
    for field in record.get_fields("050", "090"):
        _add_class(classes, "lcc", _join(field, "ab"))
    for field in record.get_fields("082"):
        _add_class(classes, "ddc", clean((field.get("a") or "").replace("/", "").replace("'", "")))
    for field in record.get_fields("080"):
        _add_class(classes, "udc", clean(field.get("a")))
    for field in record.get_fields("084"):
        source = (field.get("2") or "").strip().lower()
        if any(s.lower() in source for s in _CLC_SOURCES):
            for value in field.get_subfields("a"):
                _add_class(classes, "clc", clean(value))
    doc.classification = classes


def _add_class(classes: dict[str, list[str]], scheme: str, value: str | None) -> None:
    if value:
        add_unique(classes.setdefault(scheme, []), value)


def _description(record: MarcRecord, doc: BibDocument, linked: dict[tuple[str, str], Field]) -> None:
    for field in record.get_fields("490", "440", "800", "810", "811", "830"):
        field = _preferred(field, linked) or field
        series_tag = (field.get("6") or "")[:3] if field.tag == "880" else field.tag
        title = _join(field, "atnp") if series_tag in ("440", "490", "830") else _join(field, "tnp")
        volume = clean(field.get("v"))
        if title:
            add_unique(doc.series, f"{title} ; {volume}" if volume else title)
    for field in record.get_fields("500", "502", "520"):
        add_unique(doc.notes, clean(field.get("a")))
    for field in record.get_fields("856"):
        for url in field.get_subfields("u"):
            label = field.get("y") or field.get("3") or field.get("z")
            doc.links.append(Link(url=url.strip(), label=clean(label)))
    extent_field = record.get("300")
    if extent_field is not None:
        doc.extent = clean(" ".join([s.value for s in extent_field.subfields if s.code in "abce"]))
        doc.pages = pages_from(extent_field.get("a"))
    source = record.get("040")
    if source is not None:
        doc.cataloguing_source = clean(source.get("a"))
