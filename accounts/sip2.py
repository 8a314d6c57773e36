"""SIP2 patron check against the member's ILS, framed by the ``pysip2`` codec.

One short connection per sign-in: optional SC login (93/94), then Patron Information (63/64) or Patron
Status (23/24) carrying the patron's password. The reader is signed in when the ILS says *valid patron*
(BL=Y) and *valid patron password* (CQ=Y). Blocks come from the ILS's own flags: charge or hold
privileges denied or card reported lost in the patron status, or an expiry date in the past
(Evergreen's ``PA``, Polaris' ``PX`` extension fields). Anything the codec cannot read is
"unavailable", never a sign-in.
"""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, date, datetime

from pysip2 import (
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    calculate_checksum,
    decode_message,
    encode_message,
)
from pysip2.codec import verify_checksum
from pysip2.errors import SIP2Error
from sqlalchemy.orm import Session

from accounts.config import Sip2Auth
from accounts.identity import Identity, SignInError

#: Positions in the 14-character patron status that stop a reader from borrowing (SIP2 2.00, 2.00 spec
#: "patron status"): 0 charge privileges denied, 3 hold privileges denied, 4 card reported lost.
BLOCKING_FLAGS = {0: "charge privileges denied", 3: "hold privileges denied", 4: "card reported lost"}
#: Extension fields ILSs use for the card's expiry date (YYYYMMDD first).
EXPIRY_FIELDS = ("PA", "PX")
MAX_FRAME = 64 * 1024
_FIXED_64 = 2 + 14 + 3 + 18 + 6 * 4
_FIXED_24 = 2 + 14 + 3 + 18


class Sip2Authenticator:
    def __init__(self, config: Sip2Auth) -> None:
        self.config = config

    def authenticate(self, session: Session, member_code: str, username: str, password: str) -> Identity | None:
        if not username or not password:
            return None
        if any(ch in username + password for ch in (self.config.field_delimiter, "\r", "\n", "\0")):
            return None  # would break the frame; no ILS barcode or PIN contains them
        try:
            with self._connection() as conn:
                if self.config.login_user:
                    self._login(conn)
                raw, reply = self._exchange(conn, self._patron_request(username, password), 1)
        except (OSError, ssl.SSLError) as exc:
            raise SignInError("unavailable", f"SIP2 {self.config.host}:{self.config.port}: "
                                             f"{type(exc).__name__}: {exc}") from None
        return self._identity(username, raw, reply)

    # --- wire ------------------------------------------------------------------------------------

    def _connection(self) -> socket.socket:
        c = self.config
        sock = socket.create_connection((c.host, c.port), timeout=c.timeout)
        sock.settimeout(c.timeout)
        if c.tls:
            context = ssl.create_default_context(cafile=c.ca_file)
            sock = context.wrap_socket(sock, server_hostname=c.host)
        return sock

    def _exchange(self, conn: socket.socket, message: object, seq: int) -> tuple[bytes, object]:
        c = self.config
        frame = encode_message(message, sequence_number=seq if c.checksum else None,  # type: ignore[arg-type]
                               checksum=c.checksum, encoding=c.encoding, field_delimiter=c.field_delimiter)
        conn.sendall(frame)
        raw = _read_frame(conn)
        try:
            return raw, decode_message(_tolerant(raw), encoding=c.encoding, field_delimiter=c.field_delimiter).message
        except (SIP2Error, ValueError, UnicodeDecodeError) as exc:
            raise SignInError("unavailable", f"SIP2 {c.host}:{c.port}: unreadable answer ({exc}): "
                                             f"{raw[:40]!r}") from None

    def _login(self, conn: socket.socket) -> None:
        c = self.config
        _, reply = self._exchange(conn, LoginRequest(uid_algorithm="0", pwd_algorithm="0",
                                                     login_user_id=c.login_user or "",
                                                     login_password=c.login_password or "",
                                                     location_code=c.location_code or None), 0)
        if not isinstance(reply, LoginResponse) or reply.ok != "1":
            raise SignInError("misconfigured", f"SIP2 {c.host}:{c.port}: the SC login was refused")

    def _patron_request(self, username: str, password: str) -> object:
        c, when = self.config, datetime.now(UTC).strftime("%Y%m%d    %H%M%S")
        if c.message == "23":
            return PatronStatusRequest(language="000", transaction_date=when, institution_id=c.institution_id,
                                       patron_identifier=username, terminal_password="", patron_password=password)
        return PatronInformationRequest(language="000", transaction_date=when, summary=" " * 10,
                                        institution_id=c.institution_id, patron_identifier=username,
                                        terminal_password="", patron_password=password)

    # --- meaning ---------------------------------------------------------------------------------

    def _identity(self, username: str, raw: bytes, reply: object) -> Identity | None:
        if not isinstance(reply, PatronInformationResponse | PatronStatusResponse):
            raise SignInError("unavailable", f"SIP2: expected a patron answer, got {type(reply).__name__}")
        if reply.valid_patron != "Y" or reply.valid_patron_password != "Y":
            return None
        if reply.patron_identifier and reply.patron_identifier != username:
            return None  # an answer about somebody else
        fixed = _FIXED_64 if isinstance(reply, PatronInformationResponse) else _FIXED_24
        extensions = _fields(raw, fixed, self.config)
        return Identity(username=username, display_name=reply.personal_name.strip() or username,
                        email=(getattr(reply, "email_address", None) or None), external_id=username,
                        source="sip2", blocked_reason=_block_reason(reply, extensions))


def _tolerant(raw: bytes) -> bytes:
    """Sierra sends digits ("0000") in the transaction date's time-zone columns, which SIP2 2.00 fills
    with letters or blanks; blank them so the strict codec reads the rest. A checksum is verified on the
    bytes as they came before it is recomputed for the blanked copy (a bad one stays bad)."""
    zone = slice(2 + 14 + 3 + 8, 2 + 14 + 3 + 12) if raw[:2] in (b"64", b"24") else None
    if zone is None or not raw[zone].isdigit():
        return raw
    checksummed = raw.rstrip(b"\r")[-6:-4] == b"AZ"
    if checksummed and not verify_checksum(raw.rstrip(b"\r")):
        return raw
    fixed = raw[: zone.start] + b"    " + raw[zone.stop :]
    return _rechecksum(fixed) if checksummed else fixed


def _rechecksum(frame: bytes) -> bytes:
    body = frame.rstrip(b"\r")
    at = body.rindex(b"AZ") + 2
    return body[:at] + calculate_checksum(body[:at]).encode() + b"\r"


def _read_frame(conn: socket.socket) -> bytes:
    """Bytes up to and including the CR (some ILSs add LF after it)."""
    buf = bytearray()
    while not buf.endswith(b"\r"):
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("the ILS closed the connection before a whole message")
        buf += chunk.replace(b"\n", b"")
        if len(buf) > MAX_FRAME:
            raise ConnectionError("the ILS answer has no end of message")
    return bytes(buf[: buf.index(b"\r") + 1])


def _fields(raw: bytes, fixed: int, config: Sip2Auth) -> dict[str, str]:
    """Variable fields by id, including the extension fields the typed model leaves out."""
    text = raw[fixed:].rstrip(b"\r").decode(config.encoding, "replace")
    out: dict[str, str] = {}
    for part in text.split(config.field_delimiter):
        if len(part) >= 2:
            out.setdefault(part[:2], part[2:])
    return out


def _block_reason(reply: PatronInformationResponse | PatronStatusResponse, fields: dict[str, str]) -> str | None:
    status = reply.patron_status
    flags = [why for pos, why in BLOCKING_FLAGS.items() if len(status) > pos and status[pos] == "Y"]
    expired = _expired(fields)
    if not flags and not expired:
        return None
    said = " ".join(m.strip() for m in reply.screen_message if m.strip())
    reasons = ([f"card expired on {expired.isoformat()}"] if expired else []) + flags
    text = "Your library reports: " + "; ".join(reasons) + (f" ({said})" if said else "")
    return text[:255]


def _expired(fields: dict[str, str]) -> date | None:
    today = datetime.now(UTC).date()
    for name in EXPIRY_FIELDS:
        value = fields.get(name, "")
        if len(value) >= 8 and value[:8].isdigit():
            try:
                when = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
            except ValueError:
                continue
            if when < today:
                return when
    return None
