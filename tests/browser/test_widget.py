"""The embeddable widget in real Chromium on pages served from other origins: results in the
page's language inside a Shadow DOM the host's CSS cannot reach, links back to full records,
a page on an origin the key was not issued for gets no results, and the iframe version."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from catalog.context import Services
from portals.apikeys import create_key
from tests.portals.conftest import load_catalogue
from unicat.localsvc.process import free_port

pytestmark = pytest.mark.browser

HOST_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Portal</title>
<style>li {{ color: rgb(255, 0, 0) !important; }} input {{ display: none !important; }}</style></head>
<body><h1>University portal</h1>
<script src="{catalogue}/widget.js" data-key="{key}" async></script>
<iframe id="frame" src="{catalogue}/widget/frame?api_key={key}&lang={frame_lang}&q=pride" width="600" height="400">
</iframe></body></html>"""


@pytest.fixture
def host_pages() -> Iterator[Callable[..., str]]:
    servers: list[ThreadingHTTPServer] = []

    def factory(html: str, port: int | None = None) -> str:
        body = html.encode("utf-8")

        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield factory
    for server in servers:
        server.shutdown()


def _widget_search(page: Any, query: str) -> None:
    page.wait_for_function("(document.querySelector('.unicat-widget') || {}).unicat")
    page.evaluate("q => document.querySelector('.unicat-widget').unicat.search(q)", query)
    page.wait_for_function(
        "() => { const s = document.querySelector('.unicat-widget').shadowRoot.querySelector('.status');"
        " return s && s.textContent && s.textContent !== '…'; }"
    )


def test_widget_on_another_origin(services: Services, live_server: Any, new_page: Any, host_pages: Any, shot: Any):
    load_catalogue(services)
    catalogue = live_server(services)
    port = free_port()  # the allowed portal's origin is known before its server starts
    allowed_origin = f"http://127.0.0.1:{port}"
    key, _ = create_key(services, "portal", [allowed_origin], "100/minute")
    page_html = HOST_PAGE.format(lang="zh-CN", catalogue=catalogue, key=key, frame_lang="zh_Hans")
    portal = host_pages(page_html, port)
    assert portal == allowed_origin

    page = new_page(locale="zh-CN")
    page.goto(f"{portal}/")
    _widget_search(page, "文藝理論")
    shadow = page.locator(".unicat-widget")
    assert shadow.locator(".status").inner_text() == "共 1 条"
    link = shadow.locator("ol li a").first
    assert link.inner_text() == "当代中国文艺理论史"
    href = link.get_attribute("href")
    assert href.startswith(f"{catalogue}/records/u")
    assert "馆收藏" in shadow.locator("ol li .meta").first.inner_text()
    colour = shadow.locator("ol li").first.evaluate("el => getComputedStyle(el).color")
    assert colour != "rgb(255, 0, 0)"  # the host's CSS does not leak into the widget
    assert shadow.locator("input").is_visible()
    frame = page.frame_locator("#frame")
    assert "Pride and prejudice" in frame.locator("ol").inner_text()
    assert "结果" in frame.locator("body").inner_text()
    shot(page, "widget-portal-zh")
    assert not page.js_errors

    record = new_page(locale="zh-CN")
    record.goto(href)
    assert record.locator("h1").inner_text().startswith("当代中国文艺理论史")

    refused_html = HOST_PAGE.format(lang="en", catalogue=catalogue, key=key, frame_lang="en")
    refused = host_pages(refused_html)  # another port: another origin, not the key's
    other = new_page(locale="en-US")
    messages: list[str] = []
    other.on("console", lambda m: messages.append(m.text))
    other.goto(f"{refused}/")
    _widget_search(other, "pride")
    status = other.locator(".unicat-widget").locator(".status")
    assert status.inner_text().startswith("Search is unavailable")
    assert other.locator(".unicat-widget ol li").count() == 0
    assert any("CORS" in m or "Access-Control-Allow-Origin" in m for m in messages), messages
    # the frame refuses to be embedded by a page on an origin the key was not issued for
    other.wait_for_load_state("load")
    frames = other.frames[1:]
    assert frames and not any("Pride and prejudice" in f.content() for f in frames)

