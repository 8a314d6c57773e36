"""Search profiles: field boosts, synonym sets and stop words kept as versioned files.

A profile file is TOML (``catalog/profiles/<name>-v<N>.toml``); :func:`load_profile` takes its
stem (``default-v1``), a bare name (``default``: its highest version) or a path. The live profile
is named by ``UNICAT_SEARCH_PROFILE``. A profile lists the index fields it queries;
:func:`ensure_index_fields` rebuilds the index (new versioned index, alias swap) when the live
index lacks one of them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mappings.textnorm import fold

if TYPE_CHECKING:
    from catalog.context import Services

PROFILES_DIR = Path(__file__).resolve().parent
DEFAULT_PROFILE = "default-v1"


class ProfileError(ValueError):
    """A profile file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class FieldSpec:
    """One logical field (``title``): its text field, CJK bigram field, pinyin field and boost."""

    name: str
    text: str
    cjk: str | None = None
    pinyin: str | None = None
    boost: float = 1.0


@dataclass(frozen=True)
class SearchProfile:
    name: str
    version: int
    fields: dict[str, FieldSpec]
    default_fields: tuple[str, ...]
    index_fields: tuple[str, ...]
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()
    title_phrase_boost: float = 6.0
    pinyin_boost: float = 0.5
    holdings_factor: bool = True
    min_prefix: int = 3
    max_expansions: int = 50
    description: str = ""
    source: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}-v{self.version}"

    def specs(self, names: list[str] | tuple[str, ...] | None = None) -> list[FieldSpec]:
        """The field specs of ``names`` (the default fields when None)."""
        return [self.fields[n] for n in (names or self.default_fields)]

    def spec_for_es_field(self, es_field: str) -> FieldSpec | None:
        """The logical field whose text field is ``es_field`` (``title_t`` → title)."""
        return next((s for s in self.fields.values() if s.text == es_field), None)

    def alternatives(self, word: str) -> tuple[str, ...]:
        """``word`` and its synonyms (folded words); ``(word,)`` when it has none."""
        return self.synonyms.get(word, (word,))


def load_profile(name_or_path: str | Path | None = None) -> SearchProfile:
    """Read a profile: a path, a file stem (``default-v1``) or a name (highest version)."""
    return _load(str(_resolve(name_or_path or DEFAULT_PROFILE)))


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ProfileError(f"profile file {path} does not exist")
        return path.resolve()
    name = str(name_or_path)
    if "/" in name or "\\" in name or name.startswith("."):
        raise ProfileError(f"profile {name!r} is neither a file nor a profile name")
    exact = PROFILES_DIR / f"{name}.toml"
    if exact.is_file():
        return exact
    versions = sorted(PROFILES_DIR.glob(f"{name}-v*.toml"), key=_version_of)
    if not versions:
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.toml")))
        raise ProfileError(f"no search profile {name!r} (known: {known})")
    return versions[-1]


def profile_data(name_or_path: str | Path | None = None) -> dict[str, Any]:
    """The parsed TOML of a profile file (what :func:`profile_from_data` builds a profile from)."""
    path = _resolve(name_or_path or DEFAULT_PROFILE)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc


def profile_from_data(data: dict[str, Any], source: str = "stored") -> SearchProfile:
    """A profile from the structure of a profile file (a stored candidate, the applied profile)."""
    try:
        return _build(data, source)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{source}: {type(exc).__name__}: {exc}") from exc


#: ``store_state`` row holding the profile an administrator applied (JSON of a profile file's
#: structure); absent: ``UNICAT_SEARCH_PROFILE`` names the live profile.
APPLIED_STATE = "search_profile.applied"
#: Seconds a process keeps the applied profile before reading it again (other processes see an
#: apply within this time; the process that applied it at once).
APPLIED_TTL = 1.0
_applied_cache: dict[int, tuple[float, SearchProfile | None]] = {}


def applied_profile(services: Services) -> SearchProfile | None:
    """The profile applied from the console, if any (read from the store, cached briefly)."""
    import json
    import time

    from store.state import read_state

    now = time.monotonic()
    cached = _applied_cache.get(id(services))
    if cached and now - cached[0] < APPLIED_TTL:
        return cached[1]
    with services.db() as session:
        raw = read_state(session, APPLIED_STATE)
    profile = profile_from_data(json.loads(raw), "applied") if raw else None
    _applied_cache[id(services)] = (now, profile)
    return profile


def forget_applied(services: Services) -> None:
    """Drop this process's cached applied profile (after an apply or a rollback)."""
    _applied_cache.pop(id(services), None)


def _version_of(path: Path) -> int:
    tail = path.stem.rsplit("-v", 1)[-1]
    return int(tail) if tail.isdigit() else -1


@lru_cache(maxsize=32)
def _load(path: str) -> SearchProfile:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    try:
        return _build(data, path)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"{path}: {type(exc).__name__}: {exc}") from exc


def _build(data: dict[str, Any], path: str) -> SearchProfile:
    fields = {
        name: FieldSpec(name, spec["text"], spec.get("cjk"), spec.get("pinyin"), float(spec.get("boost", 1.0)))
        for name, spec in data["fields"].items()
    }
    default_fields = tuple(data["default_fields"])
    unknown = [n for n in default_fields if n not in fields]
    if unknown:
        raise ValueError(f"default_fields names unknown fields {unknown}")
    index_fields = tuple(data["index_fields"])
    used = {f for s in fields.values() for f in (s.text, s.cjk, s.pinyin) if f}
    if used - set(index_fields):
        raise ValueError(f"fields {sorted(used - set(index_fields))} are queried but not listed in index_fields")
    synonyms: dict[str, tuple[str, ...]] = {}
    words_table = data.get("words", {})
    for group in words_table.get("synonyms", []):
        words = tuple(dict.fromkeys(fold(w) for w in group if fold(w)))
        for word in words:
            synonyms[word] = tuple(dict.fromkeys((*synonyms.get(word, (word,)), *words)))
    ranking, truncation = data.get("ranking", {}), data.get("truncation", {})
    return SearchProfile(
        name=str(data["name"]),
        version=int(data["version"]),
        fields=fields,
        default_fields=default_fields,
        index_fields=index_fields,
        synonyms=synonyms,
        stopwords=frozenset(fold(w) for w in words_table.get("stopwords", [])),
        title_phrase_boost=float(ranking.get("title_phrase_boost", 6.0)),
        pinyin_boost=float(ranking.get("pinyin_boost", 0.5)),
        holdings_factor=bool(ranking.get("holdings_factor", True)),
        min_prefix=max(1, int(truncation.get("min_prefix", 3))),
        max_expansions=min(1000, max(1, int(truncation.get("max_expansions", 50)))),
        description=str(data.get("description", "")),
        source=path,
    )


def missing_index_fields(services: Services, profile: SearchProfile) -> list[str]:
    """The fields ``profile`` queries that the index behind the records alias does not have."""
    from indexer.index import alias_targets

    targets = alias_targets(services.es, services.settings.records_alias)
    if not targets:
        return list(profile.index_fields)
    mapping = services.es.indices.get_mapping(index=targets[0])[targets[0]]["mappings"]
    present = set(mapping.get("properties", {}))
    return [f for f in profile.index_fields if f not in present]


def ensure_index_fields(services: Services, profile: SearchProfile) -> dict[str, Any] | None:
    """Rebuild the index from the record store (new versioned index, alias swap) when the live
    index lacks a field ``profile`` needs; None when nothing had to be done. A profile needing a
    field that even the newest mapping file lacks is a :class:`ProfileError` (nothing is rebuilt)."""
    from catalog.maintenance import rebuild_index
    from indexer.index import latest_spec

    missing = missing_index_fields(services, profile)
    if not missing:
        return None
    spec = latest_spec()
    unknown = [f for f in missing if f not in spec.body["mappings"]["properties"]]
    if unknown:
        raise ProfileError(f"profile {profile.label} needs {unknown}, which mapping v{spec.version} does not define")
    return rebuild_index(services)
