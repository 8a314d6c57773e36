"""Personal and corporate names of catalogue headings, as citation formats want them.

A catalogue heading ``Austen, Jane, 1775-1817`` is family ``Austen``, given ``Jane``. A Chinese,
Japanese or Korean name in its own script (``曹雪芹``) is written family name first with no
separator and is never split: it stays one literal name. Records catalogued in CJK often give the
romanised heading too (``曹雪芹`` and ``Cao, Xueqin``); citations keep the original script only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HAN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_DATES = re.compile(r",?\s*(?:\d{3,4}\??-?(?:\d{3,4}\??)?|active [^,]*|fl\. [^,]*|b\. \d+|d\. \d+)\s*$")
_CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_GAP = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
_TRAILING = re.compile(r"[\s,.;:/]+$")


@dataclass(frozen=True)
class Name:
    family: str | None = None
    given: str | None = None
    #: A name written as one unit: CJK personal names and corporate bodies.
    literal: str | None = None

    def display(self) -> str:
        if self.literal:
            return self.literal
        return ", ".join(p for p in (self.family, self.given) if p)


def has_cjk(text: str | None) -> bool:
    return bool(text and _HAN.search(text))


def clean_heading(heading: str) -> str:
    """The heading without its dates, role words and trailing punctuation."""
    text = _TRAILING.sub("", heading.strip())
    previous = None
    while previous != text:
        previous = text
        text = _TRAILING.sub("", _DATES.sub("", text))
    return text


def parse_name(heading: str) -> Name:
    text = clean_heading(heading)
    if has_cjk(text):
        return Name(literal=_CJK_GAP.sub("", text))
    if "," in text:
        family, given = (p.strip() for p in text.split(",", 1))
        given = given.split(",")[0].strip()
        return Name(family=family, given=given or None)
    return Name(literal=text)


def citation_names(headings: list[str]) -> list[Name]:
    """The names a citation lists: romanised duplicates of CJK names dropped, order kept."""
    names = [parse_name(h) for h in headings if h and h.strip()]
    if any(n.literal and has_cjk(n.literal) for n in names):
        names = [n for n in names if has_cjk(n.display())]
    seen: set[str] = set()
    unique = []
    for name in names:
        if name.display() not in seen:
            seen.add(name.display())
            unique.append(name)
    return unique
