"""Fuzzed HTTP requests over ASGI and RSGI: never a 5xx, always a well-formed response."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from carboy.types import ASGIApp
from tests.fuzz.app import HOST
from tests.fuzz.asgi import call_http, http_scope
from tests.fuzz.strategies import (
    METHODS,
    bodies,
    chunked,
    header_lists,
    query_strings,
    raw_paths,
    valid_bodies,
)


@given(
    method=METHODS,
    raw_path=raw_paths(),
    query=query_strings(),
    headers=header_lists(),
)
def test_any_request_line_and_headers(
    app: ASGIApp,
    runner: asyncio.Runner,
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
) -> None:
    runner.run(call_http(app, http_scope(method, raw_path, query, headers), []))


#: The body routes, each with the kind of body it accepts.
ROUTE_BODIES = {
    b"/items": "item",
    b"/items?page=0": "item",
    b"/points/1": "point",
    b"/embed": "embed",
    b"/form": "form",
    b"/upload": "upload",
    b"/raw": None,
}


@given(
    method=st.sampled_from(["POST", "POST", "PUT", "PATCH", "DELETE"]),
    raw_path=st.sampled_from(list(ROUTE_BODIES)),
    data=st.data(),
)
def test_any_body(
    app: ASGIApp,
    runner: asyncio.Runner,
    method: str,
    raw_path: bytes,
    data: st.DataObject,
) -> None:
    content, content_type = data.draw(st.one_of(valid_bodies(ROUTE_BODIES[raw_path]), bodies()))
    path, _, query = raw_path.partition(b"?")
    headers = [(b"host", HOST.encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if data.draw(st.integers(0, 4)):  # mostly declared, as HTTP/1.1 clients do
        headers.append((b"content-length", str(len(content)).encode()))
    chunks = chunked(data.draw, content)
    result = runner.run(call_http(app, http_scope(method, path, query, headers), chunks))
    if content_type is None and not content and raw_path in (b"/items", b"/form"):
        assert result.status in (405, 415, 422), result
