"""Tests for carboy.datastructures: headers, query strings, URLs, state, uploads, forms."""

from __future__ import annotations

import pytest

from carboy.datastructures import (
    URL,
    Address,
    FormData,
    Headers,
    MultiDict,
    MutableHeaders,
    QueryParams,
    State,
    UploadFile,
)


def test_multidict() -> None:
    md = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert md["a"] == "3"
    assert md.get("a") == "3"
    assert md.get("z", "d") == "d"
    assert md.getlist("a") == ["1", "3"]
    assert md.getlist("z") == []
    assert list(md) == ["a", "b"]
    assert len(md) == 2
    assert md.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert md == MultiDict([("a", "3"), ("a", "1"), ("b", "2")])
    assert md != MultiDict([("a", "1")])
    assert MultiDict({"x": 1})["x"] == 1
    assert repr(MultiDict([("a", 1)])) == "MultiDict([('a', 1)])"
    with pytest.raises(TypeError):
        hash(md)


def test_query_params() -> None:
    q = QueryParams(b"a=1&a=2&b=%20x&c=&d")
    assert q.getlist("a") == ["1", "2"]
    assert q["b"] == " x"
    assert q["c"] == "" and q["d"] == ""
    assert str(q) == "a=1&a=2&b=+x&c=&d="
    assert QueryParams("x=%ZZ")["x"] == "%ZZ"
    assert QueryParams("x=%FF")["x"] == "\ufffd"
    assert QueryParams([("k", "v")])["k"] == "v"
    assert QueryParams({"k": "v"})["k"] == "v"
    assert QueryParams("a+b=c+d")["a b"] == "c d"


def test_headers_case_insensitive_and_multi() -> None:
    h = Headers(
        raw=[(b"content-type", b"text/html"), (b"set-cookie", b"a=1"), (b"Set-Cookie", b"b=2")]
    )
    assert h["Content-Type"] == "text/html"
    assert h.get("CONTENT-TYPE") == "text/html"
    assert h.get("missing") is None
    assert "content-TYPE" in h
    assert 3 not in h
    assert h["set-cookie"] == "a=1"  # the first wins for []
    assert h.getlist("SET-COOKIE") == ["a=1", "b=2"]
    assert sorted(h) == ["content-type", "set-cookie"]
    assert len(h) == 2
    with pytest.raises(KeyError):
        h["x"]
    assert Headers({"X-A": "1"}).raw == [(b"x-a", b"1")]
    assert Headers(scope={"headers": [(b"a", b"b")]})["a"] == "b"
    assert Headers().raw == []
    assert Headers(raw=[(b"x-b", b"\xe9")])["x-b"] == "é"
    assert repr(Headers({"a": "b"})) == "Headers([(b'a', b'b')])"


def test_mutable_headers_write_through() -> None:
    raw: list[tuple[bytes, bytes]] = [(b"x-a", b"1")]
    h = MutableHeaders(raw=raw)
    h["X-A"] = "2"
    h.append("Vary", "Accept")
    h.append("vary", "Cookie")
    assert raw == [(b"x-a", b"2"), (b"vary", b"Accept"), (b"vary", b"Cookie")]
    assert h.getlist("vary") == ["Accept", "Cookie"]
    assert h.setdefault("x-a", "9") == "2"
    assert h.setdefault("x-new", "n") == "n"
    h.update({"x-a": "3", "x-b": "4"})
    assert h["x-a"] == "3" and h["x-b"] == "4"
    del h["vary"]
    assert "vary" not in h
    assert (b"vary", b"Accept") not in raw


def test_url_parts_and_replace() -> None:
    url = URL("https://example.com:8443/a/b?x=1&y=2#top")
    assert (url.scheme, url.netloc, url.path, url.query, url.fragment) == (
        "https",
        "example.com:8443",
        "/a/b",
        "x=1&y=2",
        "top",
    )
    assert (url.hostname, url.port, url.is_secure) == ("example.com", 8443, True)
    assert str(url.replace(path="/c", fragment="")) == "https://example.com:8443/c?x=1&y=2"
    assert str(url.include_query_params(y=3, z="a b")) == (
        "https://example.com:8443/a/b?x=1&y=3&z=a+b#top"
    )
    assert url == "https://example.com:8443/a/b?x=1&y=2#top"
    assert hash(url) == hash(URL(str(url)))
    assert repr(URL("/x")) == "URL('/x')"
    assert not URL("http://a/").is_secure


def test_url_from_scope() -> None:
    scope = {
        "type": "http",
        "scheme": "http",
        "path": "/a b",
        "root_path": "",
        "query_string": b"q=1",
        "headers": [(b"host", b"example.com")],
        "server": ("example.com", 80),
    }
    assert str(URL(scope=scope)) == "http://example.com/a%20b?q=1"
    scope["raw_path"] = b"/a%20b"
    assert str(URL(scope=scope)) == "http://example.com/a%20b?q=1"
    scope["headers"] = []
    scope["server"] = ("10.0.0.1", 8000)
    assert str(URL(scope=scope)) == "http://10.0.0.1:8000/a%20b?q=1"
    scope["server"] = None
    assert str(URL(scope=scope)) == "http://localhost/a%20b?q=1"
    scope["headers"] = [(b"host", b"[evil")]
    assert str(URL(scope=scope)) == "http://localhost/a%20b?q=1"
    scope["headers"] = [(b"host", b"[::1]:8000")]
    assert URL(scope=scope).port == 8000


def test_state() -> None:
    state = State({"a": 1})
    state.b = 2
    assert (state.a, state.b) == (1, 2)
    assert "a" in state and "z" not in state
    del state.a
    assert "a" not in state
    with pytest.raises(AttributeError, match="State has no attribute 'a'"):
        state.a  # noqa: B018


def test_address() -> None:
    assert Address("1.2.3.4", 80).host == "1.2.3.4"


@pytest.mark.anyio
async def test_upload_file_spools_past_max_memory() -> None:
    upload = UploadFile("a.bin", content_type="image/png", max_memory=4)
    upload.write_sync(b"abc")
    assert upload.in_memory and upload.size == 3
    upload.write_sync(b"de")
    assert not upload.in_memory and upload.size == 5
    await upload.seek(0)
    assert await upload.read(2) == b"ab"
    assert await upload.read() == b"cde"
    assert repr(upload) == "UploadFile(filename='a.bin', size=5)"
    assert upload.content_type == "image/png"
    await upload.close()
    assert upload.file.closed


@pytest.mark.anyio
async def test_form_data_closes_its_files() -> None:
    upload = UploadFile("a")
    form = FormData([("name", "x"), ("file", upload)])
    assert form["name"] == "x"
    await form.close()
    assert upload.file.closed
