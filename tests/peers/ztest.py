"""YAZ's ``yaz-ztest`` server on a free port: OPAC records with circulation data, and faults.

- Record syntax ``opac`` returns ztest's built-in OPAC record (one holding, available now).
- With ``fetch_dir`` set, XML requests with element set ``opac`` are answered from
  ``<fetch_dir>/opac.<position>.xml`` (``YAZ_ZTEST_XML_FETCH``), so a test decides each record's
  circulation data; :func:`opac_record_xml` writes such a document in YAZ's OPAC XML shape.
- Database names such as ``Default?search-delay=3`` make it slow on purpose.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

from tests.peers.zebra import free_port, wait_for_port


@contextmanager
def ztest_server(workdir: Path, fetch_dir: Path | None = None) -> Iterator[int]:
    port = free_port()
    env = dict(os.environ)
    if fetch_dir is not None:
        env["YAZ_ZTEST_XML_FETCH"] = f"{fetch_dir}/"
    proc = subprocess.Popen(
        ["yaz-ztest", "-l", str(workdir / f"ztest-{port}.log"), f"tcp:127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc=proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def opac_record_xml(local_id: str, holdings: list[dict[str, str | bool | None]]) -> str:
    """An ``opacRecord`` as YAZ renders OPAC records; each holding dict has ``call_number``,
    ``location``, ``item_id``, ``available`` (bool), ``due`` (``availablityDate``), ``on_hold``."""
    parts = [
        "<opacRecord>\n  <bibliographicRecord>\n",
        '<record xmlns="http://www.loc.gov/MARC21/slim">\n  <leader>00366nam a22001698a 4500</leader>\n',
        f'  <controlfield tag="001">{escape(local_id)}</controlfield>\n</record>\n',
        "  </bibliographicRecord>\n<holdings>\n",
    ]
    for h in holdings:
        parts.append(" <holding>\n")
        parts.append(f"  <localLocation>{escape(str(h.get('location') or ''))}</localLocation>\n")
        parts.append(f"  <callNumber>{escape(str(h.get('call_number') or ''))}</callNumber>\n")
        parts.append("  <circulations>\n   <circulation>\n")
        parts.append(f"    <availableNow value=\"{1 if h.get('available') else 0}\"/>\n")
        if h.get("due"):
            parts.append(f"    <availablityDate>{escape(str(h['due']))}</availablityDate>\n")
        parts.append(f"    <itemId>{escape(str(h.get('item_id') or ''))}</itemId>\n")
        parts.append('    <renewable value="0"/>\n')
        parts.append(f"    <onHold value=\"{1 if h.get('on_hold') else 0}\"/>\n")
        parts.append("   </circulation>\n  </circulations>\n </holding>\n")
    parts.append("</holdings>\n</opacRecord>\n")
    return "".join(parts)
