"""The MARC object model the crosswalks read records into: rmarc's when it is installed, else pymarc's.

rmarc (``pip install unicat[rmarc]``) is a fork of pymarc with the same API whose ISO 2709 decoding
and MARC-8 conversion run in Rust; ``bench/marc_readers.py`` found its documents identical to
pymarc's on every shared sample and the first 2,000 LC records, at about 0.4 of pymarc's parse CPU.
pymarc stays the fallback, and ``UNICAT_MARC_READER=pymarc`` keeps it even where rmarc is installed
(to compare, or should an rmarc release ever disagree). With pymarc, ordinary UTF-8 records are
decoded into its objects by :mod:`mappings.iso2709`, which made pymarc's parse about as quick as
rmarc's (``bench/quick_iso2709.py``).
"""

from __future__ import annotations

import os
from types import ModuleType

import pymarc


def _reader() -> ModuleType:
    if os.environ.get("UNICAT_MARC_READER", "").strip().lower() == "pymarc":
        return pymarc
    try:
        import rmarc
    except ImportError:
        return pymarc
    return rmarc


LIBRARY = _reader()
#: "rmarc" or "pymarc": the library the crosswalks use in this process.
NAME = LIBRARY.__name__

Record = LIBRARY.Record
Field = LIBRARY.Field
Subfield = LIBRARY.Subfield
Indicators = LIBRARY.Indicators
marc8_to_unicode = LIBRARY.marc8_to_unicode
#: Always pymarc's writer: rmarc 5.4.0's ``record_to_xml_node(namespace=True)`` leaves the MARC 21
#: slim namespace off the elements (found by ``bench/marc_readers.py``); pymarc's reads any
#: record with this API.
record_to_xml_node = pymarc.record_to_xml_node

__all__ = ["NAME", "Field", "Indicators", "Record", "Subfield", "marc8_to_unicode", "record_to_xml_node"]
