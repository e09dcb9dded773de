"""Tests for carboy.requests: the lazily parsed Request, its body and its limits."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest

from carboy import Carboy, Depends, Header, Query, Request, UploadFile
from carboy.connections import parse_cookies
from carboy.exceptions import HTTPException
from carboy.requests import HtmxDetails
from carboy.settings import Settings
from carboy.testing import TestClient
from carboy.types import Message, Scope


# -- a raw ASGI driver for what an HTTP client cannot send ------------------------
def make_scope(
    path: str = "/",
    *,
    method: str = "GET",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    raw_path: bytes | None = None,
    scheme: str = "http",
) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": headers if headers is not None else [(b"host", b"testserver")],
        "client": ("203.0.113.9", 5123),
        "server": ("testserver", 80),
    }


class Chunks:
    """A receive() that hands out ``count`` chunks of ``size`` bytes and counts its calls."""

    def __init__(self, size: int, count: int) -> None:
        self.size = size
        self.count = count
        self.pulled = 0

    async def __call__(self) -> Message:
        self.pulled += 1
        if self.pulled > self.count:
            return {"type": "http.disconnect"}
        return {
            "type": "http.request",
            "body": b"x" * self.size,
            "more_body": self.pulled < self.count,
        }


async def run(app: Any, scope: Scope, receive: Any = None) -> tuple[int, dict[str, str], bytes]:
    """Call the app once; return status, headers (last wins) and the body."""
    sent: list[Message] = []

    async def empty() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive or empty, send)
    start = sent[0]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, body


@pytest.fixture
def app() -> Carboy:
    return Carboy(Settings(debug=True, max_body_size=5000))


# -- parsing helpers ----------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2;", {"a": "1", "b": "2"}),
        ('a="quoted value"', {"a": "quoted value"}),
        ("a=%20x%ZZ", {"a": " x%ZZ"}),
        ("bad; a=1; =novalue; also bad; b=", {"a": "1", "b": ""}),
        ("a=1; a=2", {"a": "1"}),
        ("", {}),
        ("x=\x00; y=é", {"x": "\x00", "y": "é"}),
        ("k=v=w", {"k": "v=w"}),
    ],
)
def test_parse_cookies_is_lenient(header: str, cookies: dict[str, str]) -> None:
    assert parse_cookies(header) == cookies


# -- what the request knows about itself --------------------------------------------
def test_request_properties(app: Carboy) -> None:
    @app.get("/info/{id:int}")
    async def info(request: Request) -> dict[str, Any]:
        return {
            "method": request.method,
            "path": request.path,
            "url": str(request.url),
            "base_url": str(request.base_url),
            "path_params": request.path_params,
            "query": request.query_params.getlist("tag"),
            "q": request.query_params.get("q"),
            "accept": request.headers.getlist("X-Multi"),
            "first": request.headers["x-multi"],
            "has": "X-MULTI" in request.headers,
            "cookies": request.cookies,
            "client": list(request.client) if request.client else None,
            "content_type": request.content_type,
            "secure": request.is_secure,
            "htmx": bool(request.htmx),
            "repr": repr(request),
            "app": request.app is app,
        }

    with TestClient(app) as client:
        response = client.get(
            "/info/7?tag=a&tag=b&q=%C3%A9",
            headers=[
                ("X-Multi", "one"),
                ("x-multi", "two"),
                ("Cookie", "a=1; b=2"),
                ("content-type", "Application/JSON; charset=utf-8"),
            ],
        )
    assert response.json() == {
        "method": "GET",
        "path": "/info/7",
        "url": "http://testserver/info/7?tag=a&tag=b&q=%C3%A9",
        "base_url": "http://testserver/",
        "path_params": {"id": 7},
        "query": ["a", "b"],
        "q": "é",
        "accept": ["one", "two"],
        "first": "one",
        "has": True,
        "cookies": {"a": "1", "b": "2"},
        "client": ["testclient", 50000],
        "content_type": "application/json",
        "secure": False,
        "htmx": False,
        "repr": "<Request GET /info/7>",
        "app": True,
    }


def test_request_state_is_shared_with_dependencies(app: Carboy) -> None:
    async def who(request: Request) -> None:
        request.state.user = "ann"

    @app.get("/s", dependencies=[Depends(who)])
    async def handler(request: Request) -> dict[str, Any]:
        return {"user": request.state.user, "has": "user" in request.state}

    with TestClient(app) as client:
        assert client.get("/s").json() == {"user": "ann", "has": True}


def test_htmx_details() -> None:
    from carboy.datastructures import Headers

    details = HtmxDetails(
        Headers(
            {
                "HX-Request": "true",
                "HX-Target": "main",
                "HX-Boosted": "true",
                "HX-Trigger-Name": "q",
            }
        )
    )
    assert bool(details) and details.boosted and details.target == "main"
    assert details.trigger is None and details.trigger_name == "q"
    assert not HtmxDetails(Headers({}))


@pytest.mark.anyio
async def test_base_url_under_a_root_path_and_https() -> None:
    scope = make_scope("/app/x", query=b"a=1", scheme="https", headers=[(b"host", b"example.com")])
    scope["root_path"] = "/app"
    scope["path"] = "/x"
    scope["raw_path"] = b"/x"
    request = Request(scope)
    assert str(request.url) == "https://example.com/app/x?a=1"
    assert str(request.base_url) == "https://example.com/app/"
    assert request.is_secure


@pytest.mark.anyio
async def test_url_without_host_header_uses_the_server() -> None:
    scope = make_scope("/p", headers=[])
    scope["server"] = ("10.0.0.1", 8080)
    assert str(Request(scope).url) == "http://10.0.0.1:8080/p"
    scope["server"] = ("10.0.0.1", 80)
    assert str(Request(scope).url) == "http://10.0.0.1/p"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    [
        b"[evil",
        b"evil.com/x?",
        b"a:b:c",
        b"h:notaport",
        b"a@b",
        b"\xff\xfe",
        b"x" * 10_000,
        b"ex ample.com",
        b"h#frag",
    ],
)
async def test_hostile_host_headers_never_break_request_url(host: bytes) -> None:
    scope = make_scope("/p", query=b"q=1", headers=[(b"host", host)])
    url = Request(scope).url
    assert url.path == "/p"
    assert url.query == "q=1"
    assert url.port in (None, 80)


def test_hostile_host_in_debug_is_not_a_500(app: Carboy) -> None:
    @app.get("/u")
    async def handler(request: Request) -> dict[str, Any]:
        return {"path": request.url.path, "host": request.url.hostname}

    with TestClient(app) as client:
        for host in ("[evil", "evil.com/x?", "h:notaport"):
            response = client.get("/u", headers={"host": host})
            assert response.status_code == 200, host
            assert response.json()["path"] == "/u"


# -- the body --------------------------------------------------------------
def test_body_json_and_form(app: Carboy) -> None:
    @app.post("/body")
    async def body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        again = await request.body()
        return {"raw": raw.decode(), "same": raw is again}

    @app.post("/json")
    async def json_(request: Request) -> Any:
        return {"json": await request.json()}

    @app.post("/form")
    async def form(request: Request) -> dict[str, Any]:
        data = await request.form()
        return {"items": data.multi_items(), "a": data["a"]}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, Any]:
        chunks = [len(c) async for c in request.stream()]
        try:
            await request.body()
        except RuntimeError as exc:
            return {"chunks": chunks, "error": str(exc)}
        return {"chunks": chunks}  # pragma: no cover

    with TestClient(app) as client:
        assert client.post("/body", content=b"hello").json() == {"raw": "hello", "same": True}
        assert client.post("/json", json={"a": [1]}).json() == {"json": {"a": [1]}}
        response = client.post("/json", content=b"")
        assert (response.status_code, response.json()["detail"]) == (
            400,
            "Expected a JSON body, got an empty body",
        )
        response = client.post("/form", data={"a": ["1", "2"], "b": "é"})
        assert response.json() == {"items": [["a", "1"], ["a", "2"], ["b", "é"]], "a": "2"}
        response = client.post("/form", content=b"x=1", headers={"content-type": "text/csv"})
        assert response.status_code == 415
        response = client.post(
            "/form",
            content=b"a=%FF%FE",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.json()["a"] == "\ufffd\ufffd"
        response = client.post(
            "/form",
            content=b"a=\xff",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert (response.status_code, response.json()["detail"]) == (
            400,
            "Form body is not valid UTF-8",
        )
        response = client.post("/stream", content=b"abc")
        assert response.json() == {
            "chunks": [3],
            "error": "The request body was already read as a stream",
        }


def test_multipart_upload_spools_to_disk_past_the_threshold() -> None:
    app = Carboy(Settings(debug=True, max_body_size=5 * 1024 * 1024))

    @app.post("/up")
    async def up(
        small: UploadFile, big: UploadFile, note: Annotated[str, Query()] = ""
    ) -> dict[str, Any]:
        return {
            "small": [small.filename, small.size, small.in_memory, (await small.read()).decode()],
            "big": [big.filename, big.size, big.in_memory, len(await big.read())],
        }

    @app.post("/custom")
    async def custom(request: Request) -> dict[str, Any]:
        from carboy._forms import FormLimits

        form = await request.form(limits=FormLimits(spool_threshold=10))
        upload = form["f"]
        assert isinstance(upload, UploadFile)
        return {"in_memory": upload.in_memory, "size": upload.size}

    big = b"B" * (1024 * 1024 + 1)
    with TestClient(app) as client:
        response = client.post("/up", files={"small": ("s.txt", b"tiny"), "big": ("b.bin", big)})
        assert response.status_code == 200, response.text
        assert response.json() == {
            "small": ["s.txt", 4, True, "tiny"],
            "big": ["b.bin", len(big), False, len(big)],
        }
        assert client.post("/custom", files={"f": ("f", b"x" * 11)}).json() == {
            "in_memory": False,
            "size": 11,
        }
        assert client.post("/custom", files={"f": ("f", b"x" * 10)}).json() == {
            "in_memory": True,
            "size": 10,
        }


@pytest.fixture
def body_app(app: Carboy) -> Carboy:
    @app.post("/read")
    async def read(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/form")
    async def form(request: Request) -> dict[str, int]:
        return {"fields": len(await request.form())}

    return app


@pytest.mark.anyio
async def test_body_over_the_limit_is_413_without_reading_it_all(body_app: Carboy) -> None:
    receive = Chunks(size=1000, count=1000)  # a 1 MB body against a 5000-byte limit
    status, headers, body = await run(body_app, make_scope("/read", method="POST"), receive)
    assert status == 413
    assert b"Request body exceeds 5000 bytes" in body
    assert receive.pulled == 6  # the sixth chunk crosses the limit; nothing more is read
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.anyio
async def test_multipart_over_the_limit_stops_reading_too(body_app: Carboy) -> None:
    class Upload(Chunks):
        async def __call__(self) -> Message:
            message = await super().__call__()
            if self.pulled == 1:
                message["body"] = (
                    b'--B\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n'
                )
            return message

    receive = Upload(size=1000, count=1000)
    scope = make_scope(
        "/form",
        method="POST",
        headers=[(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=B")],
    )
    status, _, body = await run(body_app, scope, receive)
    assert status == 413
    assert b"Request body exceeds 5000 bytes" in body
    assert receive.pulled == 6


@pytest.mark.anyio
@pytest.mark.parametrize("length", [b"5001", b"9" * 5000, b"0" * 5000 + b"5001"])
async def test_declared_content_length_too_large_is_413_before_reading(
    body_app: Carboy, length: bytes
) -> None:
    receive = Chunks(size=1000, count=1000)
    scope = make_scope(
        "/read", method="POST", headers=[(b"host", b"testserver"), (b"content-length", length)]
    )
    status, _, _ = await run(body_app, scope, receive)
    assert status == 413
    assert receive.pulled == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    "length", [b"abc", b"-1", b"1.5", "١٢".encode(), b"", b"\xb2", b"1 2", b"+1"]
)
async def test_malformed_content_length_is_400(body_app: Carboy, length: bytes) -> None:
    receive = Chunks(size=10, count=1)
    scope = make_scope(
        "/read", method="POST", headers=[(b"host", b"testserver"), (b"content-length", length)]
    )
    status, _, body = await run(body_app, scope, receive)
    assert status == 400
    assert b"Content-Length is not a number" in body
    assert receive.pulled == 0


@pytest.mark.anyio
async def test_body_at_the_limit_is_fine(body_app: Carboy) -> None:
    status, _, body = await run(
        body_app, make_scope("/read", method="POST"), Chunks(size=1000, count=5)
    )
    assert (status, body) == (200, b'{"size":5000}')


@pytest.mark.anyio
async def test_client_disconnect_mid_body_is_400(body_app: Carboy) -> None:
    class Gone:
        calls = 0

        async def __call__(self) -> Message:
            self.calls += 1
            if self.calls == 1:
                return {"type": "http.request", "body": b"abc", "more_body": True}
            return {"type": "http.disconnect"}

    status, _, body = await run(body_app, make_scope("/read", method="POST"), Gone())
    assert status == 400
    assert b"Client disconnected before the body was complete" in body


def test_truncated_multipart_body_is_400(body_app: Carboy) -> None:
    with TestClient(body_app) as client:
        for content in (
            b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nabc',
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1',
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n',
            b"--B",
            b"",
            b"garbage without any boundary",
        ):
            response = client.post(
                "/form",
                content=content,
                headers={"content-type": "multipart/form-data; boundary=B"},
            )
            assert response.status_code == 400, content
            assert response.json()["detail"].startswith("Malformed multipart body"), content


def test_multipart_without_a_boundary_is_400(body_app: Carboy) -> None:
    with TestClient(body_app) as client:
        response = client.post(
            "/form", content=b"x", headers={"content-type": "multipart/form-data"}
        )
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "Multipart body has no boundary in its Content-Type",
    )


# -- hostile input anywhere in the request ------------------------------------------
@pytest.fixture
def echo_app(app: Carboy) -> Carboy:
    @app.get("/items/{name}")
    async def item(
        name: str, q: str = "", n: int = 0, x_name: Annotated[str, Header()] = ""
    ) -> dict[str, Any]:
        return {"name": name, "q": q, "n": n, "x_name": x_name}

    @app.get("/num/{id:int}")
    async def num(id: int) -> dict[str, int]:
        return {"id": id}

    @app.get("/req")
    async def req(request: Request) -> dict[str, Any]:
        return {
            "headers": len(request.headers),
            "cookies": request.cookies,
            "query": request.query_params.multi_items(),
            "url": str(request.url),
        }

    return app


@pytest.mark.anyio
async def test_invalid_percent_encoding_in_path_and_query(echo_app: Carboy) -> None:
    # Servers keep invalid escapes as they are in "path"; carboy must cope.
    scope = make_scope("/items/%ZZ", query=b"q=%ZZ%&n=1")
    status, _, body = await run(echo_app, scope)
    assert status == 200
    assert body == b'{"name":"%ZZ","q":"%ZZ%","n":1,"x_name":""}'

    status, _, body = await run(echo_app, make_scope("/items/x", query=b"q=%FF%FE"))
    assert (status, body) == (200, '{"name":"x","q":"\ufffd\ufffd","n":0,"x_name":""}'.encode())

    status, _, _ = await run(echo_app, make_scope("/items/x", query=b"n=%FF"))
    assert status == 422

    status, _, _ = await run(echo_app, make_scope("/num/%31", raw_path=b"/num/%2531"))
    assert status == 404

    status, _, body = await run(echo_app, make_scope("/req", query=b"a=%G0&%%=1&&=&b"))
    assert status == 200


@pytest.mark.anyio
async def test_raw_non_ascii_bytes_in_query_and_path(echo_app: Carboy) -> None:
    status, _, _ = await run(echo_app, make_scope("/items/é", query="q=é".encode()))
    assert status == 200
    status, _, _ = await run(echo_app, make_scope("/req", query=b"a=\xff\xfe&b=\x00"))
    assert status == 200


@pytest.mark.anyio
async def test_non_ascii_and_huge_header_values(echo_app: Carboy) -> None:
    headers = [
        (b"host", b"testserver"),
        (b"x-name", "héllo €".encode()),
        (b"x-\xff", b"\xff"),
        (b"cookie", b"a=\xff; b=\xc3\xa9"),
    ]
    status, _, body = await run(echo_app, make_scope("/items/a", headers=headers))
    assert status == 200
    # Header bytes are latin-1 (RFC 9110): UTF-8 text arrives as its latin-1 reading.
    assert json.loads(body)["x_name"] == "héllo €".encode().decode("latin-1")

    status, _, body = await run(echo_app, make_scope("/req", headers=headers))
    assert status == 200

    huge = [
        (b"host", b"testserver"),
        (b"x-name", b"v" * 100_000),
        *[(f"x-h{i}".encode(), b"1") for i in range(500)],
        (b"cookie", b"c=" + b"z" * 50_000),
    ]
    status, _, body = await run(echo_app, make_scope("/items/a", headers=huge))
    assert status == 200
    assert len(body) > 100_000
    status, _, _ = await run(echo_app, make_scope("/req", headers=huge))
    assert status == 200


def test_hostile_strings(echo_app: Carboy) -> None:
    with TestClient(echo_app) as client:
        for name in ("..", "%2E%2E", "a%00b", "%2F..%2F", "<script>"):
            response = client.get(f"/items/{name}")
            assert response.status_code in (200, 404), name
        response = client.get("/items/x", params={"q": "a" * 60_000})
        assert response.status_code == 200
        assert len(response.json()["q"]) == 60_000
        response = client.get("/items/x", params={"q": "\x00../../etc/passwd"})
        assert response.json()["q"] == "\x00../../etc/passwd"
        response = client.get("/items/x", params={"n": "9" * 10_000})
        assert response.status_code == 422
        response = client.get("/items/x", params=[("k", str(i)) for i in range(5000)])
        assert response.status_code == 200
        assert client.get("/items/x/../../etc/passwd").status_code == 404


@pytest.mark.anyio
async def test_request_without_receive_has_no_body() -> None:
    request = Request(make_scope("/"))
    with pytest.raises(RuntimeError, match="no body stream"):
        await request.body()


@pytest.mark.anyio
async def test_body_limit_from_the_scope_key() -> None:
    scope = make_scope("/", method="POST")
    scope["carboy.max_body"] = 3
    request = Request(scope, Chunks(size=2, count=5))
    with pytest.raises(HTTPException) as info:
        await request.body()
    assert info.value.status_code == 413


@pytest.mark.anyio
async def test_is_disconnected() -> None:
    async def gone() -> Message:
        return {"type": "http.disconnect"}

    assert await Request(make_scope("/"), gone).is_disconnected() is True


# -- one body per request, shared by its Request objects ----------------------------
def body_receive(body: bytes) -> Any:
    calls: list[int] = []

    async def receive() -> Message:
        calls.append(1)
        if len(calls) > 1:
            raise AssertionError("the body stream was asked twice")
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


@pytest.mark.anyio
async def test_the_form_is_parsed_once_per_request() -> None:
    """Middleware that reads the form (a CSRF check) leaves it for the handler's Request."""
    from carboy.requests import BODY_KEY, ReadBody

    form_type = [(b"content-type", b"application/x-www-form-urlencoded")]
    scope = make_scope(method="POST", headers=form_type)
    receive = body_receive(b"a=1&b=2")
    first = await Request(scope, receive).form()
    again = await Request(scope, receive).form()
    assert again is first
    assert isinstance(scope[BODY_KEY], ReadBody)
    # Its body was streamed into the parser, not kept: reading it whole now is an error.
    with pytest.raises(RuntimeError, match=r"parsed as a form: use request\.form\(\)"):
        await Request(scope, receive).body()


@pytest.mark.anyio
async def test_the_body_is_read_once_per_request() -> None:
    scope = make_scope(method="POST")
    receive = body_receive(b'{"a": 1}')
    assert await Request(scope, receive).body() == b'{"a": 1}'
    assert await Request(scope, receive).json() == {"a": 1}
    assert [c async for c in Request(scope, receive).stream()] == [b'{"a": 1}']


@pytest.mark.anyio
async def test_a_form_parsed_earlier_is_checked_against_other_limits() -> None:
    from carboy._forms import FormLimits

    form_type = [(b"content-type", b"application/x-www-form-urlencoded")]
    scope = make_scope(method="POST", headers=form_type)
    receive = body_receive(b"a=1&b=22&c=3")
    await Request(scope, receive).form(limits=FormLimits())
    later = Request(scope, receive)
    assert len((await later.form(limits=FormLimits(max_fields=3))).multi_items()) == 3
    with pytest.raises(HTTPException, match=r"Too many fields \(limit 2\)") as fields:
        await later.form(limits=FormLimits(max_fields=2))
    assert fields.value.status_code == 413
    with pytest.raises(HTTPException, match="Form field exceeds 1 bytes"):
        await later.form(limits=FormLimits(max_field_size=1))
    assert FormLimits(max_files=3) == FormLimits(max_files=3) != FormLimits()
    assert repr(FormLimits()).startswith("FormLimits(max_fields=1000, max_files=100")


@pytest.mark.anyio
async def test_a_multipart_form_parsed_earlier_is_checked_for_files() -> None:
    from carboy._forms import FormLimits

    boundary = b"xyz"
    parts = b"".join(
        b'--xyz\r\nContent-Disposition: form-data; name="f%d"; filename="%d.txt"\r\n\r\n'
        b"data\r\n" % (i, i)
        for i in range(3)
    )
    body = parts + b"--xyz--\r\n"
    headers = [(b"content-type", b"multipart/form-data; boundary=" + boundary)]
    scope = make_scope(method="POST", headers=headers)
    receive = body_receive(body)
    first = Request(scope, receive)
    assert len((await first.form()).multi_items()) == 3
    with pytest.raises(HTTPException, match=r"Too many files \(limit 2\)"):
        await Request(scope, receive).form(limits=FormLimits(max_files=2))
    await first.close()
    await Request(scope, receive).close()  # closing twice is fine
