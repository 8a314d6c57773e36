"""A SIP2 ACS on loopback that answers with the captured frames of real ILSs (tests/data/sip2/).

Requests are read with the same codec the application uses (pysip2); the answer for a patron and PIN is
a captured 64 frame replayed as it was captured, except for the recomputed checksum digits (see the
data README). ``mode="garbage"`` answers every request with bytes no ILS sends; ``mode="hang"`` accepts
connections and never answers.
"""

from __future__ import annotations

import socketserver
import threading
import time
from pathlib import Path

from pysip2 import LoginRequest, PatronInformationRequest, PatronStatusRequest, calculate_checksum, decode_message

DATA = Path(__file__).resolve().parents[1] / "data" / "sip2"


def captured() -> dict[str, bytes]:
    frames: dict[str, bytes] = {}
    for path in sorted(DATA.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            name, frame = line.split("\t", 1)
            frames[f"{path.stem}_{name}"] = frame.encode("cp850")
    return frames


def rechecksum(frame: bytes) -> bytes:
    at = frame.rindex(b"AZ") + 2
    return frame[:at] + calculate_checksum(frame[:at]).encode() + b"\r"


FRAMES = captured()
#: barcode -> (PIN, frame when the PIN is right, frame when it is wrong)
PATRONS = {
    "12345": ("4321", "sierra_valid_login", "sierra_invalid_login"),
    "25891000331441": ("1111", "polaris_valid_pin", "polaris_wrong_pin"),
    "25891000224613": ("2222", "polaris_expired_card", "polaris_wrong_pin"),
}


class _Handler(socketserver.StreamRequestHandler):
    server: Sip2Responder

    def handle(self) -> None:
        buffer = b""
        while True:  # frames end in CR (no LF), so read what comes and cut at each CR
            chunk = self.request.recv(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\r" in buffer:
                frame, buffer = buffer.split(b"\r", 1)
                if frame.strip(b"\n "):
                    self.answer(frame.strip(b"\n") + b"\r")

    def answer(self, frame: bytes) -> None:
        self.server.requests.append(frame)
        if self.server.mode == "hang":
            time.sleep(30)
            return
        if self.server.mode == "garbage":
            self.wfile.write(b"\x00\xff<html>502 Bad Gateway</html>\r")
            return
        request = decode_message(frame).message
        if isinstance(request, LoginRequest):
            self.wfile.write(b"941\r")
        elif isinstance(request, PatronInformationRequest | PatronStatusRequest):
            pin, right, wrong = PATRONS.get(request.patron_identifier, (None, "polaris_no_such_patron", ""))
            name = right if pin is not None and request.patron_password == pin else (wrong or right)
            self.wfile.write(rechecksum(FRAMES[name]))


class Sip2Responder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str = "ils") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.requests: list[bytes] = []
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, name=f"sip2-{mode}", daemon=True)

    def __enter__(self) -> Sip2Responder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
