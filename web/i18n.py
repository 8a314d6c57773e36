"""Interface translations from gettext catalogs (``web/translations/<locale>/LC_MESSAGES/*.po``).

Each area keeps its own catalog file (``messages.po`` for discovery, ``ill.po``, ``holdings.po``);
all the files of a locale are merged.

Source strings are English; ``zh_Hans`` is the default interface language. Catalogs are read with
Babel once per process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LOCALES = ("zh_Hans", "en")
DEFAULT_LOCALE = "zh_Hans"
LOCALE_COOKIE = "unicat_lang"


@cache
def translations(locale: str) -> NullTranslations:
    files = sorted((TRANSLATIONS_DIR / locale / "LC_MESSAGES").glob("*.po"))
    if not files:
        return NullTranslations()
    trans = Translations()
    trans._catalog = {}  # type: ignore[attr-defined]
    for po in files:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale.replace("_Hans", ""))
        for m in catalog:
            if not m.id or not m.string:
                continue
            if isinstance(m.id, tuple):
                trans._catalog.update({(m.id[0], i): s for i, s in enumerate(m.string)})  # type: ignore[attr-defined]
            else:
                trans._catalog[m.id] = m.string  # type: ignore[attr-defined]
    trans.plural = lambda n: 0 if locale.startswith("zh") else int(n != 1)  # type: ignore[attr-defined]
    return trans


def negotiate(request: Request) -> str:
    """``?lang=`` beats the cookie, which beats Accept-Language; Chinese is the default."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LOCALE_COOKIE)):
        if candidate in LOCALES:
            return candidate
    accept = request.headers.get("accept-language", "").lower()
    if accept.startswith("en"):
        return "en"
    return DEFAULT_LOCALE
