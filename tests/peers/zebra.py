"""A real Zebra server (Debian idzebra-2.0) for tests: Z39.50 and SRU on one free local port.

Configuration comes from the templates in ``tests/data/zebra`` filled with temporary paths and
the port; records are real MARC 21 files, converted to UTF-8 (leader/09 = 'a') before loading as
Zebra expects. Used as a context manager::

    with zebra_server(tmp_path, [SAMPLE_MARC]) as zebra:
        zebra.port, zebra.sru_url
"""

from __future__ import annotations

import gzip
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pymarc

TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "zebra"
SAMPLE_MARC = Path("/usr/share/doc/idzebra-2.0/examples/marc21/sample-marc.gz")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def read_marc(path: Path, limit: int | None = None) -> list[pymarc.Record]:
    """Read ISO 2709 (optionally gzipped), decoding MARC-8 or UTF-8 as the leader says."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        out: list[pymarc.Record] = []
        for rec in pymarc.MARCReader(fh, to_unicode=True, permissive=True):
            if rec is None:
                continue
            out.append(rec)
            if limit is not None and len(out) >= limit:
                break
    return out


def write_utf8(records: Iterable[pymarc.Record], dest: Path) -> int:
    n = 0
    with dest.open("wb") as fh:
        for rec in records:
            rec.leader = rec.leader[:9] + "a" + rec.leader[10:]
            fh.write(rec.as_marc())
            n += 1
    return n


@dataclass
class ZebraServer:
    port: int
    workdir: Path
    database: str = "Default"
    host: str = "127.0.0.1"

    @property
    def sru_url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.database}"

    def load(self, records: Iterable[pymarc.Record], name: str = "extra") -> int:
        """Add or replace records (same 001 replaces) while the server runs (shadow + commit)."""
        recdir = self.workdir / f"load-{name}-{time.monotonic_ns()}"
        recdir.mkdir()
        n = write_utf8(records, recdir / "records.mrc")
        self._zebraidx("-d", self.database, "update", str(recdir))
        self._zebraidx("commit")
        return n

    def _zebraidx(self, *args: str) -> None:
        subprocess.run(
            ["zebraidx", "-c", "zebra.cfg", "-l", str(self.workdir / "zebraidx.log"), *args],
            cwd=self.workdir, check=True, capture_output=True,
        )


def prepare(workdir: Path, records: Iterable[pymarc.Record], port: int) -> ZebraServer:
    """Write the configuration into ``workdir`` and index ``records``; does not start the server."""
    tabdir, regdir, recdir = workdir / "tab", workdir / "reg", workdir / "records"
    for d in (tabdir, regdir, recdir):
        d.mkdir(parents=True, exist_ok=True)
    values = {"tabdir": str(tabdir), "regdir": str(regdir), "workdir": str(workdir), "port": str(port)}
    for name in ("zebra.cfg", "yazgfs.xml"):
        text = Template((TEMPLATES / name).read_text()).substitute(values)
        (workdir / name).write_text(text)
    shutil.copy(TEMPLATES / "pqf.properties", workdir / "pqf.properties")
    for name in ("marc21.abs", "unicat.idx"):
        shutil.copy(TEMPLATES / name, tabdir / name)
    write_utf8(records, recdir / "records.mrc")
    server = ZebraServer(port=port, workdir=workdir)
    server._zebraidx("init")
    server._zebraidx("-d", server.database, "update", str(recdir))
    server._zebraidx("commit")
    return server


@contextmanager
def zebra_server(workdir: Path, records: Iterable[pymarc.Record]) -> Iterator[ZebraServer]:
    port = free_port()
    server = prepare(workdir, records, port)
    log = (workdir / "zebrasrv.log").open("wb")
    proc = subprocess.Popen(
        ["zebrasrv", "-f", "yazgfs.xml", "-l", str(workdir / "zebrasrv.log")],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc=proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
