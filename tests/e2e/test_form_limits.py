"""Every path that parses a form body, against every form limit.

The paths: ``request.form()``, ``Form()`` fields, ``File()``/``UploadFile``
parameters, and a model or ``Body()`` parameter fed by a form body (which
needs ``strict_content_type=False``: a JSON body parameter refuses forms by
default, see docs/parameters.md). Each is
tried with an urlencoded and a multipart body (files: multipart only) against
the field count, the field size, the file count and the total body size, all
set through the app's settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from carboy import Body, Carboy, File, Form, Request, UploadFile
from carboy.settings import Settings
from carboy.testing import TestClient


class Note(BaseModel):
    a: str = ""
    b: str = ""
    c: str = ""
    d: str = ""


def make_app(**limits: Any) -> Carboy:
    app = Carboy(Settings(debug=True, **limits))

    @app.post("/request")
    async def by_request(request: Request) -> dict[str, int]:
        return {"fields": len((await request.form()).multi_items())}

    @app.post("/form")
    async def by_form(a: Annotated[str, Form()]) -> dict[str, str]:
        return {"a": a}

    @app.post("/file")
    async def by_file(up: Annotated[UploadFile, File()]) -> dict[str, int]:
        return {"size": len(await up.read())}

    @app.post("/upload")
    async def by_upload(up: UploadFile) -> dict[str, int]:
        return {"size": len(await up.read())}

    @app.post("/model")
    async def by_model(note: Annotated[Note, Body(strict_content_type=False)]) -> dict[str, str]:
        return {"a": note.a}

    @app.post("/body")
    async def by_body(
        a: Annotated[str, Body(embed=True, strict_content_type=False)],
    ) -> dict[str, str]:
        return {"a": a}

    return app


FIELD_PATHS = ["/request", "/form", "/model", "/body"]
FILE_PATHS = ["/request", "/file", "/upload"]
ENCODINGS = ["urlencoded", "multipart"]
ALL_PATHS = sorted({*FIELD_PATHS, *FILE_PATHS})
_URLENC = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = make_app(form_max_fields=3, form_max_field_size=16, form_max_files=1, max_body_size=900)
    with TestClient(app) as c:
        yield c


def send(
    client: TestClient,
    path: str,
    encoding: str,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes]] | None = None,
) -> Any:
    if encoding == "urlencoded":
        return client.post(path, data=fields)
    # A file keeps httpx on multipart even when a case sends fields only.
    every = dict(files or {}) or {"up": ("u.txt", b"1")}
    return client.post(path, data=fields, files=every)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("path", FIELD_PATHS)
def test_within_the_limits(client: TestClient, path: str, encoding: str) -> None:
    r = send(client, path, encoding, {"a": "x" * 16, "b": "2", "c": "3"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("path", FIELD_PATHS)
def test_too_many_fields(client: TestClient, path: str, encoding: str) -> None:
    r = send(client, path, encoding, {"a": "1", "b": "2", "c": "3", "d": "4"})
    assert (r.status_code, r.json()["detail"]) == (413, "Too many fields (limit 3)")


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("path", FIELD_PATHS)
def test_field_too_big(client: TestClient, path: str, encoding: str) -> None:
    r = send(client, path, encoding, {"a": "x" * 17})
    assert (r.status_code, r.json()["detail"]) == (413, "Form field exceeds 16 bytes")


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("path", ALL_PATHS)
def test_body_too_big(client: TestClient, path: str, encoding: str) -> None:
    # The total is the app's max_body_size, checked as the body streams in.
    if encoding == "urlencoded":
        r = client.post(path, content=b"a=" + b"1" * 1000, headers={"Content-Type": _URLENC})
    else:
        r = send(client, path, encoding, {"a": "1"}, {"up": ("u.txt", b"x" * 1000)})
    assert (r.status_code, r.json()["detail"]) == (413, "Request body exceeds 900 bytes")


@pytest.mark.parametrize("path", FILE_PATHS)
def test_too_many_files(client: TestClient, path: str) -> None:
    r = client.post(path, files=[("up", ("a.txt", b"1")), ("up", ("b.txt", b"2"))])
    assert (r.status_code, r.json()["detail"]) == (413, "Too many files (limit 1)")


@pytest.mark.parametrize("path", FILE_PATHS)
def test_within_the_file_limit(client: TestClient, path: str) -> None:
    r = client.post(path, files={"up": ("a.txt", b"x" * 100)})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ALL_PATHS)
def test_overlong_boundary_is_400(client: TestClient, path: str) -> None:
    boundary = "b" * 300
    r = client.post(
        path,
        content=f"--{boundary}--\r\n".encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith("Malformed multipart Content-Type")


def test_default_limits_refuse_the_field_bomb() -> None:
    # The review's finding: millions of empty fields in one urlencoded body.
    with TestClient(make_app()) as client:
        r = client.post("/request", content=b"a=&" * 3_000_000, headers={"Content-Type": _URLENC})
    assert (r.status_code, r.json()["detail"]) == (413, "Too many fields (limit 1000)")


def test_explicit_limits_override_the_app() -> None:
    from carboy import FormLimits

    app = Carboy(debug=True)

    @app.post("/")
    async def small(request: Request) -> dict[str, int]:
        return {"n": len((await request.form(limits=FormLimits(max_fields=1))).multi_items())}

    with TestClient(app) as client:
        assert client.post("/", data={"a": "1"}).json() == {"n": 1}
        assert client.post("/", data={"a": "1", "b": "2"}).status_code == 413
