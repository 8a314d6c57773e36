"""Reading MARC records (ISO 2709 or MARCXML-like XML) into :class:`pymarc.Record`, detecting
MARC 21 vs UNIMARC/CNMARC vs Dublin Core, and writing MARCXML for display.

Character sets: ISO 2709 records whose leader/09 is ``a`` are read as UTF-8; those with a blank
leader/09 as MARC-8 (converted to Unicode by pymarc), unless their bytes are valid UTF-8 with
non-ASCII content, in which case the leader lies and UTF-8 wins. Undecodable UTF-8 is read with
replacement characters rather than rejected (RecordManager does the same). Numeric character
references (``&#x7EA2;``, MARC-8's escape for unmappable characters) are decoded and all text is
put in Unicode NFC.

XML is parsed with lxml without entity expansion, DTD loading or network access. Elements are
matched by local name, so MARCXML, marcxchange (v1/v2), CNMARC (``http://www.nlc.cn/``) and
dp2's ``unimarcxml`` all read the same way.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from xml.etree import ElementTree

import pymarc
from lxml import etree
from pymarc import Field, Indicators, Record, Subfield

from mappings._common import CrosswalkError, decode_ncr

MARC21_NS = "http://www.loc.gov/MARC21/slim"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
_UNIMARC_NS_HINTS = ("nlc.cn", "unimarc", "cnmarc")
_MARC_CHILDREN = frozenset({"leader", "controlfield", "datafield"})

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
    remove_comments=True, remove_pis=True,
)


@dataclass
class ParsedXml:
    """What an XML source record turned out to be: a MARC record (with a syntax hint from its
    namespace or ``format`` attribute, if any) or a Dublin Core element."""

    record: Record | None = None
    hint: str | None = None
    dc: etree._Element | None = None


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _namespace(tag: object) -> str:
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


def parse_iso2709(raw: bytes) -> Record:
    """Decode one ISO 2709 record; :class:`CrosswalkError` when the structure is unusable."""
    if len(raw) < 24:
        raise CrosswalkError("record shorter than a leader")
    leader9 = raw[9:10]
    utf8 = leader9 == b"a"
    if not utf8 and not raw.isascii():
        try:
            raw.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
    attempts = [(True, "strict"), (True, "replace")] if utf8 else [(False, "strict"), (True, "replace")]
    last: Exception | None = None
    for force_utf8, handling in attempts:
        try:
            record = Record(
                data=raw, to_unicode=True, force_utf8=force_utf8, hide_utf8_warnings=True,
                utf8_handling=handling,
            )
        except Exception as exc:  # pymarc raises many types (and IndexError/ValueError) on garbage
            last = exc
            continue
        if not record.fields:
            raise CrosswalkError("record has no fields")
        _tidy(record, ncr=not force_utf8)
        return record
    raise CrosswalkError(f"unreadable ISO 2709 record: {type(last).__name__}: {last}")


def _tidy(record: Record, *, ncr: bool) -> None:
    """NFC-normalise all text (MARC-8 yields decomposed letters) and decode MARC-8 NCRs."""
    leader = str(record.leader)
    record.leader = leader[:9] + "a" + leader[10:]
    for field in record.fields:
        if field.control_field:
            continue
        subfields = field.subfields
        for i, sub in enumerate(subfields):
            value = sub.value
            if value.isascii() and not (ncr and "&#" in value):
                continue
            if not unicodedata.is_normalized("NFC", value):
                value = unicodedata.normalize("NFC", value)
            if ncr and "&#" in value:
                value = decode_ncr(value)
            if value != sub.value:
                subfields[i] = Subfield(sub.code, value)


def parse_xml(raw: bytes) -> ParsedXml:
    """Parse an XML source record (MARC in any namespace, or oai_dc)."""
    try:
        root = etree.fromstring(raw, parser=_PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise CrosswalkError(f"unparseable XML: {exc}") from exc
    dc = _find_dc(root)
    if dc is not None:
        return ParsedXml(dc=dc)
    element = _find_marc_record(root)
    if element is None:
        raise CrosswalkError(f"no MARC record or Dublin Core in XML root <{_local(root.tag)}>")
    return ParsedXml(record=_element_to_record(element), hint=_hint(element))


def _find_dc(root: etree._Element) -> etree._Element | None:
    for element in root.iter():
        if _namespace(element.tag) == OAI_DC_NS and _local(element.tag) == "dc":
            return element
    if any(_namespace(child.tag) == DC_NS for child in root):
        return root
    return None


def _find_marc_record(root: etree._Element) -> etree._Element | None:
    for element in root.iter():
        if _local(element.tag) == "record" and any(_local(c.tag) in _MARC_CHILDREN for c in element):
            return element
    return None


def _hint(element: etree._Element) -> str | None:
    fmt = (element.get("format") or "").lower()
    if "unimarc" in fmt or "cnmarc" in fmt:
        return "unimarc"
    if "marc21" in fmt.replace(" ", "") or fmt == "marc":
        return "marc21"
    namespace = _namespace(element.tag).lower()
    if any(h in namespace for h in _UNIMARC_NS_HINTS):
        return "unimarc"
    if namespace == MARC21_NS.lower():
        return "marc21"
    return None


def _element_to_record(element: etree._Element) -> Record:
    record = Record()
    fields: list[Field] = []
    for child in element:
        name = _local(child.tag)
        if name == "leader":
            leader = (child.text or "").replace("-", " ").replace("#", " ")
            record.leader = (leader + " " * 24)[:24]
        elif name == "controlfield":
            fields.append(Field(tag=(child.get("tag") or "").strip(), data=child.text or ""))
        elif name == "datafield":
            subfields = [
                Subfield((sub.get("code") or " ")[:1], _nfc(sub.text or ""))
                for sub in child
                if _local(sub.tag) == "subfield"
            ]
            ind1, ind2 = (child.get("ind1") or " ")[:1], (child.get("ind2") or " ")[:1]
            fields.append(Field(tag=(child.get("tag") or "").strip(), indicators=Indicators(ind1, ind2),
                                subfields=subfields))
    if not fields:
        raise CrosswalkError("MARC XML record has no fields")
    record.fields = fields
    return record


def _nfc(value: str) -> str:
    if value.isascii() or unicodedata.is_normalized("NFC", value):
        return value
    return unicodedata.normalize("NFC", value)


def detect_marc(record: Record, hint: str | None = None) -> str:
    """MARC 21 or UNIMARC? A namespace/format hint wins unless the content plainly contradicts
    a MARC 21 hint (no 245 but a UNIMARC 200 $a with 100 general data: UNIMARC sent as MARCXML,
    as Koha and others do)."""
    tags = {field.tag for field in record.fields}
    unimarc_like = "200" in tags and any(f.get("a") for f in record.get_fields("200")) and (
        _has_unimarc_100(record) or "801" in tags
    )
    if hint == "unimarc":
        return "unimarc"
    if hint == "marc21":
        return "unimarc" if unimarc_like and "245" not in tags else "marc21"
    if "245" in tags:
        return "marc21"
    if unimarc_like or ("200" in tags and "008" not in tags):
        return "unimarc"
    return "marc21"


def _has_unimarc_100(record: Record) -> bool:
    for field in record.get_fields("100"):
        value = field.get("a") or "" if not field.control_field else ""
        if len(value) >= 12 and value[:8].isdigit():
            return True
    return False


def record_to_marcxml(record: Record) -> str:
    """MARCXML (MARC 21 slim namespace, UTF-8 leader) of a decoded record, as text."""
    leader = str(record.leader)
    record.leader = leader[:9] + "a" + leader[10:]
    node = pymarc.record_to_xml_node(record, namespace=True)
    return ElementTree.tostring(node, encoding="unicode")


def dc_to_text(element: etree._Element) -> str:
    """The Dublin Core element serialised back to text."""
    return etree.tostring(element, encoding="unicode")
