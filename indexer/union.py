"""From a cluster's source records to one union record: the best record's display fields, identifiers
and subjects merged from all, and the holdings of every member.

Pure functions over plain data, shared by the Elasticsearch projection and the record API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import isbnlib

from mappings.analysis import cjk_text, pinyin_text
from mappings.suggest import suggestion_fields
from mappings.textnorm import fold

#: Display record preference for records catalogued by consortium centres.
ROLE_BONUS = {"national": 30.0, "regional": 15.0, "member": 0.0}
#: MARC 21 / UNIMARC leader/17: full-level records are better display records.
ENCODING_BONUS = {" ": 6.0, "1": 4.0, "4": 3.0, "I": 5.0, "L": 3.0, "7": 1.0, "3": 0.0, "5": 0.0, "8": -2.0}
COMPLETENESS_FIELDS = (
    "title",
    "authors",
    "isbns",
    "publisher",
    "year",
    "edition",
    "subjects",
    "classification",
    "extent",
    "languages",
    "series",
    "place",
)


@dataclass(frozen=True)
class MemberInfo:
    code: str
    name_zh: str
    name_en: str
    region: str
    role: str = "member"


@dataclass
class SourceView:
    """One live source record of a cluster, as the union builder needs it."""

    member: MemberInfo
    local_id: str
    document: dict[str, Any]
    datestamp: str | None = None
    source_format: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def completeness(source: SourceView) -> float:
    doc = source.document
    score = sum(8.0 for name in COMPLETENESS_FIELDS if doc.get(name))
    score += min(len((doc.get("title") or "") + (doc.get("subtitle") or "")) / 20.0, 4.0)
    score += min(len(doc.get("subjects") or []), 5) * 1.0
    score += ENCODING_BONUS.get((doc.get("encoding_level") or "?")[:1], 0.0)
    score += ROLE_BONUS.get(source.member.role, 0.0)
    return score


def best_source(sources: list[SourceView]) -> SourceView:
    """The display record: highest completeness; ties go to the smallest (member, local id)."""
    if len(sources) == 1:
        return sources[0]
    return sorted(sources, key=lambda s: (-completeness(s), s.member.code, s.local_id))[0]


def _merged(sources: list[SourceView], name: str, *, key=lambda v: v) -> list[Any]:  # type: ignore[no-untyped-def]
    """The values of list field ``name`` of every source, in order, each ``key`` once."""
    if len(sources) == 1:  # most union records: nothing to merge, and nothing to fold for one value
        values = sources[0].document.get(name) or []
        if len(values) < 2:
            return list(values)
    seen: set[Any] = set()
    merged: list[Any] = []
    for source in sources:
        for value in source.document.get(name) or []:
            marker = key(value)
            if marker not in seen:
                seen.add(marker)
                merged.append(value)
    return merged


def _holdings(sources: list[SourceView]) -> list[dict[str, Any]]:
    by_member: dict[str, dict[str, Any]] = {}
    for source in sorted(sources, key=lambda s: (s.member.code, s.local_id)):
        entry = by_member.setdefault(
            source.member.code,
            {
                "member": source.member.code,
                "member_name": {"zh": source.member.name_zh, "en": source.member.name_en},
                "region": source.member.region,
                "local_ids": [],
                "call_number": None,
                "location": None,
                "items": 0,
                "as_of": None,
                "harvested_items": [],
            },
        )
        entry["local_ids"].append(source.local_id)
        for holding in source.document.get("holdings") or []:
            entry["harvested_items"].append(holding)
            entry["items"] += int(holding.get("items") or 1)
            entry["call_number"] = entry["call_number"] or holding.get("call_number")
            entry["location"] = entry["location"] or holding.get("location") or holding.get("collection")
        if source.datestamp and (entry["as_of"] is None or source.datestamp > entry["as_of"]):
            entry["as_of"] = source.datestamp
    for entry in by_member.values():
        entry["items"] = entry["items"] or len(entry["local_ids"])
    return list(by_member.values())


def build_union(union_id: str, sources: list[SourceView]) -> dict[str, Any]:
    """The union record as the API shows it (display fields + merged identifiers + holdings + sources)."""
    if not sources:
        raise ValueError(f"union record {union_id} has no live source records")
    best = best_source(sources)
    doc = best.document
    classification: dict[str, list[str]] = {}
    for source in sources:
        for scheme, values in (source.document.get("classification") or {}).items():
            bucket = classification.setdefault(scheme, [])
            bucket.extend(v for v in values if v not in bucket)
    holdings = _holdings(sources)
    return {
        "id": union_id,
        "title": doc.get("title"),
        "subtitle": doc.get("subtitle"),
        "parallel_titles": _merged(sources, "parallel_titles", key=fold),
        "part": doc.get("part"),
        "responsibility": doc.get("responsibility"),
        "authors": doc.get("authors") or _merged(sources, "authors", key=fold),
        "publisher": doc.get("publisher"),
        "place": doc.get("place"),
        "year": doc.get("year"),
        "edition": doc.get("edition"),
        "format": doc.get("format") or "book",
        "languages": _merged(sources, "languages"),
        "isbns": _merged(sources, "isbns"),
        "issns": _merged(sources, "issns"),
        "oclc": _merged(sources, "oclc"),
        "lccn": _merged(sources, "lccn"),
        "national_numbers": _merged(sources, "national_numbers"),
        "subjects": _merged(sources, "subjects", key=fold),
        "classification": classification,
        "series": _merged(sources, "series", key=fold),
        "notes": doc.get("notes") or [],
        "links": _merged(sources, "links", key=lambda link: link.get("url")),
        "extent": doc.get("extent"),
        "display_source": {"member": best.member.code, "local_id": best.local_id},
        "holdings": holdings,
        "holdings_count": len(holdings),
        "regions": sorted({h["region"] for h in holdings}),
        "sources": [
            {"member": s.member.code, "local_id": s.local_id, "datestamp": s.datestamp, "format": s.source_format}
            for s in sorted(sources, key=lambda s: (s.member.code, s.local_id))
        ],
    }


def _folded(*values: Any) -> str:
    """The values (strings or lists of them) folded and joined by spaces.

    Each part is folded on its own, which gives the fold of the parts joined by whitespace (the
    fold works within whitespace-separated runs: see :func:`mappings.textnorm.fold`; held equal on
    real records by ``tests/core/test_build_snapshot.py``) and lets short parts that recur across
    records (publishers, places, series, headings) come from the fold's cache."""
    folded: list[str] = []
    for value in values:
        if not value:
            continue
        for part in value if isinstance(value, (list, tuple)) else (value,):
            if part and (text := fold(str(part))):
                folded.append(text)
    return " ".join(folded)


def to_es_document(union: dict[str, Any], updated_at: str | None = None) -> dict[str, Any]:
    """The Elasticsearch document for a union record (folded search fields + display copy)."""
    titles = [union.get("title"), union.get("subtitle"), union.get("part"), *union.get("parallel_titles", [])]
    isbn10s = [_isbn10(i) for i in union["isbns"]]
    ids = [*union["oclc"], *union["lccn"], *union["national_numbers"]]
    display_keys = (
        "title",
        "subtitle",
        "part",
        "parallel_titles",
        "authors",
        "responsibility",
        "publisher",
        "place",
        "year",
        "edition",
        "format",
        "languages",
        "isbns",
        "issns",
        "subjects",
        "series",
        "extent",
        "holdings_count",
    )
    display = {k: union.get(k) for k in display_keys}
    display["members"] = [
        {"code": h["member"], "name": h["member_name"], "region": h["region"]} for h in union["holdings"]
    ]
    classification = [f"{scheme}:{v}" for scheme, values in union["classification"].items() for v in values]
    searchable = {
        "title_t": _folded(*titles),
        "author_t": _folded(union["authors"], union.get("responsibility")),
        "subject_t": _folded(union["subjects"]),
        "series_t": _folded(union["series"]),
    }
    publisher = _folded(union.get("publisher"))
    others = _folded(
        union.get("place"), union.get("edition"), union.get("notes"), union["isbns"], isbn10s, union["issns"], ids
    )
    rest = f"{publisher} {others}" if publisher and others else publisher or others
    # Folding works on whitespace-separated runs, so the whole text is the folded parts joined
    # (each part is folded once, not twice).
    all_text = " ".join(part for part in (*searchable.values(), rest) if part)
    return {
        "id": union["id"],
        **searchable,
        "all_t": all_text,
        **suggestion_fields(display, union["holdings_count"]),
        **_analysed_fields(searchable, publisher, all_text),
        "callnumber": _call_numbers(union),
        "title_sort": fold(union.get("title") or "")[:200],
        "isbn": sorted({*union["isbns"], *(i for i in isbn10s if i)}),
        "issn": union["issns"],
        "ids": ids,
        "member": [h["member"] for h in union["holdings"]],
        "region": union["regions"],
        "format": union["format"],
        "language": union["languages"],
        "subject": [s.split(" -- ")[0][:KEYWORD_CHARS] for s in union["subjects"]][:50],
        "classification": [c[:KEYWORD_CHARS] for c in classification],
        "year": union.get("year"),
        "holdings_count": union["holdings_count"],
        "source_count": len(union["sources"]),
        "updated_at": updated_at,
        "display": display,
    }


#: Keyword values (facets) are cut to this many characters: Elasticsearch refuses a whole document
#: whose keyword term exceeds 32,766 bytes (4 bytes a character at most), and a subject that long
#: is a pasted table of contents, not a heading. The full text stays in ``subject_t`` and display.
KEYWORD_CHARS = 1000


def _analysed_fields(searchable: dict[str, str], publisher: str, all_text: str) -> dict[str, str]:
    """The issue 13 search fields: CJK bigrams of every text field, pinyin of title, authors and
    subjects (see :mod:`mappings.analysis`), and the publisher on its own for ``publisher:``."""
    return {
        "publisher_t": publisher,
        "title_cjk": cjk_text(searchable["title_t"]),
        "author_cjk": cjk_text(searchable["author_t"]),
        "subject_cjk": cjk_text(searchable["subject_t"]),
        "series_cjk": cjk_text(searchable["series_t"]),
        "publisher_cjk": cjk_text(publisher),
        "all_cjk": cjk_text(all_text),
        "title_py": pinyin_text(searchable["title_t"]),
        "author_py": pinyin_text(searchable["author_t"]),
        "subject_py": pinyin_text(searchable["subject_t"]),
    }


def _call_numbers(union: dict[str, Any]) -> list[str]:
    """Every member's call numbers and the record's class numbers, folded, for ``callnumber:``."""
    found: dict[str, None] = {}
    for entry in union["holdings"]:
        for value in [entry.get("call_number"), *(i.get("call_number") for i in entry.get("harvested_items") or [])]:
            if value:
                found[fold(value)[:100]] = None
    for values in union["classification"].values():
        for value in values:
            found[fold(value)[:100]] = None
    found.pop("", None)
    return list(found)[:50]


def _isbn10(isbn13: str) -> str | None:
    """The ISBN-10 of a 978 ISBN-13, as :func:`isbnlib.to_isbn10` gives it (checked digit strings
    take a fast path: isbnlib's general clean-up cost more than the rest of the document)."""
    if len(isbn13) != 13 or not (isbn13.isascii() and isbn13.isdigit()):
        return isbnlib.to_isbn10(isbn13) or None
    if not isbn13.startswith("978"):
        return None
    digits = list(map(int, isbn13))
    if (10 - (sum(digits[0:12:2]) + 3 * sum(digits[1:12:2])) % 10) % 10 != digits[12]:
        return None
    check = (11 - sum(map(int.__mul__, digits[3:12], _ISBN10_WEIGHTS)) % 11) % 11
    return isbn13[3:12] + ("X" if check == 10 else str(check))


_ISBN10_WEIGHTS = range(10, 1, -1)
