"""RIS (Research Information Systems) export, UTF-8, one reference per union record."""

from __future__ import annotations

from typing import Any

from portals.bib import citable

EOL = "\r\n"


def _line(tag: str, value: object) -> str:
    text = " ".join(str(value).split())  # RIS values are single lines
    return f"{tag}  - {text}{EOL}"


def reference(record: dict[str, Any], base_url: str = "") -> str:
    view = citable(record, base_url)
    lines = [_line("TY", view.types()[1]), _line("ID", view.id), _line("TI", view.full_title)]
    lines += [_line("AU", name.display()) for name in view.names]
    if view.year:
        lines.append(_line("PY", view.year))
    for tag, value in (("PB", view.publisher), ("CY", view.place), ("ET", view.edition)):
        if value:
            lines.append(_line(tag, value))
    lines += [_line("SN", v) for v in [*view.isbns, *view.issns]]
    lines += [_line("T3", s) for s in view.series[:1]]
    lines += [_line("LA", tag) for tag in view.languages]
    lines += [_line("KW", s) for s in view.subjects]
    if view.extent:
        lines.append(_line("SP", view.extent))
    if view.url:
        lines.append(_line("UR", view.url))
    lines.append(f"ER  - {EOL}")
    return "".join(lines)


def write(records: list[dict[str, Any]], *, base_url: str = "") -> bytes:
    return (EOL.join(reference(r, base_url) for r in records)).encode("utf-8")
