"""Real-browser fixtures: the real app served by uvicorn on a free port, Debian's Chromium via Playwright.

- ``services``: a store + real Elasticsearch with the core tests' member libraries (session cookies
  allowed over plain HTTP, as the live server is ``http://127.0.0.1``).
- ``live_server``: factory ``live_server(services)`` -> base URL of ``create_app(settings, services=...)``
  running in a background thread; stopped after the test.
- ``browser``: one headless Chromium for the session (never downloaded: ``/usr/bin/chromium``, installed by
  ``scripts/setup.sh``); ``new_page(locale="en-US")`` opens a fresh context (own cookies) per user.
- ``shot(page, name)``: keeps a full-page screenshot in ``test-artifacts/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from catalog.context import Services
from tests.admin import conftest as admin_conftest
from unicat.app import create_app
from unicat.localsvc.process import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


#: The console's store: the core members, session cookies allowed over the live server's plain HTTP.
services = admin_conftest.services


def refresh(services: Services) -> None:
    services.es.indices.refresh(index=services.settings.records_alias)


class LiveServer:
    def __init__(self, services: Services) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(services.settings, services=services)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the live server stopped while starting")
            try:
                if httpx.get(f"{self.url}/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the live server at {self.url} did not answer within 20 s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server() -> Iterator[Callable[[Services], str]]:
    started: list[LiveServer] = []

    def factory(services: Services) -> str:
        server = LiveServer(services)
        started.append(server)
        server.start()
        return server.url

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium "
            "(scripts/setup.sh installs it: apt-get install chromium)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(locale="en-US")``: a page in a fresh browser context (its own cookies: one user)."""
    contexts: list[Any] = []

    def factory(locale: str = "en-US") -> Any:
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def shot() -> Callable[[Any, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, f"empty screenshot {path}"
        return path

    return take
