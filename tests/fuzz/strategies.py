"""Hypothesis strategies for what a hostile client can put in a request."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from tests.fuzz.app import HOST

#: Text a client can put anywhere, including what parsers trip on.
NASTY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "nan",
        "9223372036854775808",
        "-9223372036854775809",
        "2147483648",
        "1" * 400,
        "null",
        "true",
        "[]",
        "{}",
        "%",
        "%zz",
        "%00",
        "\x00",
        "..",
        "../..",
        "/",
        "//",
        "\\",
        "é",
        "\ud7ff",
        "😀",
        "<script>",
        "'\"",
        "a=b&c",
        "\r\n",
        "12345678-1234-5678-1234-567812345678",
        "x" * 5000,
    ]
)
TEXT = st.one_of(NASTY, st.text(max_size=40))
HEADER_VALUE = st.one_of(
    NASTY.map(lambda s: s.replace("\r", "").replace("\n", "")),
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=60,
    ),
).map(lambda s: s.encode("latin-1", "replace"))

PATH_TEMPLATES = [
    "/",
    "/int/{}",
    "/str/{}",
    "/uuid/{}",
    "/files/{}",
    "/files/{}/{}",
    "/query",
    "/headers",
    "/items",
    "/points/{}",
    "/embed",
    "/form",
    "/upload",
    "/raw",
    "/nope/{}",
    "/ws/echo",
]
METHODS = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    st.from_regex(r"\A[A-Z]{1,10}\Z"),
)


def _segment(value: str) -> str:
    return quote(value, safe="") if value else value


@st.composite
def raw_paths(draw: st.DrawFn) -> bytes:
    """A raw request path: a route's shape with fuzzed segments, or anything printable."""
    if draw(st.integers(0, 9)) == 0:
        junk = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60))
        return ("/" + junk).encode("ascii")
    template = draw(st.sampled_from(PATH_TEMPLATES))
    values = [
        draw(st.one_of(TEXT, st.integers().map(str), st.uuids().map(str)))
        for _ in range(template.count("{}"))
    ]
    return template.format(*(_segment(v) for v in values)).encode("ascii")


PAIRS = st.lists(
    st.tuples(
        st.sampled_from(["q", "n", "f", "flag", "ids", "short", "page", "size", "room"]) | TEXT,
        TEXT,
    ),
    max_size=8,
)


@st.composite
def query_strings(draw: st.DrawFn) -> bytes:
    """A query string: encoded pairs, or raw bytes a parser must survive."""
    if draw(st.booleans()):
        return urlencode(draw(PAIRS)).encode("ascii")
    return draw(st.binary(max_size=80)).replace(b" ", b"+")


@st.composite
def header_lists(draw: st.DrawFn, content_type: bytes | None = None) -> list[tuple[bytes, bytes]]:
    """Headers as a server passes them on: lower-case names, no CR/LF in values."""
    headers = [
        (
            b"host",
            draw(
                st.sampled_from(
                    [HOST.encode(), HOST.encode(), b"evil.example", b"testserver:99999", b""]
                )
            ),
        )
    ]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    names = st.one_of(
        st.sampled_from(
            [
                b"user-agent",
                b"x-count",
                b"x-token",
                b"cookie",
                b"accept",
                b"accept-encoding",
                b"origin",
                b"hx-request",
                b"x-forwarded-for",
                b"x-forwarded-proto",
                b"range",
                b"if-none-match",
                b"content-type",
                b"authorization",
            ]
        ),
        st.from_regex(rb"\A[a-z0-9-]{1,20}\Z"),
    )
    headers += draw(st.lists(st.tuples(names, HEADER_VALUE), max_size=6))
    return headers


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def _json_value(draw: st.DrawFn) -> Any:
    # Each field is valid half of the time, so some bodies get through to the handler.
    fields = {
        "name": st.text(min_size=1, max_size=50),
        "price": st.floats(min_value=0, max_value=1e9),
        "tags": st.lists(st.text(max_size=10), max_size=5),
        "x": st.integers(-(2**63), 2**63 - 1),
        "y": st.integers(-(2**63), 2**63 - 1),
        "label": st.none() | st.text(max_size=20),
        "a": st.integers(),
        "b": st.text(max_size=20),
    }
    shaped = st.fixed_dictionaries(
        {}, optional={name: valid | JSON for name, valid in fields.items()}
    )
    return draw(st.one_of(shaped, shaped, JSON))


@st.composite
def multipart(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A multipart body (sometimes broken) and its content type."""
    # Boundaries up to 300 characters: 256+ was a 500 (issue 13 item 1, fixed).
    boundary = draw(st.from_regex(r"\A[A-Za-z0-9'()+_,./:=?-]{1,70}\Z") | st.just("b" * 300))
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(["name", "age", "tags", "doc", "doc", "note"]) | TEXT)
        disposition = f'form-data; name="{name}"'
        if draw(st.booleans()):
            disposition += f'; filename="{draw(TEXT)}"'
        content = draw(st.binary(max_size=60) | TEXT.map(str.encode) | st.just(b"7"))
        parts.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + (f"--{boundary}--\r\n".encode() if draw(st.booleans()) else b"")
    if draw(st.integers(0, 5)) == 0:
        body = body[: draw(st.integers(0, len(body)))]
    declared = draw(st.sampled_from([boundary, boundary, "", boundary + "x"]))
    return body, f"multipart/form-data; boundary={declared}".encode()


@st.composite
def valid_bodies(draw: st.DrawFn, kind: str | None = None) -> tuple[bytes, bytes | None]:
    """A body the route of ``kind`` accepts (the fuzz must reach the handlers too)."""
    kind = kind or draw(st.sampled_from(["item", "point", "embed", "form", "upload"]))
    words = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
    if kind == "item":
        value: Any = {
            "name": draw(words),
            "price": draw(st.floats(0, 1e6)),
            "tags": draw(st.lists(words, max_size=5)),
        }
    elif kind == "point":
        value = {
            "x": draw(st.integers(-(2**63), 2**63 - 1)),
            "y": draw(st.integers(-5, 5)),
            "label": draw(st.none() | words),
        }
    elif kind == "embed":
        value = {"a": draw(st.integers()), "b": draw(words)}
    elif kind == "form":
        pairs = [("name", draw(words)), ("age", str(draw(st.integers(-1000, 1000))))]
        pairs += [("tags", t) for t in draw(st.lists(words, max_size=3))]
        return urlencode(pairs).encode(), b"application/x-www-form-urlencoded"
    else:
        boundary = draw(st.from_regex(r"\A[A-Za-z0-9]{1,40}\Z"))
        filename = draw(words).replace('"', "").replace("\r", "").replace("\n", "")
        body = (
            (
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="doc"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + draw(st.binary(max_size=200))
            + (
                f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
                f"{draw(words)}\r\n--{boundary}--\r\n"
            ).encode()
        )
        return body, f"multipart/form-data; boundary={boundary}".encode()
    return json.dumps(value).encode(), b"application/json"


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """A request body and the content type sent with it (or none)."""
    kind = draw(
        st.sampled_from(["none", "json", "json", "broken-json", "form", "multipart", "bytes"])
    )
    if kind == "none":
        return b"", None
    if kind == "json":
        body = json.dumps(_json_value(draw)).encode()
        return body, draw(
            st.sampled_from(
                [b"application/json", b"application/json; charset=utf-8", b"text/plain"]
            )
        )
    if kind == "broken-json":
        body = json.dumps(_json_value(draw)).encode()
        cut = draw(st.integers(0, max(len(body) - 1, 0)))
        return body[:cut] + draw(st.binary(max_size=5)), b"application/json"
    if kind == "form":
        return urlencode(
            draw(
                PAIRS
                | st.lists(st.tuples(st.sampled_from(["name", "age", "tags"]), TEXT), max_size=5)
            )
        ).encode(), draw(
            st.sampled_from(
                [
                    b"application/x-www-form-urlencoded",
                    b"application/x-www-form-urlencoded; charset=latin-1",
                ]
            )
        )
    if kind == "multipart":
        return draw(multipart())
    return draw(st.binary(max_size=200)), draw(
        st.none()
        | st.sampled_from(
            [b"application/octet-stream", b"application/json", b"multipart/form-data"]
        )
    )


def chunked(draw: st.DrawFn, body: bytes) -> list[bytes]:
    """``body`` split into the ``http.request`` messages a server might deliver."""
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=3)))
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(body[start:cut])
        start = cut
    pieces.append(body[start:])
    return pieces


WS_FRAMES = st.lists(
    st.one_of(
        JSON.map(lambda v: {"type": "websocket.receive", "text": json.dumps(v)}),
        TEXT.map(lambda t: {"type": "websocket.receive", "text": t}),
        st.binary(max_size=60).map(lambda b: {"type": "websocket.receive", "bytes": b}),
        st.integers(1, 3000).map(
            lambda n: {"type": "websocket.receive", "text": "[" * n + "]" * n}
        ),
    ),
    max_size=5,
)
