"""A quicker decoding of the ordinary ISO 2709 record into pymarc's own objects.

pymarc's :meth:`Record.decode_marc` is most of a crosswalk worker's CPU: it decodes every subfield
on its own, and for each one asks the :class:`Leader` object for position 9 through a Python-level
``__getitem__``. :func:`decode_utf8` reads the same structure the same way, but decodes a field's
bytes once (``\\x1f`` is ASCII and cannot sit inside a UTF-8 sequence, so decoding the whole field
and splitting it gives exactly the subfields pymarc decodes one by one) and builds the fields
without pymarc's argument checks, which a decoded directory entry always passes.

It takes only records pymarc would read cleanly and silently: a valid leader and directory, every
field inside the record, two ASCII indicators, ASCII subfield codes, strict UTF-8. For anything
else it returns None and the caller lets pymarc decide, with its own warnings and errors. What it
returns equals pymarc's record field for field (leader, tags, indicators, codes, values, control
data): ``tests/mappings/test_iso2709.py`` compares the two on every record of the test samples, and
``bench/quick_iso2709.py`` on the LC files and every peer fixture.

Only pymarc's classes are built this way; with rmarc installed (:mod:`mappings.marclib`) its own
Rust decoder is used.
"""

from __future__ import annotations

from pymarc import Field, Indicators, Leader, Record, Subfield

_LEADER_LEN = 24
_ENTRY_LEN = 12
#: pymarc builds a control field for a numeric tag below 010, as ruby-marc does.
_CONTROL_BELOW = "010"
#: A :class:`Field` is made in the state ``Field.__init__`` leaves it (its slots), without
#: that method's argument checks, which a tag of three characters from the directory and two ASCII
#: indicators always pass; its named tuples without their Python-level ``__new__``.
_new = object.__new__
_tuple_new = tuple.__new__


def decode_utf8(raw: bytes) -> Record | None:
    """``Record(data=raw, force_utf8=True, utf8_handling="strict")`` for an ordinary record, or None
    when the record needs pymarc's own reading (see the module docstring)."""
    try:
        leader = raw[:_LEADER_LEN].decode("ascii")
        base = int(raw[12:17])
        declared = int(raw[:5])
    except (UnicodeDecodeError, ValueError):
        return None
    if len(leader) != _LEADER_LEN or not 0 < base < len(raw) or len(raw) < declared:
        return None
    directory = raw[_LEADER_LEN : base - 1]
    if len(directory) % _ENTRY_LEN or not directory.isascii():
        return None
    fields = _fields(raw, directory.decode("ascii"), base)
    if not fields:
        return None
    record = Record(to_unicode=True, force_utf8=True)
    record.leader = Leader(leader)
    record.fields = fields
    return record


def _fields(raw: bytes, directory: str, base: int) -> list[Field] | None:
    fields: list[Field] = []
    end = len(raw)
    for start in range(0, len(directory), _ENTRY_LEN):
        tag = directory[start : start + 3]
        try:
            length = int(directory[start + 3 : start + 7])
            offset = base + int(directory[start + 7 : start + 12])
        except ValueError:
            return None
        if offset + length > end or length < 1:
            return None  # pymarc would read a shorter slice here; let it
        try:
            text = raw[offset : offset + length - 1].decode("utf-8")
        except UnicodeDecodeError:
            return None
        field = _control(tag, text) if tag < _CONTROL_BELOW and tag.isdigit() else _data(tag, text)
        if field is None:
            return None
        fields.append(field)
    return fields


def _control(tag: str, text: str) -> Field:
    field = _new(Field)
    field.tag, field.subfields, field._indicators, field.data, field.control_field = tag, [], None, text, True
    return field


def _data(tag: str, text: str) -> Field | None:
    indicators, *parts = text.split("\x1f")
    if len(indicators) != 2:
        return None  # pymarc warns and pads or drops indicators; its reading, not ours
    if not text.isascii() and not (indicators.isascii() and all(part[:1].isascii() for part in parts)):
        return None  # pymarc warns and normalises a code that is not ASCII
    field = _new(Field)
    field.tag, field.data, field.control_field = tag, None, False
    field.subfields = [_tuple_new(Subfield, (part[0], part[1:])) for part in parts if part]
    field._indicators = _tuple_new(Indicators, (indicators[0], indicators[1]))
    return field
