"""The one place harvesters build XML parsers.

Everything a member sends is untrusted: entities are never resolved (no billion laughs, no XXE),
no DTD is loaded, nothing is fetched from the network and lxml's ``huge_tree`` safety limits stay
on. Use :func:`parse_xml` for a whole document, :func:`recover_xml` only to salvage what a broken
document still holds, and :func:`iter_elements` to stream large files.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import IO

from lxml import etree


class XmlError(ValueError):
    """The bytes are not well-formed XML; the message says where and why."""


def parser(*, recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        recover=recover,
        remove_comments=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse a complete document strictly; raise :class:`XmlError` naming the first fault."""
    if not data or not data.strip():
        raise XmlError("empty document")
    try:
        root = etree.fromstring(data, parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise XmlError("no root element")
    return root


def recover_xml(data: bytes) -> etree._Element | None:
    """Parse leniently, returning whatever tree lxml can rebuild (``None`` when nothing)."""
    if not data or not data.strip():
        return None
    try:
        return etree.fromstring(data, parser(recover=True))
    except etree.XMLSyntaxError:
        return None


def iter_elements(source: IO[bytes], tags: Iterable[str]) -> Iterator[etree._Element]:
    """Yield each element named in ``tags`` once it is complete, from a binary stream.

    The caller must not keep references: after each yield the element is cleared and earlier
    siblings are dropped, so memory stays flat on files of any size. A syntax error raises
    :class:`XmlError` after the records before it have been yielded.
    """
    context = etree.iterparse(
        source,
        events=("end",),
        tag=list(tags),
        remove_comments=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    try:
        for _event, element in context:
            yield element
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML: {exc}") from exc


def serialise(element: etree._Element) -> bytes:
    """The element alone as UTF-8 bytes: no tail, no namespace declarations it does not use."""
    alone = copy.deepcopy(element)
    alone.tail = None
    etree.cleanup_namespaces(alone)
    return etree.tostring(alone, encoding="UTF-8", xml_declaration=False, with_tail=False)
