"""Holdings and items embedded in bibliographic records.

MARC 21:
  852 (one holding each): $b location, $c collection (shelving location), $h $i call number,
  $p barcode → item id.
  952 (Koha items): $b holding branch (else $a home branch) → location, $c shelving location →
  collection, $o call number, $p barcode; status "lost" ($1 ≠ 0), "withdrawn" ($0 ≠ 0),
  "checked out" ($q due date), "not for loan" ($7 ≠ 0).
  999 (SirsiDynix items): $m library → location, $l home location → collection, $a call number,
  $i item id, status = $k current location when present (CHECKEDOUT, LOST, MISSING...), else $l
  when the home location itself is a state (LOST, LOSTCLOSED, WITHDRAWN, ON-ORDER...).
UNIMARC/CNMARC (lenient, the local fields vary between Chinese systems):
  905: $a library → location, $b barcode → item id, $c shelf → collection, $d class number and
  $e book number → call number "$d/$e", $f volume appended.
  995: $b (else $a, $c) library → location, $e shelving location → collection, $k call number
  with $l/$v volume appended, $f barcode → item id.
Alma publishing (both syntaxes): AVA $q (else $b) library → location, $c location → collection,
  $d call number, $e availability → status, $f item count. When AVA is present the 905/995 local
  fields are left out (they repeat older copy-cataloguing data).
995 fields with neither a barcode ($f) nor a call number ($k) are ignored (some Aleph exports put
a bare call number in $a).
Items with the same call number, location, collection and status are grouped into one
:class:`Holding` whose ``items`` counts them.
"""

from __future__ import annotations

from mappings._common import clean, group_items, join_clean
from mappings.document import Holding
from mappings.indexed import MarcRecord
from mappings.marclib import Field

_SIRSI_STATES = frozenset(
    {"LOST", "LOSTCLOSED", "LOST-NRO", "LOST-ASSUM", "LOST-CLAIM", "MISSING", "WITHDRAWN", "DISCARD",
     "ON-ORDER", "ORD-CANCLD", "INPROCESS", "CHECKEDOUT", "BINDERY"}
)


def _flag(field: Field, code: str) -> bool:
    value = (field.get(code) or "").strip()
    return bool(value) and value != "0"


def marc21_holdings(record: MarcRecord) -> list[Holding]:
    """Holdings from 852, 952 and 999 (see module docstring)."""
    holdings = [
        Holding(
            call_number=join_clean(f.get_subfields("k", "h", "i", "m")),
            location=clean(f.get("b")),
            collection=clean(f.get("c")),
            item_id=clean(f.get("p")),
        )
        for f in record.get_fields("852")
    ]
    items: list[Holding] = []
    for f in record.get_fields("952"):
        status = None
        if _flag(f, "1"):
            status = "lost"
        elif _flag(f, "0"):
            status = "withdrawn"
        elif _flag(f, "q"):
            status = "checked out"
        elif _flag(f, "7"):
            status = "not for loan"
        items.append(Holding(clean(f.get("o")), clean(f.get("b") or f.get("a")), clean(f.get("c")),
                             clean(f.get("p")), status))
    for f in record.get_fields("999"):
        home = clean(f.get("l"))
        current = clean(f.get("k"))
        status = current or (home if home and home.upper() in _SIRSI_STATES else None)
        items.append(Holding(clean(f.get("a")), clean(f.get("m")), home, clean(f.get("i")), status))
    return alma_holdings(record) + holdings + group_items(items)


def alma_holdings(record: MarcRecord) -> list[Holding]:
    """Holdings from Alma's published availability fields (AVA)."""
    out = []
    for f in record.get_fields("AVA"):
        count = (f.get("f") or "").strip()
        out.append(Holding(clean(f.get("d")), clean(f.get("q") or f.get("b")), clean(f.get("c")),
                           None, clean(f.get("e")), int(count) if count.isdigit() else 1))
    return out


def unimarc_holdings(record: MarcRecord) -> list[Holding]:
    """Holdings from CNMARC/UNIMARC 905 and 995 (see module docstring)."""
    alma = alma_holdings(record)
    if alma:
        return alma
    items: list[Holding] = []
    for f in record.get_fields("905"):
        call = join_clean(f.get_subfields("d", "e"), "/")
        volume = clean(f.get("f"))
        call = f"{call} {volume}" if call and volume else call
        items.append(Holding(call, clean(f.get("a")), clean(f.get("c")), clean(f.get("b"))))
    for f in record.get_fields("995"):
        if not (f.get("f") or f.get("k")):
            continue
        call = clean(f.get("k"))
        volume = clean(f.get("l") or f.get("v"))
        call = f"{call} {volume}" if call and volume else call or volume
        items.append(Holding(call, clean(f.get("b") or f.get("a") or f.get("c")), clean(f.get("e")),
                             clean(f.get("f"))))
    return group_items(items)
