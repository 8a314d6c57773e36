"""A decoded MARC record with its fields grouped by tag, for the crosswalks to read.

A MARC 21 crosswalk asks for some 25 tags a record (``get_fields``, ``get``, ``in``), and pymarc's
and rmarc's :class:`Record` answer each by walking every field. :class:`IndexedRecord` walks them
once and answers the same questions from a dict, in the same order: ``get_fields`` with several
tags still gives the fields in record order, as :meth:`Record.get_fields` does.
"""

from __future__ import annotations

from typing import Any, Protocol

from mappings.marclib import Field


class MarcRecord(Protocol):
    """What the crosswalks read of a record: pymarc's (or rmarc's) :class:`Record` or an
    :class:`IndexedRecord`."""

    fields: list[Field]
    leader: Any

    def get(self, tag: str) -> Field | None: ...

    def get_fields(self, *tags: str) -> list[Field]: ...

    def __contains__(self, tag: str) -> bool: ...


class IndexedRecord:
    """A read-only view of a record whose fields are looked up by tag (see module docstring).

    The lists it hands out are its own: callers must not change them (the crosswalks build new
    lists with ``+`` and comprehensions)."""

    __slots__ = ("fields", "leader", "_by_tag")

    def __init__(self, record: MarcRecord) -> None:
        self.fields = record.fields
        self.leader = record.leader
        by_tag: dict[str, list[Field]] = {}
        for field in record.fields:
            same = by_tag.get(field.tag)
            if same is None:
                by_tag[field.tag] = [field]
            else:
                same.append(field)
        self._by_tag = by_tag

    @classmethod
    def of(cls, record: MarcRecord) -> IndexedRecord:
        return record if isinstance(record, IndexedRecord) else cls(record)

    def get(self, tag: str) -> Field | None:
        """The first field with ``tag``, as :meth:`Record.get`."""
        same = self._by_tag.get(tag)
        return same[0] if same else None

    def get_fields(self, *tags: str) -> list[Field]:
        """The fields with any of ``tags`` in record order, as :meth:`Record.get_fields`."""
        if len(tags) == 1:
            return self._by_tag.get(tags[0]) or []
        if not tags:
            return self.fields
        present = [tag for tag in tags if tag in self._by_tag]
        if len(present) <= 1:
            return self._by_tag[present[0]] if present else []
        wanted = set(present)
        return [field for field in self.fields if field.tag in wanted]

    def __contains__(self, tag: str) -> bool:
        return tag in self._by_tag
