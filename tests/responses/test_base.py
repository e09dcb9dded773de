"""Tests for carboy.responses._base: Response, its simple kinds, cookies and redirects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from carboy.responses import (
    DEFAULT_HEADERS_KEY,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    status_phrase,
    with_default_headers,
)
from carboy.responses._base import STARTED_KEY
from carboy.types import Message, Scope


async def send_response(
    response: Response, scope: dict[str, Any] | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes, Scope]:
    sent: list[Message] = []
    full: Scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "headers": [],
        **(scope or {}),
    }

    async def receive() -> Message:  # pragma: no cover - responses never read
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await response(full, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return sent[0]["status"], sent[0]["headers"], sent[1]["body"], full


def set_cookies(headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [v.decode() for k, v in headers if k == b"set-cookie"]


@pytest.mark.anyio
async def test_plain_response() -> None:
    status, headers, body, scope = await send_response(
        Response("héllo", 201, {"X-A": "1"}, media_type="text/plain")
    )
    assert status == 201
    assert headers == [
        (b"x-a", b"1"),
        (b"content-length", b"6"),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    assert body == "héllo".encode()
    assert scope[STARTED_KEY] is True


@pytest.mark.anyio
async def test_bodies_of_each_type() -> None:
    assert Response(None).body == b""
    assert Response(b"x").body == b"x"
    assert Response(bytearray(b"y")).body == b"y"
    assert Response(memoryview(b"z")).body == b"z"
    assert Response(12).body == b"12"  # type: ignore[arg-type]
    assert Response("x").raw_headers == [(b"content-length", b"1")]


@pytest.mark.parametrize("status", [101, 204, 304])
def test_no_content_length_without_a_body(status: int) -> None:
    assert Response(None, status).raw_headers == []


def test_explicit_headers_win() -> None:
    response = Response(
        "abc", headers={"Content-Length": "3", "Content-Type": "x/y"}, media_type="text/plain"
    )
    assert response.raw_headers == [(b"content-length", b"3"), (b"content-type", b"x/y")]


def test_media_types_of_the_kinds() -> None:
    assert HTMLResponse("<p>").headers["content-type"] == "text/html; charset=utf-8"
    assert PlainTextResponse("x").headers["content-type"] == "text/plain; charset=utf-8"
    js = JSONResponse({"é": [1, None]}, status_code=202)
    assert js.headers["content-type"] == "application/json"
    assert js.body == '{"é":[1,null]}'.encode()
    assert js.status_code == 202
    assert Response("x", media_type="text/plain; charset=latin-1").headers["content-type"] == (
        "text/plain; charset=latin-1"
    )
    assert repr(js) == "<JSONResponse 202>"


def test_headers_property_writes_through() -> None:
    response = Response("x")
    response.headers["X-Thing"] = "1"
    assert (b"x-thing", b"1") in response.raw_headers


@pytest.mark.anyio
async def test_head_sends_no_body_but_keeps_the_length() -> None:
    _, headers, body, _ = await send_response(Response("abc"), {"method": "HEAD"})
    assert body == b""
    assert (b"content-length", b"3") in headers


@pytest.mark.anyio
async def test_default_headers_are_appended_unless_set() -> None:
    defaults = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff")]
    _, headers, _, _ = await send_response(
        Response("x", headers={"X-Frame-Options": "SAMEORIGIN"}),
        {DEFAULT_HEADERS_KEY: defaults},
    )
    assert headers == [
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"content-length", b"1"),
        (b"x-content-type-options", b"nosniff"),
    ]
    assert with_default_headers([(b"a", b"1")], {}) == [(b"a", b"1")]


# -- cookies ----------------------------------------------------------------------
@pytest.mark.anyio
async def test_set_cookie_secure_defaults() -> None:
    response = Response("x")
    response.set_cookie("session", "a b;c")
    _, headers, _, _ = await send_response(response)
    assert set_cookies(headers) == ["session=a%20b%3Bc; Path=/; HttpOnly; SameSite=Lax"]
    _, headers, _, _ = await send_response(response, {"scheme": "https"})
    assert set_cookies(headers) == ["session=a%20b%3Bc; Path=/; HttpOnly; SameSite=Lax; Secure"]


@pytest.mark.anyio
async def test_set_cookie_options() -> None:
    response = Response("x")
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    response.set_cookie(
        "a",
        "1",
        max_age=60,
        expires=when,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=False,
        samesite="strict",
    )
    response.set_cookie("b", "2", secure=False, samesite=None)
    response.set_cookie("c", "3", samesite="none")
    response.set_cookie("d", "4", partitioned=True)
    _, headers, _, _ = await send_response(response, {"scheme": "https"})
    assert set_cookies(headers) == [
        "a=1; Max-Age=60; expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/app; "
        "Domain=example.com; SameSite=Strict; Secure",
        "b=2; Path=/; HttpOnly",
        "c=3; Path=/; HttpOnly; SameSite=None; Secure",
        "d=4; Path=/; HttpOnly; SameSite=Lax; Partitioned; Secure",
    ]
    _, headers, _, _ = await send_response(response)  # plain HTTP: forced Secure stays
    assert [c.endswith("; Secure") for c in set_cookies(headers)] == [True, False, True, True]


def test_set_cookie_refuses_a_bad_samesite() -> None:
    with pytest.raises(ValueError, match="samesite must be"):
        Response().set_cookie("a", samesite="sideways")  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["a b", "a;b", "a=b", "a\r\nSet-Cookie: x=1", "", "é"])
def test_set_cookie_refuses_a_bad_name(key: str) -> None:
    with pytest.raises(ValueError, match="not a valid cookie name"):
        Response().set_cookie(key, "v")


@pytest.mark.parametrize(("option", "value"), [("path", "/a;b"), ("domain", "x.com\r\nX: y")])
def test_set_cookie_refuses_injection_in_attributes(option: str, value: str) -> None:
    with pytest.raises(ValueError, match="cannot contain"):
        Response().set_cookie("a", "v", **{option: value})


@pytest.mark.anyio
async def test_delete_cookie() -> None:
    response = Response()
    response.delete_cookie("session", path="/app")
    _, headers, _, _ = await send_response(response, {"scheme": "https"})
    (cookie,) = set_cookies(headers)
    assert cookie.startswith("session=; Max-Age=0; expires=")
    assert cookie.endswith(" GMT; Path=/app; HttpOnly; SameSite=Lax; Secure")


@pytest.mark.anyio
async def test_expires_as_seconds_from_now() -> None:
    response = Response()
    response.set_cookie("a", "1", expires=3600)
    _, headers, _, _ = await send_response(response)
    (cookie,) = set_cookies(headers)
    stamp = cookie.split("expires=")[1].split(";")[0]
    when = datetime.strptime(stamp, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert 3590 < (when - datetime.now(UTC)).total_seconds() <= 3600


# -- redirects --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/login", "/login"),
        ("/a b?next=/x y&q=ü#frag", "/a%20b?next=/x%20y&q=%C3%BC#frag"),
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("/already%20encoded", "/already%20encoded"),
        ("/x\r\nSet-Cookie: a=1", "/x%0D%0ASet-Cookie:%20a=1"),
    ],
)
def test_redirect_location_is_quoted(url: str, location: str) -> None:
    response = RedirectResponse(url)
    assert response.status_code == 302
    assert response.headers["location"] == location
    assert response.body == b""


def test_redirect_status() -> None:
    assert RedirectResponse("/", status_code=303).status_code == 303
    assert RedirectResponse("/", 308, headers={"X-A": "1"}).headers["x-a"] == "1"


def test_status_phrase() -> None:
    assert status_phrase(404) == "Not Found"
    assert status_phrase(418) == "I'm a Teapot"
    assert status_phrase(599) == ""
