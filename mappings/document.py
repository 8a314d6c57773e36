"""The one bibliographic document every crosswalk produces, whatever the source format."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: Values of :attr:`BibDocument.format`.
FORMATS = ("book", "serial", "eresource", "thesis", "map", "score", "audio", "video", "other")


@dataclass
class Holding:
    """What a member's own record says about its copies (852/952/999, CNMARC 905/995, ...)."""

    call_number: str | None = None
    location: str | None = None
    collection: str | None = None
    item_id: str | None = None
    status: str | None = None
    items: int = 1


@dataclass
class Link:
    url: str
    label: str | None = None


@dataclass
class BibDocument:
    """Normalised bibliographic fields. Text is kept as catalogued (display form); folding for
    search and matching happens in :mod:`mappings.textnorm` and :mod:`mappings.matchkeys`."""

    source_format: str  # "marc21" | "unimarc" | "dc"
    local_id: str | None = None
    title: str | None = None
    subtitle: str | None = None
    parallel_titles: list[str] = field(default_factory=list)
    #: Part/volume designation (245$n/$p, UNIMARC 200$h/$i); never merge volume 1 with volume 2.
    part: str | None = None
    responsibility: str | None = None
    authors: list[str] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)  # valid ISBNs as ISBN-13, in record order
    invalid_isbns: list[str] = field(default_factory=list)  # as found, for display only
    #: ISBNs the record qualifies as a box or kit ("(boxed set)", "kit", "套装"), as ISBN-13: the
    #: package, not the book it holds.
    package_isbns: list[str] = field(default_factory=list)
    issns: list[str] = field(default_factory=list)
    lccn: list[str] = field(default_factory=list)
    oclc: list[str] = field(default_factory=list)
    national_numbers: list[str] = field(default_factory=list)  # e.g. "CNB:..." / "BNF:..."
    publisher: str | None = None
    #: The publisher as romanised in the record, when ``publisher`` is its vernacular (880) form.
    publisher_romanised: str | None = None
    place: str | None = None
    year: int | None = None
    #: Last year of publication when the record says: ``year`` itself for a single date, the closing
    #: year of a set issued over several (MARC 21 008/06 s, r, t, e, p / m; UNIMARC 100$a/8 d, e, h, j / g).
    year_end: int | None = None
    edition: str | None = None
    languages: list[str] = field(default_factory=list)  # MARC/ISO 639-2 codes, e.g. "chi", "eng"
    format: str = "book"
    subjects: list[str] = field(default_factory=list)
    classification: dict[str, list[str]] = field(default_factory=dict)  # keys: "clc", "lcc", "ddc", "udc"
    series: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    pages: int | None = None
    extent: str | None = None
    #: Cataloguing source (MARC 040$a, UNIMARC 801$b) and encoding level, for picking the best record.
    cataloguing_source: str | None = None
    encoding_level: str | None = None
    holdings: list[Holding] = field(default_factory=list)
    #: Leading characters of ``title`` to skip when filing and matching ("The ", "Le "): MARC 21
    #: 245 second indicator, or the span a non-sorting marker pair enclosed.
    title_nonfiling: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (a shallow, hand-written ``asdict``: it runs once per stored record,
        and ``dataclasses.asdict`` deep-copies every value)."""
        data = {f.name: getattr(self, f.name) for f in _FIELDS}
        for name in ("parallel_titles", "authors", "isbns", "invalid_isbns", "package_isbns", "issns", "lccn", "oclc",
                     "national_numbers", "languages", "subjects", "series", "notes"):
            data[name] = list(data[name])
        data["classification"] = {k: list(v) for k, v in self.classification.items()}
        data["links"] = [vars(link).copy() for link in self.links]
        data["holdings"] = [vars(h).copy() for h in self.holdings]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BibDocument:
        data = dict(data)
        data["links"] = [Link(**link) for link in data.get("links", [])]
        data["holdings"] = [Holding(**h) for h in data.get("holdings", [])]
        return cls(**data)


_FIELDS = fields(BibDocument)
