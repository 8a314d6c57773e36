"""Copy delivery: a PDF upload or a link, available to the patron for a limited time.

The file is written first under a temporary name; the Delivery row and the ``copy_completed``
transition are one transaction; only then is the file renamed into place (a failed transition
removes it), so there is never a delivery without its file or a file without its request.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from catalog.context import Services
from ill.access import Actor, require_view, roles_for
from ill.errors import Conflict, Invalid, NotFound, TooLarge
from ill.models import Delivery
from ill.service import Details, apply, load_request, now_utc
from store.db import transaction
from store.models import as_utc


def upload_dir(services: Services) -> Path:
    folder = services.settings.ill_upload_dir or services.settings.var_dir / "ill-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_pdf(data: bytes, limit: int) -> None:
    if len(data) > limit:
        raise TooLarge(f"the file is larger than {limit // (1024 * 1024)} MB", field="file")
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
        raise Invalid("only PDF files can be delivered", field="file")


def check_link(url: str) -> None:
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise Invalid("give an http(s) link", field="url")


def deliver(services: Services, request_id: int, actor: Actor, *, pdf: bytes | None = None, url: str | None = None,
            expected_version: int | None = None, message: str | None = None, now: datetime | None = None) -> Delivery:
    if (pdf is None) == (not url):
        raise Invalid("upload a PDF or give a link (one of them)", field="file")
    now = now or now_utc()
    tmp: Path | None = None
    final: Path | None = None
    if pdf is not None:
        check_pdf(pdf, services.settings.ill_upload_max_bytes)
        name = f"{request_id}-{secrets.token_hex(8)}.pdf"
        final = upload_dir(services) / name
        tmp = final.with_suffix(".part")
        tmp.write_bytes(pdf)
    else:
        check_link(url or "")
    try:
        with transaction(services.db) as session:
            req = require_view(actor, load_request(session, request_id))
            apply(session, req, "copy_completed", actor, details=Details(message=message, url=url), now=now,
                  expected_version=expected_version)
            row = Delivery(request_id=req.id, kind="pdf" if pdf is not None else "link",
                           path=final.name if final else None, url=url, size=len(pdf or b""), created_at=now,
                           expires_at=now + timedelta(days=services.settings.ill_delivery_days))
            session.add(row)
            session.flush()
    except StaleDataError as exc:
        if tmp:
            tmp.unlink(missing_ok=True)
        raise Conflict("the request was changed by someone else; reload and try again") from exc
    except BaseException:
        if tmp:
            tmp.unlink(missing_ok=True)
        raise
    if tmp and final:
        tmp.rename(final)
    return row


def current(services: Services, request_id: int, actor: Actor,
            now: datetime | None = None) -> tuple[Delivery, Path | None]:
    """The patron's (or their borrowing desk's) unexpired delivery."""
    now = now or now_utc()
    with services.db() as session:
        req = require_view(actor, load_request(session, request_id))
        if actor.kind != "admin" and not roles_for(actor, req) & {"patron", "borrowing"}:
            raise NotFound("no delivery for you on this request")
        row = session.scalar(select(Delivery).where(Delivery.request_id == request_id).order_by(Delivery.id.desc()))
        if row is None or as_utc(row.expires_at) < now:
            raise NotFound("no delivery, or it has expired")
        return row, (upload_dir(services) / row.path) if row.path else None
