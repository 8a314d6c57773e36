"""Retry and backoff shared by every harvester that talks HTTP (OAI-PMH through sickle, files through httpx).

A fault is *transient* when waiting may cure it: a timeout, a refused or reset connection, HTTP 429
/ 5xx, or a body that is not what the protocol promises (a proxy's HTML error page). Transient
faults are retried up to ``retries`` times: after a 503/429 with ``Retry-After`` we wait what the
server asked (capped at ``max_retry_after``), otherwise ``backoff * 2**attempt`` seconds (capped at
``max_backoff``). Anything else (404, 401, ...) fails at once. The final :class:`HarvestError` names
the URL and the last error, so the harvest report says what went wrong without a traceback.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx
import requests
import urllib3

from harvesters.base import HarvestError

T = TypeVar("T")

#: HTTP statuses worth another try.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class TransientError(Exception):
    """A fault that may go away if we wait; ``retry_after`` is what the server asked for, if anything."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    timeout: float = 30.0
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        return min(self.backoff * 2.0**attempt, self.max_backoff)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def check_status(url: str, status: int, headers: Mapping[str, str]) -> None:
    """Raise :class:`TransientError` for a retryable status, :class:`HarvestError` for other errors."""
    if status < 400:
        return
    if status in RETRY_STATUSES:
        raise TransientError(f"HTTP {status}", parse_retry_after(headers.get("Retry-After")))
    raise HarvestError(f"{url} answered HTTP {status}")


def as_transient(exc: BaseException) -> TransientError | None:
    """Map a transport exception of httpx or requests (used by sickle) to a transient fault."""
    if isinstance(exc, TransientError):
        return exc
    if isinstance(exc, httpx.TimeoutException | requests.Timeout):
        return TransientError(f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError | requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return TransientError(f"connection failed ({type(exc).__name__}: {exc})")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status, retry_after = exc.response.status_code, exc.response.headers.get("Retry-After")
        if status in RETRY_STATUSES:
            return TransientError(f"HTTP {status}", parse_retry_after(retry_after))
    return None


def read_within(response: requests.Response, timeout: float) -> bytes:
    """The whole body of a streamed ``requests`` response, or :class:`TransientError` when it takes
    longer than ``timeout`` seconds in all. A socket timeout alone bounds only the wait for each
    next byte: a server sending one byte a second would hold a harvest for hours."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = response.raw.read1(1 << 16, decode_content=True)
            except urllib3.exceptions.HTTPError as exc:
                raise TransientError(f"connection failed while reading ({type(exc).__name__}: {exc})") from exc
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            if time.monotonic() > deadline:
                got = sum(map(len, chunks))
                raise TransientError(f"response not complete within {timeout:g} s ({got:,} bytes received)")
    finally:
        response.close()


def with_retries(
    url: str,
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    notes: list[str] | None = None,
) -> T:
    """Call ``attempt`` until it succeeds, retrying transient faults as the module docstring says.

    ``notes`` (if given) receives one line per retry for the harvest report.
    """
    last = "no attempt made"
    for number in range(policy.retries + 1):
        try:
            return attempt()
        except HarvestError:
            raise
        except Exception as exc:
            transient = as_transient(exc)
            if transient is None:
                if isinstance(exc, requests.HTTPError) and exc.response is not None:
                    raise HarvestError(f"{url} answered HTTP {exc.response.status_code}") from exc
                if isinstance(exc, httpx.HTTPError | requests.RequestException):
                    raise HarvestError(f"{url} failed: {exc}") from exc
                raise
            last = transient.reason
            if number == policy.retries:
                break
            wait = policy.delay(number, transient.retry_after)
            if notes is not None:
                notes.append(f"{url}: {last}; retry {number + 1}/{policy.retries} in {wait:g} s")
            sleep(wait)
    raise HarvestError(f"{url} failed after {policy.retries + 1} attempts; last error: {last}")
