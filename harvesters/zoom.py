"""A thin ctypes binding over Index Data's YAZ ZOOM C API (``libyaz.so.5``, Debian ``libyaz5``).

Only what unicat needs: connect with options, PQF/CQL search, present in batches, fetch records
in a chosen form (``raw``, ``xml``, ``opac``, with ``; charset=marc8,utf8`` conversion), and
errors as :class:`ZoomError` carrying YAZ's diagnostic code and message.

Threading: ctypes releases the GIL while a YAZ call blocks, so connections may run in parallel
from a thread pool. A :class:`Connection` must never be shared between threads; create one per
task and close it in the same thread (``with Connection(...) as conn:``).

    >>> with Connection("127.0.0.1", 2100, database="Default", timeout=5) as conn:  # doctest: +SKIP
    ...     rs = conn.search("@attr 1=4 computer")
    ...     records = rs.fetch(0, 10, form="raw; charset=marc8,utf8")
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

QueryType = Literal["pqf", "cql"]

#: YAZ diagnostic codes worth naming (yaz/zoom.h and bib-1 diagnostics).
ZOOM_ERROR_CONNECT = 10000
ZOOM_ERROR_MEMORY = 10001
ZOOM_ERROR_ENCODE = 10002
ZOOM_ERROR_DECODE = 10003
ZOOM_ERROR_CONNECTION_LOST = 10004
ZOOM_ERROR_INIT = 10005
ZOOM_ERROR_INTERNAL = 10006
ZOOM_ERROR_TIMEOUT = 10007
ZOOM_ERROR_UNSUPPORTED_PROTOCOL = 10008
ZOOM_ERROR_UNSUPPORTED_QUERY = 10009
ZOOM_ERROR_INVALID_QUERY = 10010
ZOOM_ERROR_CQL_PARSE = 10011
ZOOM_ERROR_CQL_TRANSFORM = 10012


class ZoomError(Exception):
    """A ZOOM call failed: ``code`` is YAZ's or the server's diagnostic, ``message`` its text."""

    def __init__(self, code: int, message: str, addinfo: str = "", diagset: str = "") -> None:
        self.code = code
        self.message = message
        self.addinfo = addinfo
        self.diagset = diagset
        text = f"{diagset or 'ZOOM'} {code}: {message}"
        super().__init__(f"{text} ({addinfo})" if addinfo else text)

    @property
    def is_timeout(self) -> bool:
        return self.code == ZOOM_ERROR_TIMEOUT

    @property
    def is_connect_failure(self) -> bool:
        return self.code in (ZOOM_ERROR_CONNECT, ZOOM_ERROR_INIT, ZOOM_ERROR_CONNECTION_LOST)


_lib: ctypes.CDLL | None = None


def _yaz() -> ctypes.CDLL:
    """Load libyaz once and declare the signatures used (wrong restypes would truncate pointers)."""
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("yaz") or "libyaz.so.5"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        lib = ctypes.CDLL("libyaz.so.5")
    p, s, i, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    pp = ctypes.POINTER(ctypes.c_char_p)
    sigs: dict[str, tuple[object, list[object]]] = {
        "ZOOM_connection_create": (p, [p]),
        "ZOOM_connection_connect": (None, [p, s, i]),
        "ZOOM_connection_option_set": (None, [p, s, s]),
        "ZOOM_connection_error_x": (i, [p, pp, pp, pp]),
        "ZOOM_connection_destroy": (None, [p]),
        "ZOOM_connection_search": (p, [p, p]),
        "ZOOM_query_create": (p, []),
        "ZOOM_query_prefix": (i, [p, s]),
        "ZOOM_query_cql": (i, [p, s]),
        "ZOOM_query_destroy": (None, [p]),
        "ZOOM_resultset_size": (sz, [p]),
        "ZOOM_resultset_option_set": (None, [p, s, s]),
        "ZOOM_resultset_records": (None, [p, p, sz, sz]),
        "ZOOM_resultset_record": (p, [p, sz]),
        "ZOOM_resultset_destroy": (None, [p]),
        "ZOOM_record_get": (ctypes.POINTER(ctypes.c_char), [p, s, ctypes.POINTER(ctypes.c_int)]),
        "ZOOM_record_error": (i, [p, pp, pp, pp]),
    }
    for fname, (restype, argtypes) in sigs.items():
        fn = getattr(lib, fname)
        fn.restype = restype
        fn.argtypes = argtypes
    _lib = lib
    return lib


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


@dataclass(frozen=True)
class ZoomRecord:
    """One retrieved record, copied out of YAZ memory.

    ``data`` is the record in the requested form; ``syntax`` is what the server actually sent
    (e.g. ``"USmarc"``, ``"OPAC"``, ``"XML"``) so callers can refuse an unexpected syntax;
    ``error`` is a per-record (surrogate) diagnostic, in which case ``data`` is empty.
    """

    position: int
    data: bytes
    syntax: str
    error: ZoomError | None = None


class ResultSet:
    """A server-side result set; fetch records from it in batches (positions are 0-based)."""

    def __init__(self, conn: Connection, handle: int) -> None:
        self._conn = conn
        self._handle: int | None = handle

    @property
    def size(self) -> int:
        return int(_yaz().ZOOM_resultset_size(self._handle))

    def fetch(self, start: int, count: int, *, form: str = "raw") -> list[ZoomRecord]:
        """Present ``count`` records from ``start`` in one request and copy them out.

        ``form`` is a ``ZOOM_record_get`` type: ``raw``, ``xml``, ``opac``, optionally with
        ``; charset=marc8,utf8`` (MARC-8 → UTF-8, leader/09 set to ``a``).
        """
        lib = _yaz()
        count = max(0, min(count, self.size - start))
        if count == 0:
            return []
        lib.ZOOM_resultset_option_set(self._handle, b"count", str(count).encode())
        arr = (ctypes.c_void_p * count)()
        lib.ZOOM_resultset_records(self._handle, arr, start, count)
        self._conn.raise_for_error()
        out: list[ZoomRecord] = []
        for n in range(count):
            rec = arr[n]
            if not rec:
                # The server returned fewer records than asked for (present stopped early).
                raise ZoomError(ZOOM_ERROR_DECODE, "record missing from present response", f"position {start + n}")
            out.append(_copy_record(lib, rec, start + n, form))
        return out

    def records(self, *, batch: int = 100, start: int = 0, form: str = "raw") -> Iterator[ZoomRecord]:
        pos = start
        total = self.size
        while pos < total:
            chunk = self.fetch(pos, batch, form=form)
            if not chunk:
                return
            yield from chunk
            pos += len(chunk)

    def close(self) -> None:
        if self._handle:
            _yaz().ZOOM_resultset_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> ResultSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_record(lib: ctypes.CDLL, rec: int, position: int, form: str) -> ZoomRecord:
    msg, add, dset = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_char_p()
    code = lib.ZOOM_record_error(rec, ctypes.byref(msg), ctypes.byref(add), ctypes.byref(dset))
    length = ctypes.c_int(0)
    syn = lib.ZOOM_record_get(rec, b"syntax", ctypes.byref(length))
    syntax = ctypes.string_at(syn, length.value).decode("ascii", "replace") if syn else ""
    if code:
        err = ZoomError(code, _text(msg.value), _text(add.value), _text(dset.value))
        return ZoomRecord(position, b"", syntax, err)
    buf = lib.ZOOM_record_get(rec, form.encode(), ctypes.byref(length))
    if not buf:
        err = ZoomError(ZOOM_ERROR_DECODE, f"record cannot be rendered as {form!r}", syntax)
        return ZoomRecord(position, b"", syntax, err)
    return ZoomRecord(position, ctypes.string_at(buf, length.value), syntax)


class Connection:
    """One Z39.50 (or SRU, with ``sru=get``) connection. Not thread-safe: one per thread.

    ``timeout`` (seconds, rounded up to whole seconds by YAZ) bounds every network wait.
    ``charset`` asks the server for character-set negotiation (e.g. ``"UTF-8"``).
    Extra ZOOM options (``user``, ``password``, ``elementSetName``, ...) go in ``options``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        database: str = "Default",
        syntax: str = "usmarc",
        timeout: float = 30.0,
        charset: str | None = None,
        user: str | None = None,
        password: str | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        lib = _yaz()
        self._handle: int | None = lib.ZOOM_connection_create(None)
        if not self._handle:
            raise ZoomError(ZOOM_ERROR_MEMORY, "cannot create ZOOM connection")
        opts = {
            "timeout": str(max(1, round(timeout + 0.499))),
            "databaseName": database,
            "preferredRecordSyntax": syntax,
            "charset": charset,
            "user": user,
            "password": password,
            **(options or {}),
        }
        for key, value in opts.items():
            if value is not None:
                self.set_option(key, value)
        self.target = f"{host}:{port}/{database}"
        lib.ZOOM_connection_connect(self._handle, f"{host}:{port}".encode(), 0)
        try:
            self.raise_for_error()
        except ZoomError:
            self.close()
            raise

    def set_option(self, key: str, value: str) -> None:
        _yaz().ZOOM_connection_option_set(self._handle, key.encode(), value.encode())

    def raise_for_error(self) -> None:
        msg, add, dset = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_char_p()
        code = _yaz().ZOOM_connection_error_x(self._handle, ctypes.byref(msg), ctypes.byref(add), ctypes.byref(dset))
        if code:
            raise ZoomError(code, _text(msg.value), _text(add.value), _text(dset.value))

    def search(self, query: str, query_type: QueryType = "pqf") -> ResultSet:
        """Run a PQF or CQL query (CQL is sent as-is; the server must understand it)."""
        if self._handle is None:
            raise ZoomError(ZOOM_ERROR_INTERNAL, "connection closed")
        lib = _yaz()
        q = lib.ZOOM_query_create()
        try:
            encoded = query.encode("utf-8")
            rc = lib.ZOOM_query_cql(q, encoded) if query_type == "cql" else lib.ZOOM_query_prefix(q, encoded)
            if rc != 0:
                raise ZoomError(ZOOM_ERROR_INVALID_QUERY, "invalid query", query)
            rs = lib.ZOOM_connection_search(self._handle, q)
        finally:
            lib.ZOOM_query_destroy(q)
        result = ResultSet(self, rs)
        try:
            self.raise_for_error()
        except ZoomError:
            result.close()
            raise
        return result

    def close(self) -> None:
        if self._handle:
            _yaz().ZOOM_connection_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a safety net only; close explicitly
        with contextlib.suppress(Exception):  # interpreter shutdown may have unloaded ctypes
            self.close()
