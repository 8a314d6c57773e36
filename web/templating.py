"""The Jinja2 environment (autoescaped, i18n) shared by every page router."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web.i18n import LOCALE_COOKIE, negotiate, translations
from web.labels import language_name

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
)
templates.env.filters["language_name"] = lambda code: language_name(code, _locale.get())
_locale: ContextVar[str] = ContextVar("unicat_locale", default="zh_Hans")
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=lambda s: translations(_locale.get()).gettext(s),
    ngettext=lambda s, p, n: translations(_locale.get()).ngettext(s, p, n),
    newstyle=True,
)


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters replaced (``None`` removes one)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            params.extend((key, str(v)) for v in value)
        else:
            params.append((key, str(value)))
    return f"{request.url.path}?{urlencode(params)}" if params else request.url.path


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    locale = negotiate(request)
    _locale.set(locale)
    ctx = {
        "request": request,
        "locale": locale,
        "lang": "zh" if locale.startswith("zh") else "en",
        "url_with": lambda **kw: url_with(request, **kw),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    if request.query_params.get("lang") == locale:
        response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
