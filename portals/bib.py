"""One citation-ready view of a union record, shared by every export format and citation style."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portals.names import Name, citation_names, has_cjk

#: MARC language codes (ISO 639-2/B) → ISO 639-1 / BCP 47 primary subtags, for the languages a
#: Chinese union catalogue meets most; others keep their three-letter code (also valid BCP 47).
LANGUAGE_TAGS = {
    "chi": "zh", "zho": "zh", "eng": "en", "jpn": "ja", "kor": "ko", "fre": "fr", "fra": "fr", "ger": "de",
    "deu": "de", "rus": "ru", "spa": "es", "ita": "it", "por": "pt", "dut": "nl", "nld": "nl", "ara": "ar",
    "lat": "la", "grc": "grc", "gre": "el", "ell": "el", "swe": "sv", "dan": "da", "nor": "no", "fin": "fi",
    "pol": "pl", "cze": "cs", "ces": "cs", "hun": "hu", "tur": "tr", "vie": "vi", "tha": "th", "mon": "mn",
    "tib": "bo", "bod": "bo", "uig": "ug", "hin": "hi", "per": "fa", "fas": "fa", "heb": "he", "ind": "id",
    "may": "ms", "msa": "ms",
}
#: English language names for BibTeX's ``language`` field (biblatex/babel names).
BABEL_NAMES = {
    "zh": "chinese", "en": "english", "ja": "japanese", "ko": "korean", "fr": "french", "de": "german",
    "ru": "russian", "es": "spanish", "it": "italian", "pt": "portuguese", "nl": "dutch", "la": "latin",
}
#: unicat formats → (CSL type, RIS type, BibTeX entry type).
TYPES = {
    "book": ("book", "BOOK", "book"),
    "serial": ("periodical", "JFULL", "periodical"),
    "eresource": ("book", "EBOOK", "book"),
    "thesis": ("thesis", "THES", "phdthesis"),
    "map": ("map", "MAP", "misc"),
    "score": ("musical_score", "MUSIC", "misc"),
    "audio": ("song", "SOUND", "misc"),
    "video": ("motion_picture", "VIDEO", "misc"),
    "other": ("book", "GEN", "misc"),
}


def language_tag(code: str | None) -> str | None:
    if not code:
        return None
    code = code.strip().lower()
    return LANGUAGE_TAGS.get(code, code if len(code) in (2, 3) and code.isalpha() else None)


@dataclass
class Citable:
    id: str
    kind: str
    title: str
    subtitle: str | None
    names: list[Name]
    year: int | None
    publisher: str | None
    place: str | None
    edition: str | None
    isbns: list[str]
    issns: list[str]
    languages: list[str]  # BCP 47 tags
    subjects: list[str]
    extent: str | None
    series: list[str]
    url: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def full_title(self) -> str:
        if not self.subtitle:
            return self.title
        joiner = "：" if has_cjk(self.title) else ": "
        return f"{self.title}{joiner}{self.subtitle}"

    @property
    def language(self) -> str | None:
        return self.languages[0] if self.languages else None

    def types(self) -> tuple[str, str, str]:
        return TYPES.get(self.kind, TYPES["other"])


def citable(record: dict[str, Any], base_url: str = "") -> Citable:
    """The citation view of a union record (``base_url`` makes the permalink absolute)."""
    languages = [t for t in (language_tag(c) for c in record.get("languages") or []) if t]
    title = (record.get("title") or "").strip() or "[no title]"
    if record.get("part"):
        title = f"{title}. {record['part']}"
    return Citable(
        id=record["id"],
        kind=record.get("format") or "book",
        title=title,
        subtitle=(record.get("subtitle") or "").strip() or None,
        names=citation_names(record.get("authors") or []),
        year=record.get("year"),
        publisher=record.get("publisher"),
        place=record.get("place"),
        edition=record.get("edition"),
        isbns=list(record.get("isbns") or []),
        issns=list(record.get("issns") or []),
        languages=list(dict.fromkeys(languages)),
        subjects=list(record.get("subjects") or []),
        extent=record.get("extent"),
        series=list(record.get("series") or []),
        url=f"{base_url.rstrip('/')}/records/{record['id']}" if base_url else None,
        notes=list(record.get("notes") or [])[:3],
    )
