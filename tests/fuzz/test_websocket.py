"""Fuzzed WebSocket sessions over ASGI and RSGI: no 1011, no protocol violation."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from carboy.types import ASGIApp
from tests.fuzz.asgi import call_websocket, websocket_scope
from tests.fuzz.strategies import WS_FRAMES, header_lists, query_strings


@given(
    raw_path=st.sampled_from([b"/ws/echo", b"/ws/json", b"/ws/nope", b"/", b"/int/1"]),
    query=query_strings(),
    headers=header_lists(),
    frames=WS_FRAMES,
)
def test_any_websocket_session(
    app: ASGIApp,
    runner: asyncio.Runner,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    frames: list[dict[str, Any]],
) -> None:
    result = runner.run(call_websocket(app, websocket_scope(raw_path, query, headers), frames))
    if raw_path == b"/ws/echo" and result.accepted:
        # The echo socket answers every frame it read before the client left.
        assert len(result.sent) == len(frames)
