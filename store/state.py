"""Facts about the store as a whole (:class:`~store.models.StoreState` rows, by name).

Used to remember which version of the derivation code (crosswalks, matcher) made the documents
and clusters the store caches, so that an upgrade that changes them is noticed.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from store.models import StoreState

#: The crosswalk that made the stored documents (see :func:`mappings.fingerprint.crosswalk_fingerprint`).
CROSSWALK_STATE = "crosswalk"
#: The matcher that made the stored clusters (see :func:`mappings.fingerprint.matcher_fingerprint`).
MATCHER_STATE = "matcher"


def read_state(session: Session, name: str) -> str | None:
    """The recorded value (None: nothing derived yet; "unknown", written by the migrations: derived
    before the store kept this state)."""
    state = session.get(StoreState, name)
    return state.value if state else None


def write_state(session: Session, name: str, value: str) -> None:
    state = session.get(StoreState, name)
    if state is None:
        session.add(StoreState(name=name, value=value))
    elif state.value != value:
        state.value = value


def claim_empty_state(session: Session, name: str, value: str) -> None:
    """Record ``value`` if nothing is recorded yet: the first derivation into an empty store. A
    store that already holds another value stays marked until everything is derived again.

    Written as an insert that yields to a row another process wrote meanwhile, so two harvests
    starting on an empty store do not fail on the primary key."""
    if session.get(StoreState, name) is not None:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two supported stores are above
        session.add(StoreState(name=name, value=value))
        return
    session.execute(insert(StoreState).values(name=name, value=value).on_conflict_do_nothing())
