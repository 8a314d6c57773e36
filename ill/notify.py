"""E-mail: transitions write :class:`Notification` rows in their own transaction; the worker sends them.

Writing first and sending later means a lost SMTP connection never loses or half-applies a transition,
and a notification is never sent for a transition that was rolled back.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from ill.models import IllAccount, IllPolicy, IllRequest, Notification
from unicat.settings import Settings

#: new state -> (who is told, subject). "patron", "borrowing" (desk), "lender" (the new lender's desk).
_EVENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "sent": (("lender",), "New interlibrary loan request / 新的馆际互借请求"),
    "conditional": (("patron", "borrowing"), "The lender asks you to accept a condition / 出借馆提出条件"),
    "shipped": (("patron",), "Your interlibrary loan is on its way / 您的馆际互借图书已寄出"),
    "copy_delivered": (("patron",), "Your copy is ready / 您申请的文献传递已送达"),
    "unfilled": (("patron", "borrowing"), "No library could supply your request / 您的请求无法满足"),
    "overdue": (("patron",), "Your interlibrary loan is overdue / 您的馆际互借图书已逾期"),
    "recalled": (("patron",), "Your interlibrary loan is recalled / 出借馆召回图书"),
    "cancelled": (("lender_before",), "Request cancelled / 请求已取消"),
}


def on_transition(session: Session, req: IllRequest, action: str, before: str, lender_before: str | None) -> None:
    event = _EVENTS.get(req.state)
    if event is None or (req.state == before and action not in ("unfilled", "timeout", "reject_condition")):
        return
    who, subject = event
    body = (f"Request #{req.id}: {req.title}\nService: {req.service}\nState: {before} -> {req.state}\n"
            f"Lender: {req.lender_code or '-'}\n")
    if req.state == "conditional" and req.offered_cost_amount is not None:
        body += f"Offered cost / 出借馆报价: {req.offered_cost_currency} {req.offered_cost_amount:.2f}\n"
    if req.due_date and req.state in ("shipped", "received", "overdue", "recalled"):
        body += f"Due / 应还日期: {req.due_date.isoformat()}\n"
    for target in who:
        addr = _address(session, req, target, lender_before)
        if addr:
            session.add(Notification(request_id=req.id, to_addr=addr,
                                     subject=f"[unicat ILL #{req.id}] {subject}", body=body))


def _address(session: Session, req: IllRequest, target: str, lender_before: str | None) -> str | None:
    if target == "patron":
        patron = session.get(IllAccount, req.patron_id) if req.patron_id else None
        return patron.email if patron else None
    member = {"borrowing": req.borrower_code, "lender": req.lender_code, "lender_before": lender_before}[target]
    if not member:
        return None
    policy = session.get(IllPolicy, member)
    return policy.email if policy else None


def pending(session: Session, limit: int = 100) -> list[Notification]:
    return list(session.scalars(select(Notification).where(
        Notification.sent_at.is_(None), Notification.attempts < 5).order_by(Notification.id).limit(limit)))


def send(settings: Settings, notes: list[Notification]) -> None:
    """Send over one SMTP connection; each note records its own success or error."""
    if not notes:
        return
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        for note in notes:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = settings.smtp_from, note.to_addr, note.subject
            msg.set_content(note.body)
            note.attempts += 1
            try:
                smtp.send_message(msg)
                note.sent_at, note.error = datetime.now(UTC), None
            except smtplib.SMTPException as exc:
                note.error = str(exc)[:500]
