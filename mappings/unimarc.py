"""UNIMARC and CNMARC bibliographic record → :class:`BibDocument`.

CNMARC follows UNIMARC for everything mapped here. Uppercase subfield codes (dp2/Aleph put
pinyin in ``$A``/``$F``) are ignored. Names: ``$a`` surname and ``$b`` forename are joined as
"surname, forename" in Latin script and without a separator for Han names (曹 + 雪芹 → 曹雪芹);
``$c`` additions and ``$f`` dates follow after commas, as MARC 21's ``$c`` and ``$d`` do.
Authors are ordered by responsibility: 700/710 (primary), 701/711 (alternative), 702/712
(secondary).

Format: leader/06 e,f → map; c,d → score; i,j → audio; g → video; k,m,r → other; l, or 135
present, or 106 $a ``s`` → eresource; leader/07 s,i → serial; thesis when 105 $a/4-7 has ``m``
or a 328 note is present; else book.
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
    package_isbns,
    pages_from,
    split_isbns,
    year_from,
)
from mappings.document import BibDocument, Link
from mappings.holdings import unimarc_holdings
from mappings.indexed import IndexedRecord, MarcRecord
from mappings.marclib import Field
from mappings.textnorm import has_han

_OCLC_RE = re.compile(r"^\(OCoLC\)\s*(?:ocm|ocn|on)?\s*0*(\d+)", re.IGNORECASE)
_NAME_ORDER = ("700", "710", "720", "701", "711", "721", "702", "712", "722")
_SUBJECT_TAGS = ("600", "601", "602", "604", "605", "606", "607", "608", "610")
_NB_PREFIX = {"CN": "CNB", "FR": "BNF"}


def map_unimarc(record: MarcRecord) -> BibDocument:
    """Map a decoded UNIMARC/CNMARC record; :class:`CrosswalkError` when it has no title."""
    record = IndexedRecord.of(record)
    doc = BibDocument(source_format="unimarc")
    f001 = record.get("001")
    doc.local_id = f001.data.strip() if f001 is not None and f001.control_field else None
    leader = str(record.leader)
    doc.encoding_level = leader[17] if len(leader) > 17 else None
    _title(record, doc)
    if not doc.title:
        raise CrosswalkError("record has no title (200 $a)")
    _names(record, doc)
    _identifiers(record, doc)
    _publication(record, doc)
    doc.format = unimarc_format(record, leader)
    _subjects_and_classes(record, doc)
    _description(record, doc)
    doc.holdings = unimarc_holdings(record)
    return doc


def _first(record: MarcRecord, tag: str) -> Field | None:
    fields = record.get_fields(tag)
    return fields[0] if fields and not fields[0].control_field else None


def _title(record: MarcRecord, doc: BibDocument) -> None:
    field = _first(record, "200")
    if field is not None:
        doc.title, doc.title_nonfiling = clean_title(field.get("a"))
        doc.subtitle = clean(field.get("e"))
        doc.part = join_clean(field.get_subfields("h", "i"), ". ")
        doc.responsibility = join_clean(field.get_subfields("f", "g"), " ; ")
        for value in field.get_subfields("d"):
            add_unique(doc.parallel_titles, clean(value.lstrip("= ")))
    for field in record.get_fields("510"):
        add_unique(doc.parallel_titles, clean_title(field.get("a"))[0])
    if not doc.title:
        for tag in ("500", "517", "510", "540"):
            for field in record.get_fields(tag):
                doc.title = clean_title(field.get("a"))[0]
                if doc.title:
                    return


def name_of(field: Field) -> str | None:
    """Display form of a UNIMARC 7XX/60X name field."""
    if field.tag[1:2] == "0" or field.tag == "600":  # personal name
        surname = clean(field.get("a"))
        # Some catalogues key the ISBD comma into the forename ("$aAsimov$b, Isaac").
        forename = clean((field.get("b") or "").lstrip(" ,;:"))
        if surname and forename:
            han = has_han(surname) and has_han(forename)
            base = f"{surname}{forename}" if han else f"{surname}, {forename}"
        else:
            base = surname or forename
        # $c (additions other than dates: "Sir", "Saint") as MARC 21 100/700 $c is kept.
        additions = join_clean(field.get_subfields("c"), ", ")
        if base and additions:
            base = f"{base}, {additions}"
        dates = clean(field.get("f"))
        return f"{base}, {dates}" if base and dates else base
    return join_clean(field.get_subfields("a", "b", "d", "e", "f"), " ")


def _names(record: MarcRecord, doc: BibDocument) -> None:
    for tag in _NAME_ORDER:
        for field in record.get_fields(tag):
            add_unique(doc.authors, name_of(field))


def _identifiers(record: MarcRecord, doc: BibDocument) -> None:
    for field in record.get_fields("010"):
        split_isbns(field.get_subfields("a"), doc.isbns, doc.invalid_isbns)
        qualifier = " ".join(field.get_subfields("b"))
        package_isbns(((value, qualifier) for value in field.get_subfields("a")), doc.package_isbns)
        for value in field.get_subfields("z"):
            add_unique(doc.invalid_isbns, value.strip())
    for field in record.get_fields("011"):
        add_unique(doc.issns, normalise_issn(field.get("a")))
    for field in record.get_fields("020"):
        country = (field.get("a") or "").strip().upper()
        number = clean(field.get("b"))
        if number:
            prefix = _NB_PREFIX.get(country, country)
            add_unique(doc.national_numbers, f"{prefix}:{number}" if prefix else number)
    for field in record.get_fields("035"):
        match = _OCLC_RE.match((field.get("a") or "").strip())
        if match:
            add_unique(doc.oclc, match.group(1))


def _publication(record: MarcRecord, doc: BibDocument) -> None:
    fields = [f for f in record.get_fields("214") if f.indicator2 in ("0", " ")] + record.get_fields("210")
    if fields:
        doc.place = clean(fields[0].get("a"))
        doc.publisher = clean(fields[0].get("c"))
    general = _first(record, "100")
    data = (general.get("a") or "") if general is not None else ""
    if data[9:13].isdigit():
        doc.year = int(data[9:13])
        doc.year_end = closing_year(data[8:9], doc.year, data[13:17], single="dehj", span="g")
    elif fields:
        doc.year = year_from(fields[0].get("d"))
    edition = _first(record, "205")
    if edition is not None:
        doc.edition = join_clean(edition.get_subfields("a", "b"), ", ")
    for field in record.get_fields("101"):
        for value in field.get_subfields("a"):
            code = value.strip().lower()
            if len(code) == 3 and code.isalpha():
                add_unique(doc.languages, code)


def unimarc_format(record: MarcRecord, leader: str) -> str:
    """The document format from leader/06-07, 105, 106, 135 and 328 (see module docstring)."""
    kind, level = leader[6:7], leader[7:8]
    simple = {"e": "map", "f": "map", "c": "score", "d": "score", "i": "audio", "j": "audio", "g": "video"}
    if kind in simple:
        return simple[kind]
    if kind in ("k", "m", "r"):
        return "other"
    form = _first(record, "106")
    if kind == "l" or "135" in record or (form is not None and (form.get("a") or "")[:1] == "s"):
        return "eresource"
    if level in ("s", "i"):
        return "serial"
    coded = _first(record, "105")
    if "328" in record or (coded is not None and "m" in (coded.get("a") or "")[4:8]):
        return "thesis"
    return "book"


def _subjects_and_classes(record: MarcRecord, doc: BibDocument) -> None:
    for field in record.get_fields(*_SUBJECT_TAGS):
        main = name_of(field) if field.tag in ("600", "601") else clean(field.get("a"))
        parts = [main] + [clean(s.value) for s in field.subfields if s.code in "jxyz"]
        add_unique(doc.subjects, " -- ".join(p for p in parts if p) or None)
    classes: dict[str, list[str]] = {}
    schemes = {"690": "clc", "675": "udc", "676": "ddc", "680": "lcc"}
    for tag, scheme in schemes.items():
        for field in record.get_fields(tag):
            value = join_clean(field.get_subfields("a", "b"), " ") if tag == "680" else clean(field.get("a"))
            if value:
                add_unique(classes.setdefault(scheme, []), value)
    for field in record.get_fields("686"):
        if "clc" in (field.get("2") or "").lower() or "中图" in (field.get("2") or ""):
            for value in field.get_subfields("a"):
                add_unique(classes.setdefault("clc", []), clean(value))
    doc.classification = classes


def _description(record: MarcRecord, doc: BibDocument) -> None:
    for field in record.get_fields("225"):
        title = clean(field.get("a"))
        volume = clean(field.get("v"))
        if title:
            add_unique(doc.series, f"{title} ; {volume}" if volume else title)
    for field in record.get_fields("300", "328", "330"):
        add_unique(doc.notes, clean(field.get("a")))
    for field in record.get_fields("856"):
        for url in field.get_subfields("u"):
            label = field.get("y") or field.get("3") or field.get("z") or field.get("2")
            doc.links.append(Link(url=url.strip(), label=clean(label)))
    extent = _first(record, "215")
    if extent is not None:
        doc.extent = _isbd_extent(extent)
        doc.pages = pages_from(extent.get("a"))
    source = _first(record, "801")
    for field in record.get_fields("801"):
        if field.indicator2 == "0":
            source = field
            break
    if source is not None:
        doc.cataloguing_source = clean(source.get("b"))


def _isbd_extent(field: Field) -> str | None:
    """215 as ISBD area 5: "320页 : 图 ; 27cm + 1光盘"."""
    out = ""
    for code, sep in (("a", ""), ("c", " : "), ("d", " ; "), ("e", " + ")):
        for value in field.get_subfields(code):
            text = clean(value)
            if text:
                out += (sep if out else "") + text
    return out or None
