"""Deterministic clustering of source records into union records (pure; no I/O).

The recipe, in order:

1. Cataloguers' force-merge decisions join their two records unconditionally.
2. Strong keys (ISBN, ISSN, OCLC, LCCN, national numbers): records sharing one join, unless
   :func:`mappings.matchkeys.compatible` vetoes it for any pair across the two groups (different
   volume/part, different format such as print vs e-book).
3. Weak keys (normalised title + author + year): records sharing one join only when nothing
   contradicts them (the stricter weak-merge vetoes: years, disjoint ISBN sets, pages, ISSNs).
4. A cataloguer's force-split between two records vetoes any merge that would put them together.
5. A group never grows beyond ``max_size`` records; a refused growth marks the group oversized
   so that it is reported instead of silently grown.

Keys are visited in sorted order and records in (member, local id) order, so the same records
always give the same partition, whether clustered incrementally or rebuilt from scratch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from mappings.matchkeys import MatchKeys
from mappings.matchrules import compatible


@dataclass(frozen=True)
class Item:
    ref: int  # the source record's row id
    sort_key: tuple[str, str]  # (member code, local id)
    keys: MatchKeys


@dataclass
class Group:
    items: list[Item] = field(default_factory=list)
    oversized: bool = False


def partition(
    items: Iterable[Item],
    *,
    max_size: int = 500,
    force_merge: Iterable[tuple[int, int]] = (),
    force_split: Iterable[tuple[int, int]] = (),
    skip_keys: frozenset[str] = frozenset(),
) -> list[Group]:
    """Partition ``items``; keys in ``skip_keys`` (too common to mean anything) link nothing."""
    ordered = sorted(items, key=lambda it: it.sort_key)
    by_ref = {it.ref: it for it in ordered}
    parent: dict[int, int] = {it.ref: it.ref for it in ordered}
    members: dict[int, list[Item]] = {it.ref: [it] for it in ordered}
    oversized: set[int] = set()
    apart: dict[int, set[int]] = defaultdict(set)
    for a, b in force_split:
        apart[a].add(b)
        apart[b].add(a)

    def find(ref: int) -> int:
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    def join(a: int, b: int, *, strong: bool | None) -> None:
        ra, rb = find(a), find(b)
        if ra == rb:
            return
        left, right = members[ra], members[rb]
        if any(y.ref in apart[x.ref] for x in left for y in right):
            return
        if strong is not None and not all(compatible(x.keys, y.keys, strong=strong) for x in left for y in right):
            return
        if len(left) + len(right) > max_size:
            oversized.update((ra, rb))
            return
        keep, drop = (ra, rb) if left[0].sort_key <= right[0].sort_key else (rb, ra)
        parent[drop] = keep
        members[keep] = sorted(members[keep] + members.pop(drop), key=lambda it: it.sort_key)
        if drop in oversized:
            oversized.add(keep)

    for a, b in sorted(force_merge):
        if a in by_ref and b in by_ref:
            join(a, b, strong=None)
    for strong in (True, False):
        index: dict[str, list[int]] = defaultdict(list)
        for it in ordered:
            for key in it.keys.strong if strong else ((it.keys.weak,) if it.keys.weak else ()):
                if key not in skip_keys:
                    index[key].append(it.ref)
        for key in sorted(index):
            refs = index[key]
            for position, other in enumerate(refs[1:], start=1):
                # Try each group already holding this key, oldest first, until one accepts.
                for earlier in dict.fromkeys(find(r) for r in refs[:position]):
                    join(earlier, other, strong=strong)
                    if find(other) == find(earlier):
                        break
    roots = sorted({find(it.ref) for it in ordered}, key=lambda r: members[r][0].sort_key)
    return [Group(items=members[r], oversized=r in oversized) for r in roots]
