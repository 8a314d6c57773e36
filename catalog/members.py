"""The member registry: a TOML file with one ``[[member]]`` table per library, loaded into the store.

The file stays the operator's source of truth; ``unicat members load`` validates the whole file
first and changes nothing when any entry is invalid. Errors name the member and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from store.models import Member

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Feed tables a member may declare, in the order a full harvest runs them.
FEED_KINDS = ("oai", "files", "z3950", "sru")
ROLES = ("national", "regional", "member")


class MembersFileError(Exception):
    """The members file cannot be used; ``problems`` lists each one as ``member 'x': field: why``."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"invalid members file {path}:\n  " + "\n  ".join(problems))


class MemberName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class MemberEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    name: MemberName
    region: str = Field(min_length=1)
    role: str = "member"
    #: Harvest schedule for the worker: an interval such as "6h", "1d", or "off".
    schedule: str = "1d"
    #: The largest share of the member's records one full harvest may withdraw unasked (0–1);
    #: a pass that would withdraw more is held for an administrator. Unset: the site's setting.
    withdraw_limit: float | None = Field(default=None, ge=0, le=1)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (at most 64)")
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"must be one of {', '.join(ROLES)}")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if value != "off" and not re.fullmatch(r"\d+[mhd]", value):
            raise ValueError("must be an interval like '30m', '6h', '1d' or 'off'")
        return value


def schedule_interval(schedule: str) -> timedelta | None:
    """A members-file schedule ("30m", "6h", "1d") as a time span; None for "off" or an unreadable one.
    The worker's scheduler and the console's "next harvest" column both read it this way."""
    match = re.fullmatch(r"(\d+)([mhd])", schedule or "")
    if not match:
        return None
    n, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]


def _feed_models() -> dict[str, type[BaseModel]]:
    from harvesters.files import FilesFeed
    from harvesters.oai import OaiFeed

    models: dict[str, type[BaseModel]] = {"oai": OaiFeed, "files": FilesFeed}
    try:
        from harvesters.sru import SruFeed
        from harvesters.z3950 import Z3950Feed

        models.update({"z3950": Z3950Feed, "sru": SruFeed})
    except ImportError:  # pragma: no cover - protocols not installed in this build
        pass
    return models


def _holdings_adapter() -> TypeAdapter[Any] | None:
    try:
        from holdings.config import HoldingsConfig
    except ImportError:  # pragma: no cover - live availability not installed in this build
        return None
    return TypeAdapter(HoldingsConfig)


def _peer_validator() -> Any:
    try:
        from ill.peerconf import parse_entry
    except ImportError:  # pragma: no cover - ILL not installed in this build
        return None
    return parse_entry


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "(table)"
    return f"{loc}: {error['msg']}"


def parse_members(path: Path) -> list[dict[str, Any]]:
    """Read and validate the whole file; return one normalised config dict per member."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MembersFileError(path, ["file not found (set UNICAT_MEMBERS)"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MembersFileError(path, [f"not valid TOML: {exc}"]) from None
    tables = data.get("member")
    if not isinstance(tables, list) or not tables:
        raise MembersFileError(path, ["no [[member]] tables"])
    problems: list[str] = []
    regions = _regions(data.get("regions"), problems)
    members: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, table in enumerate(tables, start=1):
        config, found = validate_member(table, position=position, base=path.parent, regions=regions)
        problems.extend(found)
        if config is not None and config["code"] in seen:
            problems.append(f"member '{config['code']}': code: duplicate member code")
        if config is not None:
            seen.add(config["code"])
            members.append(config)
    if problems:
        raise MembersFileError(path, problems)
    return members


def validate_member(
    table: dict[str, Any], *, position: int = 1, base: Path | None = None,
    regions: dict[str, dict[str, str]] | None = None,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Check one ``[[member]]`` table exactly as the members file is checked: the normalised config
    (None when the entry itself is unusable) and every problem as ``member 'x': field: why``.
    ``base`` resolves relative file paths; ``regions`` is the file's ``[regions]`` table, if any."""
    feed_models, holdings, peer_entry = _feed_models(), _holdings_adapter(), _peer_validator()
    problems: list[str] = []
    label = f"member '{table.get('code')}'" if isinstance(table.get("code"), str) else f"member #{position}"
    try:
        entry: MemberEntry | None = MemberEntry.model_validate(table)
    except ValidationError as exc:
        problems.extend(f"{label}: {_describe(e)}" for e in exc.errors())
        entry = None  # the feeds are still checked, so that one run reports every problem
    config: dict[str, Any] = entry.model_dump(mode="json") if entry else {}
    feeds = [kind for kind in FEED_KINDS if kind in table]
    if not feeds and "iso18626" not in table:  # a pure ISO 18626 peer has no catalogue to harvest
        problems.append(f"{label}: feeds: declare at least one of {', '.join(FEED_KINDS)} (or iso18626)")
    if "iso18626" in table and peer_entry is not None:
        try:
            config["iso18626"] = peer_entry(table["iso18626"]).model_dump(mode="json", exclude_none=True)
        except ValidationError as exc:
            problems.extend(f"{label}: iso18626.{_describe(e)}" for e in exc.errors())
    for kind in feeds:
        model = feed_models.get(kind)
        if model is None:
            problems.append(f"{label}: {kind}: this feed type is not available in this build")
            continue
        raw = dict(table[kind]) if isinstance(table[kind], dict) else table[kind]
        if kind == "files" and isinstance(raw, dict) and base is not None:
            raw = _resolve_relative(raw, base)
        try:
            config[kind] = model.model_validate(raw).model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            problems.extend(f"{label}: {kind}.{_describe(e)}" for e in exc.errors())
    if "holdings" in table and holdings is not None:
        try:
            config["holdings"] = holdings.dump_python(holdings.validate_python(table["holdings"]), mode="json")
        except ValidationError as exc:
            problems.extend(f"{label}: holdings.{_describe(e)}" for e in exc.errors())
    if "auth" in table:
        _check_auth(table["auth"], base or Path("."), label, config, problems)
    if entry is not None and regions is not None:
        if entry.region in regions:
            config["region_name"] = regions[entry.region]
        else:
            problems.append(f"{label}: region: {entry.region!r} is not declared in [regions]")
    return (config if entry is not None else None), problems


def _check_auth(raw: object, base: Path, label: str, config: dict[str, Any], problems: list[str]) -> None:
    """The member's sign-in connector (``auth = { type = "ldap", ... }``); relative file names are
    taken from the members file's folder. Error messages never echo the values (they may be secrets)."""
    from accounts.config import KINDS, parse_auth

    if isinstance(raw, dict):
        raw = {k: (str((base / v).resolve()) if k.endswith("_file") and isinstance(v, str) and v
                   and not Path(v).is_absolute() else v) for k, v in raw.items()}
    try:
        config["auth"] = parse_auth(raw).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        for e in exc.errors():
            loc = [str(p) for p in e["loc"]]
            loc = loc[1:] if loc and loc[0] in KINDS else loc
            problems.append(f"{label}: auth.{'.'.join(loc) or 'type'}: {e['msg']}")


def _regions(table: object, problems: list[str]) -> dict[str, dict[str, str]] | None:
    """The optional ``[regions]`` table: ``code = { zh = "华北地区", en = "North China" }``, the
    names pages show for a region code. When it is present every member's region must be in it."""
    if table is None:
        return None
    if not isinstance(table, dict):
        problems.append("regions: must be a table of region code = { zh = ..., en = ... }")
        return {}
    names: dict[str, dict[str, str]] = {}
    for code, value in table.items():
        try:
            names[code] = MemberName.model_validate(value).model_dump()
        except ValidationError as exc:
            problems.extend(f"region '{code}': {_describe(e)}" for e in exc.errors())
    return names


def region_names(members: Iterable[Member]) -> dict[str, dict[str, str]]:
    """Region code → {"zh": ..., "en": ...} as the members file names them (codes without a name
    are left out, and pages show the code)."""
    return {m.region: m.config["region_name"] for m in members if (m.config or {}).get("region_name")}


def _resolve_relative(feed: dict[str, Any], base: Path) -> dict[str, Any]:
    target = feed.get("url_or_path")
    if isinstance(target, str) and "://" not in target and not Path(target).is_absolute():
        feed["url_or_path"] = str((base / target).resolve())
    return feed


def sync_members(session: Any, members: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert or update members (never deletes: a member's records stay until removed explicitly)."""
    added = updated = 0
    for config in members:
        row = session.get(Member, config["code"])
        if row is None:
            row = Member(code=config["code"])
            session.add(row)
            added += 1
        else:
            updated += 1
        row.name_zh = config["name"]["zh"]
        row.name_en = config["name"]["en"]
        row.region = config["region"]
        row.role = config["role"]
        row.config = config
    return added, updated


def member_feeds(member: Member) -> list[str]:
    return [kind for kind in FEED_KINDS if kind in (member.config or {})]
