"""The union record as one MARC 21 bibliographic record, with one 852 per holding member.

The record is built from the merged union fields (display record's description, every member's
identifiers and subjects), not copied from any one member, so it says what the union catalogue
knows. Each member holding the work gets an 852: ``$a`` member code, ``$b`` member name,
``$h`` call number, ``$c`` location when harvested, so an ILL broker can find lenders.
"""

from __future__ import annotations

from typing import Any

import pymarc
from pymarc import Field, Indicators, Subfield

from portals.names import clean_heading, has_cjk

#: unicat format → MARC leader/06 (type of record) and leader/07 (bibliographic level).
LEADER_TYPES = {
    "book": "am", "serial": "as", "eresource": "am", "thesis": "am", "map": "em", "score": "cm",
    "audio": "jm", "video": "gm", "other": "am",
}


def _field(tag: str, ind: str, *pairs: tuple[str, str | None]) -> Field | None:
    subfields = [Subfield(code, str(value)) for code, value in pairs if value not in (None, "")]
    if not subfields:
        return None
    return Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=subfields)


def _fixed_008(record: dict[str, Any]) -> str:
    year = record.get("year")
    date = f"s{year:04d}    " if isinstance(year, int) and 0 < year <= 9999 else "nuuuuuuuu"
    language = ((record.get("languages") or ["und"])[0] + "   ")[:3]
    # 00-05 entered (unknown here), 06-14 dates, 15-17 place, 18-34 material-specific, 35-37 language
    return ("      " + date + "xx " + " " * 17 + language + " d")[:40].ljust(40)


def union_to_marc(record: dict[str, Any]) -> pymarc.Record:
    """A MARC 21 record (UTF-8) for a union record from :func:`indexer.union.build_union`."""
    kind = LEADER_TYPES.get(record.get("format") or "book", "am")
    marc = pymarc.Record(force_utf8=True, leader=f"00000n{kind} a2200000 i 4500")
    marc.add_field(Field(tag="001", data=record["id"]))
    marc.add_field(Field(tag="003", data="unicat"))
    marc.add_field(Field(tag="008", data=_fixed_008(record)))
    fields: list[Field | None] = []
    fields += [_field("010", "  ", ("a", v)) for v in record.get("lccn") or []]
    fields += [_field("020", "  ", ("a", v)) for v in record.get("isbns") or []]
    fields += [_field("022", "  ", ("a", v)) for v in record.get("issns") or []]
    fields += [_field("035", "  ", ("a", f"(OCoLC){v}")) for v in record.get("oclc") or []]
    fields += [_field("041", "0 ", *(("a", code) for code in record.get("languages") or []))]
    fields += _names(record.get("authors") or [])
    fields.append(_field("245", "10" if record.get("authors") else "00", ("a", record.get("title") or "[no title]"),
                         ("b", record.get("subtitle")), ("n", record.get("part")), ("c", record.get("responsibility"))))
    fields += [_field("246", "31", ("a", t)) for t in record.get("parallel_titles") or []]
    fields.append(_field("250", "  ", ("a", record.get("edition"))))
    fields.append(_field("264", " 1", ("a", record.get("place")), ("b", record.get("publisher")),
                         ("c", str(record["year"]) if record.get("year") else None)))
    fields.append(_field("300", "  ", ("a", record.get("extent"))))
    fields += [_field("490", "0 ", ("a", s)) for s in record.get("series") or []]
    fields += [_field("500", "  ", ("a", n)) for n in (record.get("notes") or [])[:20]]
    fields += [_subject(s) for s in record.get("subjects") or []]
    fields += _holdings(record.get("holdings") or [])
    links = record.get("links") or []
    fields += [_field("856", "40", ("u", link.get("url")), ("y", link.get("label"))) for link in links]
    for item in fields:
        if item is not None:
            marc.add_ordered_field(item)
    return marc


def _names(authors: list[str]) -> list[Field | None]:
    out: list[Field | None] = []
    for position, heading in enumerate(authors):
        name = clean_heading(heading) or heading
        personal = "," in name or has_cjk(name)
        tag = ("100" if personal else "110") if position == 0 else ("700" if personal else "710")
        out.append(_field(tag, ("1 " if personal else "2 "), ("a", name)))
    return out


def _subject(heading: str) -> Field | None:
    parts = [p.strip() for p in heading.split(" -- ") if p.strip()]
    if not parts:
        return None
    return _field("650", " 4", ("a", parts[0]), *(("x", p) for p in parts[1:]))


def _holdings(holdings: list[dict[str, Any]]) -> list[Field | None]:
    fields: list[Field | None] = []
    for holding in holdings:
        names = holding.get("member_name") or {}
        fields.append(_field("852", "  ", ("a", holding["member"]), ("b", names.get("zh") or names.get("en")),
                             ("c", holding.get("location")), ("h", holding.get("call_number")),
                             ("z", names.get("en") if names.get("zh") else None)))
    return fields


def union_marcxml(record: dict[str, Any]) -> str:
    """The union record as a MARCXML ``<record>`` (MARC 21 slim namespace)."""
    from xml.etree import ElementTree

    node = pymarc.record_to_xml_node(union_to_marc(record), namespace=True)
    return ElementTree.tostring(node, encoding="unicode")
