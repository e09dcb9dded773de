"""The demo project through TestClient: every page, the API, the chat socket."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from carboy import Carboy
from carboy.db import Database
from carboy.db.fixtures import load
from carboy.testing import TestClient

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


@pytest.fixture(scope="module")
def create_app() -> Iterator[Callable[[], Carboy]]:
    """The demo's app factory, imported once (its models register on the shared metadata)."""
    sys.path.insert(0, str(DEMO))
    try:
        from demo.app import create_app

        yield create_app
    finally:
        sys.path.remove(str(DEMO))


@pytest.fixture
def client(
    create_app: Callable[[], Carboy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TestClient]:
    """A fresh demo app on a fresh, migrated SQLite database with the posts fixture."""
    monkeypatch.chdir(DEMO)
    monkeypatch.setenv("CARBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    app = create_app()
    app.build()
    db = app.get_module(Database)
    db.migrations.migrate()
    with (DEMO / "demo" / "fixtures" / "posts.json").open() as fixture:
        load(db, [fixture])
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client  # shutdown disposes the engines


def test_home_page_and_htmx_partial(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "<h1>One flask" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    partial = client.get("/?q=djan", headers={"HX-Request": "true"})
    assert partial.text.strip().startswith('<ul id="results">')
    assert "Django" in partial.text and "<header>" not in partial.text


def test_search_is_escaped_and_bounded(client: TestClient) -> None:
    page = client.get("/", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert client.get("/", params={"q": "x" * 101}).status_code == 422


def test_contact_form(client: TestClient) -> None:
    assert client.get("/contact").status_code == 200
    bad = client.post("/contact", data={"name": "", "email": "x", "message": "hi"})
    assert bad.status_code == 422
    assert "Please tell us your name." in bad.text
    ok = client.post(
        "/contact", data={"name": "Ann", "email": "a@example.com", "message": "Hello there!"}
    )
    assert ok.status_code == 200
    assert "Thank you, Ann!" in ok.text


def test_notes_api(client: TestClient) -> None:
    created = client.post("/api/notes", json={"title": "First", "tags": ["a"]})
    assert created.status_code == 201
    note = created.json()
    assert client.get(f"/api/notes/{note['id']}").json()["title"] == "First"
    assert [n["id"] for n in client.get("/api/notes?tag=a").json()] == [note["id"]]
    bad = client.post("/api/notes", json={"title": "", "tags": "x"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["title", "tags"]
    assert client.post("/api/notes", content=b"{oops").status_code == 400
    assert client.get("/api/notes?limit=0").status_code == 422
    assert client.delete(f"/api/notes/{note['id']}").status_code == 204
    assert client.get(f"/api/notes/{note['id']}").status_code == 404


def test_chat_socket(client: TestClient) -> None:
    assert client.get("/chat/").status_code == 200
    with client.websocket_connect("/chat/ws?name=ann") as ws:
        ws.send_json({"text": "hi"})
        assert ws.receive_json() == {"from": "ann", "text": "hi"}
        ws.send_json({"nope": 1})
        assert "error" in ws.receive_json()


def test_static_files(client: TestClient) -> None:
    css = client.get("/static/css/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/static/carboy/htmx.min.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


def test_blog_lists_published_posts_from_the_migrated_database(client: TestClient) -> None:
    page = client.get("/blog/")
    assert page.status_code == 200
    assert page.text.count('<li><a href="/blog/') == 3
    assert "draft" not in page.text.lower()
    assert "Page 1 of 1 (3 posts)" in page.text
    detail = client.get("/blog/2")
    assert "<h1>Growing into modules</h1>" in detail.text
    assert client.get("/blog/404").status_code == 404
    assert client.get("/blog/?page=0").status_code == 422
    assert client.get("/blog/?page=abc").status_code == 422
