"""Display names for codes shown on pages (languages), in the page's language, from Babel's CLDR data."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from babel import Locale

_TABLE = Path(__file__).resolve().parent.parent / "mappings" / "tables" / "iso639.json"


@cache
def _alpha2() -> dict[str, str]:
    """MARC / ISO 639-2 bibliographic code → ISO 639-1 (what CLDR names are keyed by)."""
    table: dict[str, str] = json.loads(_TABLE.read_text(encoding="utf-8"))
    inverted = {three: two for two, three in table.items()}
    inverted.update({"chi": "zh", "zho": "zh"})
    return inverted


@cache
def language_name(code: str, locale: str) -> str:
    cldr = Locale.parse("zh_Hans" if locale.startswith("zh") else "en")
    key = _alpha2().get(code, code)
    return cldr.languages.get(key) or code
