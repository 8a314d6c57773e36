"""Roles: patron, desk staff (with desks), consortium administrator; and how directory groups map to them."""

from __future__ import annotations

from collections.abc import Iterable

KINDS = ("patron", "staff", "admin")
DESKS = ("borrowing", "lending")


def mapped_role(groups: Iterable[str], staff_groups: Iterable[str],
                staff_desks: Iterable[str]) -> tuple[str | None, tuple[str, ...]]:
    """``(kind, desks)`` from the groups / affiliations / claim values a connector read.

    With no ``staff_groups`` configured the connector says nothing about roles (``None``): the account
    keeps what an administrator gave it. With them, a reader in one of the groups is staff, anyone
    else a patron — so leaving the group at the library takes the desk away at the next sign-in.
    Comparison ignores case (directories differ in how they spell DNs).
    """
    wanted = {g.casefold() for g in staff_groups}
    if not wanted:
        return None, ()
    if any(g.casefold() in wanted for g in groups):
        return "staff", tuple(sorted(set(staff_desks)))
    return "patron", ()
