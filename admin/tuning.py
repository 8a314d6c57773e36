"""Relevance tuning from the console: a candidate search profile edited by an administrator, measured
against the live one on an uploaded judged set, applied, and rolled back in one action.

The candidate and the applied profile are kept in the store (``store_state`` rows holding the JSON
of a profile file's structure), not written as files under ``catalog/profiles/``: an installed
package directory is not writable, every web and worker process shares the database but not a
file system, and one transaction saves a candidate whole or not at all. The profile page shows the
candidate as the TOML of a profile file, to commit as a new version where profiles live in
version control.

Applying a candidate whose fields the live index lacks rebuilds the index from the record store
(a console task with progress) and swaps the alias; the index the alias left is kept until the
next apply, so a rollback is one alias swap plus the previous profile.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from admin import audit
from admin.models import AdminTask
from admin.roles import Conflict, Invalid, require_admin
from admin.tasks import Reporter
from catalog import relevance
from catalog.context import Services
from catalog.profiles import (
    APPLIED_STATE,
    ProfileError,
    SearchProfile,
    forget_applied,
    missing_index_fields,
    profile_data,
    profile_from_data,
)
from ill.access import Actor
from indexer.index import alias_targets, latest_spec, switch_alias
from mappings.textnorm import fold
from store.db import transaction
from store.models import StoreState
from store.state import read_state, write_state

CANDIDATE_STATE = "search_profile.candidate"
PREVIOUS_STATE = "search_profile.previous"
PREVIOUS_INDEX_STATE = "search_profile.previous_index"
#: The largest judged set the console accepts (bytes per file).
MAX_UPLOAD = 2_000_000
log = logging.getLogger(__name__)


class TuningInvalid(Invalid):
    """Edits or an upload that cannot be used: a message per form field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()), field=next(iter(errors)))
        self.errors = errors


def _read(services: Services, name: str) -> str | None:
    with services.db() as session:
        return read_state(session, name)


def live_data(services: Services) -> dict[str, Any]:
    """The structure of the live profile (the applied one, else the configured file)."""
    raw = _read(services, APPLIED_STATE)
    return json.loads(raw) if raw else profile_data(services.settings.search_profile)


def candidate_data(services: Services) -> dict[str, Any] | None:
    raw = _read(services, CANDIDATE_STATE)
    return json.loads(raw) if raw else None


def as_profile(data: dict[str, Any], source: str) -> SearchProfile:
    return profile_from_data(data, source)


# --- editing ---------------------------------------------------------------------------------


def text_fields() -> set[str]:
    """Text fields of the newest mapping: what a new logical field may query."""
    props = latest_spec().body["mappings"]["properties"]
    return {name for name, spec in props.items() if spec.get("type") == "text"}


def parse_boosts(text: str, known: dict[str, Any]) -> tuple[dict[str, float], str | None]:
    """``field = boost`` lines; a field is a logical field of the profile or a text field of the
    newest mapping (which becomes a new logical field)."""
    boosts: dict[str, float] = {}
    allowed = set(known) | text_fields()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = (part.strip() for part in line.partition("="))
        if not sep or not name:
            return {}, f"line {n}: write field = boost"
        if name not in allowed:
            return {}, f"line {n}: unknown field {name!r} (known: {', '.join(sorted(allowed))})"
        try:
            boost = float(value)
        except ValueError:
            return {}, f"line {n}: {value!r} is not a number"
        if not boost >= 0 or boost > 1000:
            return {}, f"line {n}: boost of {name} must be between 0 and 1000, not {value}"
        boosts[name] = boost
    return boosts, None


def parse_synonyms(text: str) -> tuple[list[list[str]], str | None]:
    """One set per line, words separated by commas. Sets are symmetric, so a word in two sets would
    chain them (a loop: a → b in one, b → c in the other): refused, as are sets of fewer than two."""
    sets: list[list[str]] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        words = [w.strip() for w in line.split(",")]
        if any(not w for w in words) or len(words) < 2:
            return [], f"line {n}: a set is two or more words separated by commas, none empty"
        folded = [fold(w) for w in words]
        if len(set(folded)) < len(folded):
            return [], f"line {n}: a word is repeated in its own set"
        for word, key in zip(words, folded, strict=True):
            if key in seen:
                return [], (f"line {n}: {word!r} is already in the set of line {seen[key]}: "
                            "a word in two sets chains them into a loop; merge the sets")
            seen[key] = n
        sets.append(words)
    return sets, None


def parse_stopwords(text: str) -> tuple[list[str], str | None]:
    words = [w for w in re.split(r"[\s,]+", text) if w]
    if len({fold(w) for w in words}) != len(words):
        return [], "a stop word is listed twice"
    return words, None


def edit(base: dict[str, Any], boosts: str, synonyms: str, stopwords: str) -> dict[str, Any]:
    """A candidate: ``base`` with the form's boosts, synonym sets and stop words; every field's
    problem at once as :class:`TuningInvalid`."""
    errors: dict[str, str] = {}
    fields = {k: dict(v) for k, v in base["fields"].items()}
    parsed_boosts, errors["boosts"] = parse_boosts(boosts, fields)
    sets, errors["synonyms"] = parse_synonyms(synonyms)
    stops, errors["stopwords"] = parse_stopwords(stopwords)
    found = {k: v for k, v in errors.items() if v}
    if found:
        raise TuningInvalid(errors=found)
    index_fields, default_fields = list(base["index_fields"]), list(base["default_fields"])
    for name, boost in parsed_boosts.items():
        if name not in fields:  # a text field of the mapping, new to this profile: free text reaches it
            fields[name] = {"text": name}
            index_fields += [name] if name not in index_fields else []
            default_fields.append(name)
        fields[name]["boost"] = boost
    data = {**base, "fields": fields, "index_fields": index_fields, "default_fields": default_fields,
            "words": {**base.get("words", {}), "synonyms": sets, "stopwords": stops}}
    data["version"] = int(base.get("version", 0)) + 1
    try:
        as_profile(data, "candidate")
    except ProfileError as exc:
        raise TuningInvalid(errors={"boosts": str(exc)}) from exc
    return data


def form_of(data: dict[str, Any]) -> dict[str, str]:
    """The form's three texts for a profile structure."""
    words = data.get("words", {})
    return {
        "boosts": "\n".join(f"{k} = {v.get('boost', 1.0)}" for k, v in data["fields"].items()),
        "synonyms": "\n".join(", ".join(s) for s in words.get("synonyms", [])),
        "stopwords": " ".join(words.get("stopwords", [])),
    }


def save_candidate(services: Services, actor: Actor, boosts: str, synonyms: str, stopwords: str) -> dict[str, Any]:
    require_admin(actor)
    base = candidate_data(services) or live_data(services)
    data = edit(base, boosts, synonyms, stopwords)
    with transaction(services.db) as session:
        write_state(session, CANDIDATE_STATE, json.dumps(data, ensure_ascii=False))
        audit.record(session, actor, "tuning.candidate", "search profile", after=form_of(data))
    return data


def candidate_toml(data: dict[str, Any]) -> str:
    """The candidate as a profile file (to commit as ``catalog/profiles/<name>-v<N>.toml``)."""
    out = [f"name = {json.dumps(data['name'])}", f"version = {int(data['version'])}",
           f"description = {json.dumps(data.get('description', ''), ensure_ascii=False)}",
           f"index_fields = {json.dumps(list(data['index_fields']))}",
           f"default_fields = {json.dumps(list(data['default_fields']))}"]
    for name, spec in data["fields"].items():
        out.append(f"\n[fields.{name}]")
        out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in spec.items()]
    for table in ("ranking", "truncation", "words"):
        if data.get(table):
            out.append(f"\n[{table}]")
            out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in data[table].items()]
    return "\n".join(out) + "\n"


# --- measuring -------------------------------------------------------------------------------


def read_upload(queries: bytes, qrels: bytes) -> relevance.JudgedSet:
    """An uploaded judged set in the documented format (bench/judgements/README.md), or a
    :class:`TuningInvalid` naming the file and line."""
    for name, blob in (("queries", queries), ("qrels", qrels)):
        if not blob.strip():
            raise TuningInvalid(errors={name: "the file is empty"})
        if len(blob) > MAX_UPLOAD:
            raise TuningInvalid(errors={name: f"larger than {MAX_UPLOAD} bytes"})
        try:
            blob.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TuningInvalid(errors={name: f"not UTF-8 text (byte {exc.start})"}) from None
    if not queries.decode("utf-8").startswith("qid\tcategory\tquery"):
        raise TuningInvalid(errors={"queries": "line 1: expected the header qid<TAB>category<TAB>query"})
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "upload.queries.tsv").write_bytes(queries)
        (Path(tmp) / "upload.qrels").write_bytes(qrels)
        try:
            judged = relevance.read_set(Path(tmp) / "upload.queries.tsv")
        except relevance.JudgementsError as exc:
            which = "qrels" if ".qrels:" in str(exc) else "queries"
            raise TuningInvalid(errors={which: str(exc).replace(tmp + "/", "")}) from None
    _check_judgements(judged)
    return judged


def _check_judgements(judged: relevance.JudgedSet) -> None:
    qids = {q for q, _, _ in judged.queries}
    if len(qids) != len(judged.queries):
        raise TuningInvalid(errors={"queries": "a qid is used twice"})
    for qid, rels in judged.qrels.items():
        if qid not in qids:
            raise TuningInvalid(errors={"qrels": f"qid {qid!r} is not in the queries file"})
        for docid, grade in rels.items():
            if ":" not in docid:
                raise TuningInvalid(errors={"qrels": f"{qid}: docid {docid!r} is not member:local_id"})
            if grade not in (0, 1, 2):
                raise TuningInvalid(errors={"qrels": f"{qid}: grade {grade} of {docid} is not 0, 1 or 2"})


def compare(services: Services, judged: relevance.JudgedSet) -> dict[str, Any]:
    """Live and candidate profile on one judged set: means side by side, per-query wins and losses."""
    candidate = candidate_data(services)
    if candidate is None:
        raise Conflict("save a candidate profile first")
    live = as_profile(live_data(services), "live")
    cand = as_profile(candidate, "candidate")
    qrels = relevance.union_qrels(services, judged)
    if not qrels:
        raise TuningInvalid(errors={"qrels": "none of the judged records is in this catalogue"})
    reports = [relevance.evaluate(judged, qrels, relevance.searcher(services, p), label)
               for p, label in ((live, "live"), (cand, "candidate"))]
    outcome = relevance.wins_losses(reports[0], reports[1])
    texts = {qid: text for qid, _, text in judged.queries}
    rows = [{"qid": qid, "query": texts[qid], "live": reports[0].per_query[qid], "candidate": reports[1].per_query[qid],
             "outcome": next(k for k, v in outcome.items() if qid in v)} for qid in reports[0].per_query]
    missing = missing_index_fields(services, cand)
    return {"means": {r.label: r.means()["overall"] for r in reports}, "rows": rows,
            "wins": len(outcome["wins"]), "losses": len(outcome["losses"]), "ties": len(outcome["ties"]),
            "skipped": reports[0].skipped, "missing": missing, "measures": list(relevance.MEASURES)}


# --- applying and rolling back ---------------------------------------------------------------


def _switch_profile(session: Any, actor: Actor, new: dict[str, Any], old: dict[str, Any], action: str,
                    index: dict[str, Any] | None = None) -> None:
    write_state(session, APPLIED_STATE, json.dumps(new, ensure_ascii=False))
    write_state(session, PREVIOUS_STATE, json.dumps(old, ensure_ascii=False))
    audit.record(session, actor, action, "search profile",
                 before={"profile": f"{old['name']}-v{old['version']}", **(index or {}).get("before", {})},
                 after={"profile": f"{new['name']}-v{new['version']}", **(index or {}).get("after", {})})


def apply(services: Services, actor: Actor) -> dict[str, Any]:
    """Make the candidate live: at once when the live index has its fields, else by a rebuild task
    (``{"task": id}``) that swaps the alias and then the profile."""
    require_admin(actor)
    candidate = candidate_data(services)
    if candidate is None:
        raise Conflict("there is no candidate profile to apply")
    missing = missing_index_fields(services, as_profile(candidate, "candidate"))
    old = live_data(services)
    if not missing:
        stale = _read(services, PREVIOUS_INDEX_STATE)
        with transaction(services.db) as session:
            _switch_profile(session, actor, candidate, old, "tuning.apply")
            write_state(session, PREVIOUS_INDEX_STATE, "")  # a rollback now keeps the index it is on
        forget_applied(services)
        _drop(services, stale, keep=alias_targets(services.es, services.settings.records_alias))
        return {"applied": f"{candidate['name']}-v{candidate['version']}", "rebuilt": False}
    return {"task": _start_rebuild(services, actor, candidate, old), "missing": missing}


def _start_rebuild(services: Services, actor: Actor, candidate: dict[str, Any], old: dict[str, Any]) -> int:
    with transaction(services.db) as session:
        running = session.query(AdminTask).filter_by(kind="profile_apply", status="running").first()
        if running is not None:
            raise Conflict(f"a profile is already being applied (task {running.id})")
        task = AdminTask(kind="profile_apply", target=f"{candidate['name']}-v{candidate['version']}",
                         started_by=actor.label)
        session.add(task)
        session.flush()
        task_id = task.id
    report = Reporter(services, task_id)

    def run() -> None:
        try:
            report.finish("ok", _rebuild_and_switch(services, actor, candidate, old, report))
        except Exception as exc:
            log.exception("applying profile (task %s) failed", task_id)
            report.finish("failed", f"{type(exc).__name__}: {exc}")

    threading.Thread(target=run, name=f"profile-apply-{task_id}", daemon=True).start()
    return task_id


def _rebuild_and_switch(services: Services, actor: Actor, candidate: dict[str, Any], old: dict[str, Any],
                        report: Reporter) -> str:
    from catalog.maintenance import rebuild_index

    stale = _read(services, PREVIOUS_INDEX_STATE)
    result = rebuild_index(services, progress=report, keep_old=True)
    if result["failed"]:
        raise RuntimeError(f"{result['failed']} documents failed; the alias moved, the profile did not")
    with transaction(services.db) as session:
        previous = ",".join(result["previous"])
        write_state(session, PREVIOUS_INDEX_STATE, previous)
        _switch_profile(session, actor, candidate, old, "tuning.apply",
                        {"before": {"index": previous}, "after": {"index": result["index"]}})
    forget_applied(services)
    _drop(services, stale, keep=result["previous"])
    return f"{result['indexed']} union records indexed into {result['index']}; profile applied"


def _drop(services: Services, names: str | None, keep: list[str]) -> None:
    """Delete the rollback target of the apply before (comma-separated names), now let go."""
    for name in (names or "").split(","):
        if name and name not in keep:
            services.es.indices.delete(index=name, ignore_unavailable=True)


def rollback(services: Services, actor: Actor) -> dict[str, Any]:
    """The previous profile again, and the previous index when the last apply rebuilt one.

    The previous index holds the records as they were at that apply: changes harvested since are
    in the index rolled back from (kept, so rolling back again returns to it) and in the store, so
    a rebuild brings them in."""
    require_admin(actor)
    previous_raw = _read(services, PREVIOUS_STATE)
    if previous_raw is None:
        raise Conflict("nothing has been applied yet: there is nothing to roll back to")
    previous, current = json.loads(previous_raw), live_data(services)
    alias = services.settings.records_alias
    index_names = [n for n in (_read(services, PREVIOUS_INDEX_STATE) or "").split(",") if n]
    index_change: dict[str, Any] | None = None
    if index_names:
        if not all(services.es.indices.exists(index=n) for n in index_names):
            raise Conflict(f"the previous index {', '.join(index_names)} no longer exists")
        now = alias_targets(services.es, alias)
        switch_alias(services.es, alias, index_names[0], delete_old=False)
        index_change = {"before": {"index": ",".join(now)}, "after": {"index": index_names[0]}}
    with transaction(services.db) as session:
        _switch_profile(session, actor, previous, current, "tuning.rollback", index_change)
        if index_change:  # the index rolled back from is kept: rolling back again returns to it
            write_state(session, PREVIOUS_INDEX_STATE, index_change["before"]["index"])
    forget_applied(services)
    return {"profile": f"{previous['name']}-v{previous['version']}",
            "index": index_change["after"]["index"] if index_change else None}


def state(services: Services) -> dict[str, Any]:
    """What the page shows: live and candidate profiles, whether a rollback is possible."""
    live = live_data(services)
    candidate = candidate_data(services)
    with services.db() as session:
        can_roll_back = session.get(StoreState, PREVIOUS_STATE) is not None
    return {"live": live, "live_label": f"{live['name']}-v{live['version']}", "candidate": candidate,
            "form": form_of(candidate or live), "can_roll_back": can_roll_back,
            "toml": candidate_toml(candidate) if candidate else None,
            "index": alias_targets(services.es, services.settings.records_alias)}

