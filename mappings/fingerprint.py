"""Fingerprints of the code that derives things from raw records.

The record store keeps every raw record and, as caches, what the current code derived from it:
the crosswalked document and the match keys and clusters. When an upgrade changes that code, the
caches are stale until they are derived again (``unicat reindex --recrosswalk`` or
``--recluster``). A fingerprint is a digest of the source files involved, so any change to them,
even one that turns out harmless, asks for the rebuild.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

_HERE = Path(__file__).parent

#: The files that decide clustering: key recipes, text folding, merge rules.
MATCHER_FILES = ("matchkeys.py", "textnorm.py", "matchrules.py")
#: Files that only serve clustering or display, not the document a crosswalk makes.
_NOT_CROSSWALK = {"matchkeys.py", "matchrules.py", "fingerprint.py"}


def source_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def matcher_fingerprint() -> str:
    """Digest of the code that decides clustering: a store clustered under another fingerprint may
    hold union records the current matcher would split or join."""
    return source_digest([_HERE / name for name in MATCHER_FILES])


@functools.cache
def crosswalk_fingerprint() -> str:
    """Digest of the crosswalks (MARC 21, UNIMARC, Dublin Core, MARC reading, text folding and their
    tables): documents stored under another fingerprint may differ from what they make now."""
    files = [p for p in _HERE.glob("*.py") if p.name not in _NOT_CROSSWALK]
    return source_digest(files + sorted((_HERE / "tables").glob("*.json")))
