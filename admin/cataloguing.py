"""Cataloguers' tools: the duplicates report and suspicious merges scoped to the actor, split and
merge decisions with a reason (kept across reclustering, as ``unicat cluster`` keeps them), and each
source record as formatted MARC (tag, indicators, subfields) for the staff view."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from admin import audit
from admin.roles import ADMIN, Invalid, NotAllowed, NotFound, require_console
from catalog.context import Services
from catalog.quality import OverrideError, add_override, duplicates_report
from ill.access import Actor
from mappings.marcio import CrosswalkError, parse_iso2709, parse_xml
from store.db import transaction
from store.models import ClusterOverride, SourceRecord


def duplicates(services: Services, actor: Actor, top: int = 50) -> dict[str, Any]:
    """The duplicates report; a cataloguer sees the union records their member has a record in."""
    require_console(actor)
    return duplicates_report(services, top=top, member=None if actor.kind == ADMIN else actor.member_code)


def decide(services: Services, actor: Actor, kind: str, a: str, b: str, reason: str) -> dict[str, Any]:
    """Force a split or a merge of two source records (``member:local_id``), with the reason kept.
    A cataloguer may decide only where one of the two records is their member's."""
    require_console(actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid("give the reason for the decision (it is kept with it)", field="reason")
    members = {a.partition(":")[0], b.partition(":")[0]}
    if actor.kind != ADMIN and actor.member_code not in members:
        raise NotAllowed(f"a cataloguer of {actor.member_code} decides only about {actor.member_code}'s records")
    try:
        result = add_override(services, kind, a, b, note=reason, by=actor.label[:64])
    except OverrideError as exc:
        raise Invalid(str(exc), field="records") from exc
    with transaction(services.db) as session:
        audit.record(session, actor, f"cluster.{kind}", f"{a} {b}", member=actor.member_code, note=reason,
                     after={"union_ids": result["union_ids"]})
    return result


def decisions(services: Services, union_sources: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Split/merge decisions that name any of these source records."""
    wanted = set(union_sources)
    with services.db() as session:
        rows = session.scalars(select(ClusterOverride).order_by(ClusterOverride.id)).all()
        return [{"kind": o.kind, "a": f"{o.a_member}:{o.a_local_id}", "b": f"{o.b_member}:{o.b_local_id}",
                 "note": o.note, "by": o.created_by, "at": o.created_at.isoformat() if o.created_at else None}
                for o in rows if (o.a_member, o.a_local_id) in wanted or (o.b_member, o.b_local_id) in wanted]


def marc_fields(raw: bytes, encoding: str) -> list[dict[str, Any]]:
    """The record as MARC lines: leader, control fields, then tag + indicators + ``$a`` subfields."""
    record = parse_xml(raw).record if encoding != "iso2709" else parse_iso2709(raw)
    if record is None:
        raise CrosswalkError("not a MARC record (Dublin Core)")
    lines: list[dict[str, Any]] = [{"tag": "LDR", "ind": "", "data": str(record.leader), "subfields": []}]
    for field in record.fields:
        if field.is_control_field():
            lines.append({"tag": field.tag, "ind": "", "data": field.data, "subfields": []})
        else:
            ind = "".join(i if i and i != " " else "#" for i in field.indicators)
            lines.append({"tag": field.tag, "ind": ind, "data": None,
                          "subfields": [(s.code, s.value) for s in field.subfields]})
    return lines


def staff_sources(services: Services, union_id: str) -> list[dict[str, Any]]:
    """Every live source record of a union record, formatted as MARC (or the reason it cannot be)."""
    with services.db() as session:
        rows = session.scalars(select(SourceRecord).where(SourceRecord.cluster_id == union_id,
                                                          SourceRecord.deleted.is_(False))
                               .order_by(SourceRecord.member_code, SourceRecord.local_id)).all()
        if not rows:
            raise NotFound(f"no union record {union_id}")
        out = []
        for r in rows:
            entry: dict[str, Any] = {"member": r.member_code, "local_id": r.local_id, "feed": r.feed,
                                     "syntax": r.syntax, "title": (r.document or {}).get("title")}
            try:
                entry["fields"] = marc_fields(r.raw, r.encoding)
            except CrosswalkError as exc:
                entry["fields"], entry["error"] = [], str(exc)
            out.append(entry)
        return out
