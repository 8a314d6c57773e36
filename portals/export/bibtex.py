"""BibTeX export (UTF-8, for biber/biblatex and BibTeX alike).

Values are wrapped in braces; titles in double braces so styles keep their capitalisation;
names written as one unit (CJK personal names such as ``曹雪芹``, corporate bodies) get their own
braces so BibTeX never splits them into first and last names; LaTeX's special characters are
escaped.
"""

from __future__ import annotations

import re
from typing import Any

from portals.bib import BABEL_NAMES, citable
from portals.names import Name

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SPECIAL_RE = re.compile(r"[\\&%$#_{}~^]")


def escape(text: str) -> str:
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], " ".join(text.split()))


def _name(name: Name) -> str:
    if name.literal:
        return "{" + escape(name.literal) + "}"
    if name.given:
        return f"{escape(name.family or '')}, {escape(name.given)}"
    return escape(name.family or "")


def entry(record: dict[str, Any], base_url: str = "") -> str:
    view = citable(record, base_url)
    fields: list[tuple[str, str]] = []
    if view.names:
        fields.append(("author", " and ".join(_name(n) for n in view.names)))
    fields.append(("title", "{" + escape(view.full_title) + "}"))
    for key, value in (("publisher", view.publisher), ("address", view.place), ("edition", view.edition)):
        if value:
            fields.append((key, escape(value)))
    if view.year:
        fields.append(("year", str(view.year)))
    if view.isbns:
        fields.append(("isbn", ", ".join(view.isbns)))
    if view.issns:
        fields.append(("issn", ", ".join(view.issns)))
    if view.series:
        fields.append(("series", escape(view.series[0])))
    if view.language:
        fields.append(("language", BABEL_NAMES.get(view.language, view.language)))
    if view.subjects:
        fields.append(("keywords", escape(", ".join(view.subjects))))
    if view.url:
        fields.append(("url", view.url))
    body = ",\n".join(f"  {key} = {{{value}}}" for key, value in fields)
    return f"@{view.types()[2]}{{{view.id},\n{body}\n}}\n"


def write(records: list[dict[str, Any]], *, base_url: str = "") -> bytes:
    return "\n".join(entry(r, base_url) for r in records).encode("utf-8")
