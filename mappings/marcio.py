"""Reading MARC records (ISO 2709 or MARCXML-like XML) into a pymarc-API ``Record`` (rmarc's when
it is installed, else pymarc's: see :mod:`mappings.marclib`), detecting
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

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree import ElementTree

from lxml import etree

from mappings._common import CrosswalkError, decode_ncr
from mappings.indexed import IndexedRecord, MarcRecord
from mappings.iso2709 import decode_utf8
from mappings.marclib import NAME as MARC_LIBRARY
from mappings.marclib import Field, Indicators, Record, Subfield, marc8_to_unicode, record_to_xml_node

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


#: Character sets a feed may declare for ISO 2709 records whose leader cannot be trusted
#: (``charset`` in a files feed): MARC-8 and UTF-8 as MARC knows them, and the legacy code pages
#: found in real dumps (Cyrillic cp1251/cp866/KOI8-R, Western cp1252/Latin-1, Chinese GB18030/Big5).
CHARSETS = ("marc8", "utf-8", "cp1251", "cp866", "koi8-r", "cp1252", "latin-1", "gb18030", "big5")
#: A MARC-8 reading with this many diacritics on no letter is not MARC-8 (cp1251 read as MARC-8
#: turns every Cyrillic letter into a combining mark).
STRAY_MARKS_LIMIT = 3
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_ESCAPE = re.compile(rb"\x1b[\x20-\x2f]*[\x30-\x7e]?")
#: UTF-8 records are decoded by :mod:`mappings.iso2709` into pymarc's objects (rmarc has its own
#: quicker decoder).
QUICK_UTF8 = MARC_LIBRARY == "pymarc"


def parse_iso2709(raw: bytes, charset: str | None = None) -> Record:
    """Decode one ISO 2709 record; :class:`CrosswalkError` when the structure is unusable or the
    text cannot be read cleanly in the character set the leader (or ``charset``) implies.

    Without ``charset``: UTF-8 when leader/09 says so or the bytes are valid UTF-8, else MARC-8;
    a subfield that fails in that character set is read in the other one (MARC-8 bytes under a
    UTF-8 leader, one bad MARC-8 escape in one subfield), so one bad subfield never garbles the
    rest of the record.
    """
    if len(raw) < 24:
        raise CrosswalkError("record shorter than a leader")
    if charset and charset not in CHARSETS:
        raise CrosswalkError(f"unknown character set {charset!r} (known: {', '.join(CHARSETS)})")
    if charset and charset not in ("marc8", "utf-8"):
        return _parse_codepage(raw, charset)
    utf8 = charset == "utf-8" or (charset is None and raw[9:10] == b"a")
    if charset is None and not utf8 and not raw.isascii():
        try:
            raw.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
    record = _parse_fast(raw, utf8)
    if record is None:
        record = _parse_raw(raw)
        order = ("utf-8", "marc8") if utf8 else ("marc8", "utf-8")
        _decode_fields(record, lambda data: _decode_either(data, order))
    if not record.fields:
        raise CrosswalkError("record has no fields")
    if utf8 and _plain_ascii(raw):
        _set_utf8_leader(record)  # nothing else to tidy: every value is ASCII without an NCR
    else:
        _tidy(record, ncr=True, marc8=not utf8)
    return record


def _plain_ascii(raw: bytes) -> bool:
    """True when a record read as UTF-8 has only ASCII text without a character reference: each
    value is then its bytes as they are (an escape byte would have sent a subfield to MARC-8)."""
    return raw.isascii() and b"\x1b" not in raw and b"&#" not in raw


def _parse_fast(raw: bytes, utf8: bool) -> Record | None:
    """pymarc's own decoding of the whole record (or :func:`mappings.iso2709.decode_utf8`'s
    quicker one of the same objects); None when any subfield fails in it."""
    if utf8 and QUICK_UTF8:
        record = decode_utf8(raw)
        if record is not None:
            return record
    try:
        record = Record(data=raw, to_unicode=True, force_utf8=utf8, hide_utf8_warnings=True, utf8_handling="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    except Exception as exc:  # pymarc raises many types (and IndexError) on a broken structure
        raise CrosswalkError(f"unreadable ISO 2709 record: {type(exc).__name__}: {exc}") from exc
    if not utf8 and b"\x1b" in raw and _escape_left(record):
        return None  # an escape MARC-8 could not follow: decode subfield by subfield
    return record


def _escape_left(record: Record) -> bool:
    return any("\x1b" in sub.value for f in record.fields if not f.control_field for sub in f.subfields)


def _parse_raw(raw: bytes) -> Record:
    try:
        return Record(data=raw, to_unicode=False)
    except Exception as exc:
        raise CrosswalkError(f"unreadable ISO 2709 record: {type(exc).__name__}: {exc}") from exc


def _parse_codepage(raw: bytes, charset: str) -> Record:
    """A record in a declared code page: every subfield must decode in it, else a named reject."""
    record = _parse_raw(raw)

    def decode(data: bytes) -> str:
        try:
            return data.decode(charset)
        except UnicodeDecodeError as exc:
            raise CrosswalkError(f"text is not {charset} as the feed declares: {exc}") from exc

    _decode_fields(record, decode)
    if not record.fields:
        raise CrosswalkError("record has no fields")
    _tidy(record, ncr=False, marc8=False)
    return record


def _decode_fields(record: Record, decode: Callable[[bytes], str]) -> None:
    """Replace pymarc's undecoded fields (``to_unicode=False``) with decoded ones."""
    fields: list[Field] = []
    for raw_field in record.fields:
        if raw_field.control_field:
            data = raw_field.data
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            fields.append(Field(tag=raw_field.tag, data=text))
            continue
        subfields = [Subfield(s.code, decode(s.value) if isinstance(s.value, bytes) else s.value)
                     for s in raw_field.subfields]
        fields.append(Field(tag=raw_field.tag, indicators=raw_field.indicators, subfields=subfields))
    record.fields = fields


def _decode_either(data: bytes, order: tuple[str, str]) -> str:
    """One subfield in the first of ``order`` ("utf-8", "marc8") that reads it cleanly; MARC-8
    without its broken escape sequences next; UTF-8 with replacement characters last."""
    for charset in order:
        text = _utf8(data) if charset == "utf-8" else _marc8(data)
        if text is not None:
            return text
        if charset == "utf-8" and _UTF8_SEQUENCE.search(data):
            break  # UTF-8 with a bad byte, not MARC-8: its letters would become MARC-8 symbols
    else:
        text = _marc8(_ESCAPE.sub(b"", data))
        if text is not None:
            return text
    return _ESCAPE.sub(b"", data).decode("utf-8", "replace")


def _utf8(data: bytes) -> str | None:
    if b"\x1b" in data:
        return None  # MARC-8 escapes (their CJK bytes are ASCII, so they would pass as UTF-8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _marc8(data: bytes) -> str | None:
    try:
        text = marc8_to_unicode(data, hide_utf8_warnings=True)
    except Exception:  # pymarc's converter raises several types on broken input
        return None
    return None if "\x1b" in text else text


def _tidy(record: Record, *, ncr: bool, marc8: bool = False) -> None:
    """NFC-normalise all text (MARC-8 yields decomposed letters), decode MARC-8 NCRs and repair
    UTF-8 that was read as Latin-1 on the way; reject a MARC-8 reading full of diacritics on no
    letter (another character set under a MARC-8 leader)."""
    _set_utf8_leader(record)
    stray = 0
    for field in record.fields:
        if field.control_field:
            continue
        subfields = field.subfields
        for i, sub in enumerate(subfields):
            value = sub.value
            if value.isascii() and not (ncr and "&#" in value):
                continue
            if ncr and "&#" in value:
                value = decode_ncr(value)
            if not value.isascii():
                value = _repair(value)
                if marc8:
                    stray += stray_marks(value)
            if value != sub.value:
                subfields[i] = Subfield(sub.code, value)
    if stray >= STRAY_MARKS_LIMIT:
        raise CrosswalkError(
            f"text is not MARC-8 as the leader says ({stray} diacritics on no letter): another character "
            f"set (cp1251, cp866 …)? Set charset in the member's files feed"
        )


def _set_utf8_leader(record: Record) -> None:
    """Leader/09 "a": the text is Unicode now, whatever the source's character set was."""
    leader = str(record.leader)
    record.leader = leader[:9] + "a" + leader[10:]


_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]")


def _repair(value: str) -> str:
    """NFC, after undoing UTF-8 that was read as Latin-1 (even several times over:
    ``MetsÃ\u0083Â¤`` → ``Metsä``) when the whole value decodes back cleanly."""
    for _ in range(32):
        if not _MOJIBAKE.search(value):
            break
        try:
            value = value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            break
    return value if unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)


def stray_marks(text: str) -> int:
    """Combining marks that follow no letter (after NFC): MARC-8's reading of foreign bytes."""
    count, previous = 0, " "
    for char in text:
        if unicodedata.combining(char) and not previous.isalpha():
            count += 1
        previous = char
    return count


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
    return value if value.isascii() else _repair(value)


def detect_marc(record: MarcRecord, hint: str | None = None) -> str:
    """MARC 21 or UNIMARC? A namespace/format hint wins unless the content plainly contradicts
    a MARC 21 hint (no 245 but a UNIMARC 200 $a with 100 general data: UNIMARC sent as MARCXML,
    as Koha and others do)."""
    record = IndexedRecord.of(record)  # "tag in record" without a walk of the fields
    unimarc_like = "200" in record and any(f.get("a") for f in record.get_fields("200")) and (
        _has_unimarc_100(record) or "801" in record
    )
    if hint == "unimarc":
        return "unimarc"
    if hint == "marc21":
        return "unimarc" if unimarc_like and "245" not in record else "marc21"
    if "245" in record:
        return "marc21"
    if unimarc_like or ("200" in record and "008" not in record):
        return "unimarc"
    return "marc21"


def _has_unimarc_100(record: MarcRecord) -> bool:
    for field in record.get_fields("100"):
        value = field.get("a") or "" if not field.control_field else ""
        if len(value) >= 12 and value[:8].isdigit():
            return True
    return False


#: Characters XML 1.0 forbids (C0 controls but tab, newline and return; U+FFFE, U+FFFF): MARC
#: records carry stray 0x01, 0x02, 0x1B (a broken MARC-8 escape) and 0x1F (a lost delimiter).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML cannot carry (each becomes U+FFFD, so the display shows
    that something was there)."""
    return _NOT_XML.sub("\ufffd", text)


def record_to_marcxml(record: Record) -> str:
    """MARCXML (MARC 21 slim namespace, UTF-8 leader) of a decoded record, as text; always
    well-formed (see :func:`xml_safe`)."""
    leader = xml_safe(str(record.leader))
    record.leader = leader[:9] + "a" + leader[10:]
    for field in record.fields:
        field.tag = xml_safe(field.tag)
        if field.control_field:
            field.data = xml_safe(field.data)
            continue
        field.indicators = Indicators(*(xml_safe(i) for i in field.indicators))
        field.subfields = [Subfield(xml_safe(s.code), xml_safe(s.value)) for s in field.subfields]
    node = record_to_xml_node(record, namespace=True)
    return ElementTree.tostring(node, encoding="unicode")


def dc_to_text(element: etree._Element) -> str:
    """The Dublin Core element serialised back to text."""
    return etree.tostring(element, encoding="unicode")
