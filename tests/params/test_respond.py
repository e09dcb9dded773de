"""How return values become responses (carboy.params._respond)."""

from __future__ import annotations

import dataclasses
import types
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from carboy import (
    Carboy,
    HTMLResponse,
    HTTPException,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from carboy.params import to_response
from carboy.testing import TestClient

SECURITY = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}


class Model(BaseModel):
    id: int
    name: str


class Struct(msgspec.Struct):
    id: int
    tags: list[str]


@dataclasses.dataclass
class Data:
    id: int
    key: uuid.UUID


KEY = uuid.UUID("5f0c6a3e-8d0b-4c8e-9a57-3f2a1b4c5d6e")


@pytest.fixture(params=["asgi", "rsgi"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """The app over ASGI, and over RSGI (where its direct routes are rendered natively)."""
    app = Carboy(debug=True)

    @app.get("/dict")
    async def dict_() -> dict[str, Any]:
        return {"a": 1, "b": [True, None]}

    @app.get("/list")
    def list_() -> list[int]:
        return [1, 2]

    @app.get("/model")
    async def model() -> Model:
        return Model(id=1, name="m")

    @app.get("/struct")
    async def struct() -> Struct:
        return Struct(1, ["x"])

    @app.get("/dataclass")
    async def dataclass() -> Data:
        return Data(2, KEY)

    @app.get("/str")
    async def str_() -> str:
        return "<b>héllo</b>"

    @app.get("/text", media_type="text/plain")
    async def text() -> str:
        return "plain"

    @app.get("/csv", media_type="text/csv; charset=latin-1")
    async def csv() -> str:
        return "a,b"

    @app.get("/bytes")
    async def bytes_() -> bytes:
        return b"\x00\x01"

    @app.get("/png", media_type="image/png")
    async def png() -> bytes:
        return b"\x89PNG"

    @app.get("/none")
    async def none() -> None:
        return None

    @app.post("/created", status_code=201)
    async def created() -> dict[str, int]:
        return {"id": 1}

    @app.post("/created-none", status_code=201)
    async def created_none() -> None:
        return None

    @app.post("/created-str", status_code=201, media_type="text/plain")
    def created_str() -> str:
        return "made"

    @app.get("/tuple2")
    async def tuple2() -> tuple[dict[str, int], int]:
        return {"id": 1}, 202

    @app.get("/tuple3")
    async def tuple3() -> tuple[str, int, dict[str, str]]:
        return "teapot", 418, {"X-Extra": "1", "Content-Type": "text/plain; charset=utf-8"}

    @app.get("/tuple-none")
    async def tuple_none() -> tuple[None, int]:
        return None, 204

    @app.get("/bad-tuple")
    async def bad_tuple() -> Any:
        return (1, 2, 3, 4)

    @app.get("/response")
    async def response() -> Response:
        r = PlainTextResponse("custom", status_code=203, headers={"X-A": "b"})
        r.set_cookie("k", "v")
        return r

    @app.get("/html-response")
    async def html_response() -> HTMLResponse:
        return HTMLResponse("<p>x</p>")

    @app.get("/redirect")
    async def redirect() -> RedirectResponse:
        return RedirectResponse("/dict", status_code=303)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a", "b"]), media_type="text/plain")

    @app.get("/override-security")
    async def override() -> Response:
        return Response("x", headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.get("/unserializable")
    async def unserializable() -> Any:
        return {"x": object()}

    @app.get("/error")
    async def error() -> None:
        raise HTTPException(403, "nope")

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("crash")

    with TestClient(app, follow_redirects=False, interface=request.param) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/dict", {"a": 1, "b": [True, None]}),
        ("/list", [1, 2]),
        ("/model", {"id": 1, "name": "m"}),
        ("/struct", {"id": 1, "tags": ["x"]}),
        ("/dataclass", {"id": 2, "key": str(KEY)}),
    ],
)
def test_json_values(client: TestClient, url: str, body: Any) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body
    assert int(response.headers["content-length"]) == len(response.content)


def test_str_is_html_by_default(client: TestClient) -> None:
    response = client.get("/str")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == "<b>héllo</b>".encode()
    assert response.headers["content-length"] == str(len("<b>héllo</b>".encode()))


def test_media_type_on_the_decorator(client: TestClient) -> None:
    assert client.get("/text").headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/csv").headers["content-type"] == "text/csv; charset=latin-1"
    response = client.get("/png")
    assert response.headers["content-type"] == "image/png"
    assert response.content == b"\x89PNG"


def test_bytes(client: TestClient) -> None:
    response = client.get("/bytes")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == b"\x00\x01"


def test_none_is_204_without_body_or_length(client: TestClient) -> None:
    response = client.get("/none")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-length" not in response.headers
    assert "content-type" not in response.headers


def test_status_code_on_the_decorator(client: TestClient) -> None:
    response = client.post("/created")
    assert (response.status_code, response.json()) == (201, {"id": 1})
    response = client.post("/created-none")
    assert (response.status_code, response.content) == (201, b"")
    response = client.post("/created-str")
    assert (response.status_code, response.text) == (201, "made")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_tuples_set_status_and_headers(client: TestClient) -> None:
    response = client.get("/tuple2")
    assert (response.status_code, response.json()) == (202, {"id": 1})
    response = client.get("/tuple3")
    assert (response.status_code, response.text) == (418, "teapot")
    assert response.headers["x-extra"] == "1"
    assert response.headers.get_list("content-type") == ["text/plain; charset=utf-8"]
    response = client.get("/tuple-none")
    assert (response.status_code, response.content) == (204, b"")


def test_a_malformed_tuple_is_a_server_error(client: TestClient) -> None:
    response = client.get("/bad-tuple")
    assert response.status_code == 500
    assert "(body, status) or (body, status, headers)" in response.json()["detail"]


def test_response_objects_are_sent_as_they_are(client: TestClient) -> None:
    response = client.get("/response")
    assert (response.status_code, response.text) == (203, "custom")
    assert response.headers["x-a"] == "b"
    assert response.headers["set-cookie"] == "k=v; Path=/; HttpOnly; SameSite=Lax"
    assert client.get("/html-response").headers["content-type"] == "text/html; charset=utf-8"
    response = client.get("/redirect")
    assert (response.status_code, response.headers["location"]) == (303, "/dict")
    assert client.get("/stream").text == "ab"


@pytest.mark.parametrize(
    "url",
    [
        "/dict",
        "/list",
        "/model",
        "/str",
        "/bytes",
        "/none",
        "/tuple3",
        "/response",
        "/redirect",
        "/stream",
        "/error",
        "/crash",
        "/nowhere",
        "/unserializable",
    ],
)
def test_security_headers_on_every_kind_of_response(client: TestClient, url: str) -> None:
    response = client.get(url)
    for name, value in SECURITY.items():
        assert response.headers.get_list(name) == [value], (url, name)
    assert "strict-transport-security" not in response.headers


def test_security_headers_on_405_and_options(client: TestClient) -> None:
    for response in (client.delete("/dict"), client.options("/dict"), client.head("/dict")):
        for name, value in SECURITY.items():
            assert response.headers[name] == value


def test_hsts_only_under_https(client: TestClient) -> None:
    response = client.get("https://testserver/dict")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_response_may_override_a_default_header(client: TestClient) -> None:
    response = client.get("/override-security")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


def test_unserializable_return_is_a_500(client: TestClient) -> None:
    response = client.get("/unserializable")
    assert response.status_code == 500
    assert response.json()["detail"].startswith("TypeError: ")


# -- to_response directly ------------------------------------------------------
def test_to_response_directly() -> None:
    assert to_response(None).status_code == 204
    assert to_response(None, status_code=202).status_code == 202
    html = to_response("x")
    assert (html.body, html.headers["content-type"]) == (b"x", "text/html; charset=utf-8")
    assert to_response(bytearray(b"ab")).body == b"ab"
    assert to_response(memoryview(b"cd"), "image/gif").headers["content-type"] == "image/gif"
    js = to_response({"a": 1}, status_code=201)
    assert isinstance(js, JSONResponse) and js.status_code == 201 and js.body == b'{"a":1}'
    resp = Response("r")
    assert to_response(resp) is resp
    assert to_response(("x", 400)).status_code == 400
    with pytest.raises(TypeError):
        to_response(("x", "400"))
    with pytest.raises(TypeError):
        to_response(("x",))


# -- return values shaped by their type ---------------------------------------------


class Article(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    title: str
    tag_list: list[str]
    favorited_count: int | None = None


@dataclasses.dataclass
class UserRow:
    id: int
    email: str
    password_hash: str
    bio: str | None = None


class UserOut(BaseModel):
    id: int
    email: str
    bio: str | None = None


class Point(msgspec.Struct, rename="camel"):
    x_pos: int
    label_text: str | None = None


def _shaping_app() -> Any:
    from carboy import Carboy

    app = Carboy(debug=True)
    row = UserRow(1, "a@b.c", "argon2$secret")

    @app.get("/article")
    async def article() -> Article:
        return Article(title="T", tag_list=["a"])

    @app.get("/articles")
    async def articles() -> list[Article]:
        return [Article(title="T", tag_list=[])]

    @app.get("/me", response_model=UserOut)
    async def me() -> UserRow:
        return row

    @app.get("/me-sync", response_model=UserOut)
    def me_sync() -> UserRow:
        return row

    @app.get("/users", response_model=list[UserOut], extra={"exclude_none": True})
    async def users() -> list[UserRow]:
        return [row]

    @app.get("/me-dict", response_model=UserOut, status_code=201)
    async def me_dict() -> dict[str, object]:
        return {"id": 2, "email": "x", "password_hash": "h"}

    @app.get("/created", response_model=UserOut)
    async def created() -> tuple[UserRow, int]:
        return row, 202

    @app.get("/sparse", extra={"exclude_none": True})
    async def sparse() -> Article:
        return Article(title="T", tag_list=[])

    @app.get("/point")
    async def point() -> Point:
        return Point(x_pos=1)

    @app.get("/points", response_model=list[Point], extra={"exclude_none": True})
    async def points() -> list[object]:
        # Converted by attribute (from_attributes); a dict would need the wire names.
        return [types.SimpleNamespace(x_pos=2, label_text=None, other=3)]

    @app.get("/plain")
    async def plain() -> dict[str, object]:
        return {"snake_case": 1}

    return app


def test_a_camel_case_alias_generator_comes_out_camel_case() -> None:
    with TestClient(_shaping_app()) as client:
        assert client.get("/article").json() == {
            "title": "T",
            "tagList": ["a"],
            "favoritedCount": None,
        }
        assert client.get("/articles").json() == [
            {"title": "T", "tagList": [], "favoritedCount": None}
        ]
        assert client.get("/sparse").json() == {"title": "T", "tagList": []}
        assert client.head("/article").content == b""
        assert client.get("/plain").json() == {"snake_case": 1}


def test_response_model_drops_fields_the_object_has() -> None:
    with TestClient(_shaping_app()) as client:
        expected = {"id": 1, "email": "a@b.c", "bio": None}
        assert client.get("/me").json() == expected
        assert client.get("/me-sync").json() == expected
        assert "password" not in client.get("/me").text
        assert client.get("/users").json() == [{"id": 1, "email": "a@b.c"}]
        response = client.get("/me-dict")
        assert response.status_code == 201
        assert response.json() == {"id": 2, "email": "x", "bio": None}
        response = client.get("/created")
        assert response.status_code == 202
        assert response.json() == expected


def test_msgspec_rename_is_the_fast_path() -> None:
    with TestClient(_shaping_app()) as client:
        assert client.get("/point").json() == {"xPos": 1, "labelText": None}
        assert client.get("/points").json() == [{"xPos": 2}]


def test_a_response_model_that_is_no_model_type_is_refused() -> None:
    from carboy import Carboy
    from carboy.exceptions import ConfigurationError

    app = Carboy(debug=True)

    @app.get("/", response_model=int)
    async def home() -> int:
        return 1

    with pytest.raises(ConfigurationError, match=r"response_model=<class 'int'> is not a"):
        app.build()


def test_pydantic_models_inside_plain_values_use_their_aliases() -> None:
    from pydantic import BaseModel, Field

    from carboy import _json

    class M(BaseModel):
        snake_name: int = Field(serialization_alias="snakeName")

    assert _json.dumps({"m": M(snake_name=1)}) == b'{"m":{"snakeName":1}}'
