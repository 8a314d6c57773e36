"""Members and their feeds edited in the console, with exactly the members file's validation, and the
members file written back out (``unicat members export``) so configuration can live in version control.

A form is a flat mapping: ``code``, ``name_zh``, ``name_en``, ``region``, ``role``, ``schedule``,
``withdraw_limit``, and one text per feed (``oai``, ``files``, ``z3950``, ``sru``, ``holdings``) holding
that feed's table in TOML (``url = "…"`` lines), as it would stand in the members file. Problems come
back per form field, worded as ``unicat members load`` words them; nothing is saved while any remains.
"""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w
from sqlalchemy import select

from admin import audit
from admin.roles import ADMIN, NotFound, require_member
from catalog.addresses import check_member
from catalog.context import Services
from catalog.members import FEED_KINDS, region_names, sync_members, validate_member
from ill.access import Actor
from store.db import transaction
from store.models import Member

TABLE_FIELDS = (*FEED_KINDS, "holdings")
#: Fields a member's cataloguer may not change (the consortium decides them).
ADMIN_ONLY = ("code", "name", "region", "role", "withdraw_limit")


def _clean(value: Any) -> Any:
    """Drop None values (TOML has no null) and the derived ``region_name``."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None and k != "region_name"}
    if isinstance(value, list):
        return [_clean(v) for v in value if v is not None]
    return value


def config_to_form(config: dict[str, Any]) -> dict[str, str]:
    name = config.get("name") or {}
    form = {"code": config.get("code", ""), "name_zh": name.get("zh", ""), "name_en": name.get("en", ""),
            "region": config.get("region", ""), "role": config.get("role", "member"),
            "schedule": config.get("schedule", "1d"),
            "withdraw_limit": "" if config.get("withdraw_limit") is None else str(config["withdraw_limit"])}
    for kind in TABLE_FIELDS:
        form[kind] = tomli_w.dumps(_clean(config[kind])) if isinstance(config.get(kind), dict) else ""
    return form


def form_to_table(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The ``[[member]]`` table a form stands for, and the TOML problems of its feed texts."""
    errors: dict[str, list[str]] = {}
    table: dict[str, Any] = {"code": form.get("code", "").strip(),
                             "name": {"zh": form.get("name_zh", "").strip(), "en": form.get("name_en", "").strip()},
                             "region": form.get("region", "").strip(), "role": form.get("role", "member").strip(),
                             "schedule": form.get("schedule", "1d").strip() or "1d"}
    limit = form.get("withdraw_limit", "").strip()
    if limit:
        try:
            table["withdraw_limit"] = float(limit)
        except ValueError:
            errors.setdefault("withdraw_limit", []).append("withdraw_limit: must be a number between 0 and 1")
    for kind in TABLE_FIELDS:
        text = form.get(kind, "").strip()
        if not text:
            continue
        try:
            table[kind] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            errors.setdefault(kind, []).append(f"{kind}: not valid TOML: {exc}")
    return table, errors


def _field_of(problem: str) -> str:
    """``member 'x': name.zh: …`` → the form field ``name_zh``; ``oai.url: …`` → ``oai``."""
    path = problem.split(": ", 2)[1] if problem.startswith("member ") else problem.split(": ", 1)[0]
    head = path.split(".")[0]
    if head == "name":
        return "name_zh" if path.startswith("name.zh") else "name_en" if path.startswith("name.en") else "name_zh"
    return head if head in (*TABLE_FIELDS, "code", "region", "role", "schedule", "withdraw_limit") else "feeds"


def _regions(session: Any) -> dict[str, dict[str, str]] | None:
    names = region_names(session.scalars(select(Member)))
    return names or None


def save_member(services: Services, actor: Actor, form: dict[str, str],
                code: str | None = None) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """Add (``code`` None) or change a member; (saved config, {}) or (None, problems by field)."""
    if code is not None:
        require_member(actor, code)
    table, errors = form_to_table(form)
    with services.db() as session:
        existing = session.get(Member, code) if code else None
        if code and existing is None:
            raise NotFound(f"unknown member {code}")
        if existing is not None and actor.kind != ADMIN:
            table.update({k: existing.config[k] for k in ADMIN_ONLY if k in existing.config})
        if existing is not None:
            table["code"] = existing.code
            if existing.config.get("disabled"):
                table["disabled"] = True
        elif session.get(Member, table["code"]) is not None:
            errors.setdefault("code", []).append(f"code: a member {table['code']!r} exists already")
        regions = _regions(session)
    # The store knows region names only for regions some member already uses (a new region gets its
    # name in the members file's [regions] table); a known region's name is kept with the member.
    config, problems = validate_member(table)
    if config is not None and regions and config["region"] in regions:
        config["region_name"] = regions[config["region"]]
    for problem in problems:
        errors.setdefault(_field_of(problem), []).append(problem)
    if config is not None and not errors:  # the address policy looks at feeds that are otherwise valid
        previous = existing.config if existing is not None else {}
        for refused in check_member(services.settings, _changed_targets(config, previous)):
            errors.setdefault(refused.field.split(".")[0], []).append(
                f"member {config['code']!r}: {refused.field}: {refused.message}")
    if errors or config is None:
        return None, errors
    with transaction(services.db) as session:
        before = dict(session.get(Member, config["code"]).config) if existing is not None else None
        sync_members(session, [config])
        audit.record(session, actor, "member.update" if existing is not None else "member.add", config["code"],
                     member=config["code"], before=before, after=config)
    return config, {}


def _changed_targets(config: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Only feeds whose table changed are checked against the address policy: what the members file
    (or an earlier save) already holds was accepted by the consortium."""
    return {k: v for k, v in config.items() if k in TABLE_FIELDS and v != previous.get(k)}


def set_disabled(services: Services, actor: Actor, code: str, disabled: bool) -> None:
    """A disabled member keeps its records but is not harvested."""
    require_member(actor, code)
    with transaction(services.db) as session:
        member = session.get(Member, code)
        if member is None:
            raise NotFound(f"unknown member {code}")
        before = bool(member.config.get("disabled"))
        member.config = {**member.config, "disabled": disabled}
        audit.record(session, actor, "member.disable" if disabled else "member.enable", code, member=code,
                     before={"disabled": before}, after={"disabled": disabled})


def member_form(services: Services, code: str) -> dict[str, str]:
    with services.db() as session:
        member = session.get(Member, code)
        if member is None:
            raise NotFound(f"unknown member {code}")
        return config_to_form(dict(member.config))


def list_members(services: Services, actor: Actor) -> list[dict[str, Any]]:
    with services.db() as session:
        rows = session.scalars(select(Member).order_by(Member.code)).all()
        return [{"code": m.code, "name": {"zh": m.name_zh, "en": m.name_en}, "region": m.region, "role": m.role,
                 "feeds": [k for k in TABLE_FIELDS if k in (m.config or {})],
                 "schedule": (m.config or {}).get("schedule"), "disabled": bool((m.config or {}).get("disabled"))}
                for m in rows if actor.kind == ADMIN or m.code == actor.member_code]


def export_members(services: Services) -> str:
    """The members file of what the store holds: ``[regions]`` (when named) and one ``[[member]]`` each."""
    with services.db() as session:
        members = session.scalars(select(Member).order_by(Member.code)).all()
        regions = region_names(members)
        tables = [_clean(dict(m.config)) for m in members]
    data: dict[str, Any] = {}
    if regions and all(m["region"] in regions for m in tables):  # [regions] must then name every region
        data["regions"] = dict(sorted(regions.items()))
    data["member"] = tables
    return "# unicat members file, exported from the store\n" + tomli_w.dumps(data)
