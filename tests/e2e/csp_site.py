"""The app the CSP and CSRF browser tests serve: ``uvicorn tests.e2e.csp_site:app``.

A strict policy with a per-request nonce, the auth sign-in page, a page with
one inline script that carries the nonce and one that does not, and a form
whose writes are counted.
"""

from __future__ import annotations

import asyncio
import html
from typing import Annotated

from carboy import Carboy, Form, Request
from carboy.auth import Auth, MemoryStore, MemoryUserStore, PagesConfig, SessionConfig, csrf_input
from carboy.middleware import SecurityHeaders
from carboy.responses import HTMLResponse

POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PASSWORD = "plum-tree-in-may-7"

users = MemoryUserStore()
app = Carboy(name="csp-site", security=SecurityHeaders(content_security_policy=POLICY))
app.install(
    Auth(
        users=users,
        sessions=SessionConfig(store=MemoryStore()),
        pages=PagesConfig(password_reset=False),
    )
)
notes: list[str] = []


@app.on_startup
async def add_user() -> None:
    await users.create(password=PASSWORD, username="ann", email="ann@example.com")


@app.get("/")
async def home() -> str:
    return "<p>home</p>"


@app.get("/inline")
async def inline(request: Request) -> str:
    nonce = request.csp_nonce
    return (
        "<!doctype html><html><head><title>inline</title>"
        f'<style nonce="{nonce}">#styled {{ color: rgb(1, 2, 3); }}</style>'
        "<style>#unstyled { color: rgb(9, 9, 9); }</style></head><body>"
        '<p id="styled">styled</p><p id="unstyled">unstyled</p>'
        f'<script nonce="{nonce}">document.body.dataset.withNonce = "ran";</script>'
        '<script>document.body.dataset.withoutNonce = "ran";</script>'
        "</body></html>"
    )


#: A page on carboy's htmx include: a button that swaps in a fragment, under the strict policy.
HTMX_PAGE = (
    "<!doctype html><html><head><title>htmx</title>"
    '{% include "carboy/htmx.html" %}</head><body>'
    '<button id="load" hx-get="/fragment" hx-target="#out">Load</button>'
    '<span class="htmx-indicator" id="spinner">loading</span><div id="out"></div>'
    "</body></html>"
)


@app.get("/htmx")
async def htmx_page(request: Request) -> HTMLResponse:
    template = app.templates.env.from_string(HTMX_PAGE)
    return HTMLResponse(template.render(request=request))


@app.get("/fragment")
async def fragment() -> str:
    return '<p id="swapped">swapped in</p>'


@app.get("/form")
async def form(request: Request) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><body>"
        f'<form method="post" action="/notes">{csrf_input(request)}'
        '<input name="note" value="mine"><button id="send">Send</button></form>'
        f"<p>{len(notes)} notes</p></body></html>"
    )


@app.post("/notes")
async def add_note(note: Annotated[str, Form(max_length=100)] = "") -> str:
    notes.append(note)
    await asyncio.sleep(0)
    return f'<p id="saved">saved {html.escape(note)}</p>'


@app.get("/notes/count")
async def count() -> dict[str, int]:
    return {"count": len(notes)}
