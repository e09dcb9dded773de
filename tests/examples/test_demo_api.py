"""The demo's API: the blog's posts as a resource, its document, and schemathesis over it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from carboy import Carboy
from carboy.auth import Auth
from carboy.db import Database
from carboy.db.testing import temporary_database
from carboy.testing import TestClient
from tests.cache.test_throttle import START, Clock, from_peer
from tests.db.conftest import POSTGRES_URL, require_postgres
from tests.examples.conftest import fresh_demo


class Demo:
    """A fresh demo app on a migrated SQLite database, and an editor's personal token."""

    def __init__(self, app: Carboy, token: str) -> None:
        self.app = app
        self.token = token

    @property
    def editor(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


def _demo(create_app: Callable[[], Carboy], monkeypatch: pytest.MonkeyPatch, url: str) -> Demo:
    app = fresh_demo(create_app, monkeypatch, url)
    db = app.get_module(Database)
    auth = app.get_module(Auth)

    async def editor_token() -> str:
        user = await auth.users.create(password=None, username="editor", is_superuser=True)
        assert auth.tokens is not None
        token = (await auth.tokens.create(user, "schemathesis")).token
        await db.dispose()  # its pool belongs to this event loop
        return token

    return Demo(app, asyncio.run(editor_token()))


@pytest.fixture
def demo(create_app: Callable[[], Carboy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Demo:
    return _demo(create_app, monkeypatch, f"sqlite:///{tmp_path / 'demo.db'}")


@pytest.fixture
def demo_on_postgres(
    create_app: Callable[[], Carboy], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Demo]:
    require_postgres()
    with temporary_database(POSTGRES_URL) as url:
        demo = _demo(create_app, monkeypatch, url)
        yield demo
        demo.app.get_module(Database).engine.dispose()


def test_the_demo_document_validates_and_names_its_security(demo: Demo) -> None:
    with TestClient(demo.app, base_url="http://localhost") as client:
        document = client.get("/api/openapi.json").json()
        page = client.get("/")
        assert 'href="/api/docs"' in page.text  # the site's navigation links the docs
        assert client.get("/api/docs").status_code == 200
    validate(document)
    assert set(document["paths"]) >= {"/api/posts", "/api/posts/{slug}", "/api/notes"}
    assert not any(path.startswith(("/blog", "/auth")) for path in document["paths"])
    assert set(document["components"]["securitySchemes"]) == {
        "session",
        "csrfToken",
        "personalToken",
    }
    assert [t["name"] for t in document["tags"]] == ["posts", "notes"]


def test_the_blog_posts_resource(demo: Demo) -> None:
    with TestClient(demo.app, base_url="http://localhost") as client:
        listed = client.get("/api/posts").json()
        assert listed["count"] >= 1
        assert all(post["published"] for post in listed["items"])
        assert client.post("/api/posts", json={"title": "New", "slug": "new"}).status_code == 401
        draft = client.post(
            "/api/posts", json={"title": "Draft", "slug": "api-draft"}, headers=demo.editor
        )
        assert draft.status_code == 201, draft.text
        assert draft.headers["location"] == "/api/posts/api-draft"
        assert client.get("/api/posts/api-draft").status_code == 404  # drafts: editors only
        assert client.get("/api/posts/api-draft", headers=demo.editor).status_code == 200
        etag = draft.headers["etag"]
        published = client.patch(
            "/api/posts/api-draft",
            json={"published": True},
            headers={**demo.editor, "if-match": etag},
        )
        assert published.status_code == 200
        stale = client.patch(
            "/api/posts/api-draft", json={"title": "x"}, headers={**demo.editor, "if-match": etag}
        )
        assert stale.status_code == 412
        assert client.get("/api/posts/api-draft").json()["published"] is True
        hostile = client.get("/api/posts?ordering=id;drop table post")
        assert hostile.status_code == 400
        assert client.get("/blog/").status_code == 200  # the table is still there


def test_every_client_has_a_quota_and_notes_have_their_own(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demo.api import NOTE_WRITES, NOTES

    monkeypatch.setattr(NOTE_WRITES, "clock", Clock(START + 10))  # one window, 50 s left
    NOTES.clear()
    with TestClient(from_peer(demo.app, "203.0.113.7"), base_url="http://localhost") as client:
        listed = client.get("/api/posts")
        assert listed.headers["ratelimit-policy"] == '"api";q=600;w=60'
        created = [client.post("/api/notes", json={"title": f"n{i}"}) for i in range(60)]
        assert {r.status_code for r in created} == {201}
        assert created[0].headers["ratelimit-policy"] == '"notes";q=60;w=60'
        assert created[-1].headers["ratelimit"] == '"notes";r=0;t=50'
        refused = client.post("/api/notes", json={"title": "one too many"})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "50"
        assert refused.headers["content-type"] == "application/problem+json"
        assert len(NOTES) == 60  # the refused one never reached the handler
        assert client.get("/api/notes").status_code == 200  # reading is on the API's quota
        # Another client (a token), and another address, each have quotas of their own.
        assert (
            client.post("/api/notes", json={"title": "t"}, headers=demo.editor).status_code == 201
        )
    with TestClient(from_peer(demo.app, "198.51.100.9"), base_url="http://localhost") as other:
        assert other.post("/api/notes", json={"title": "o"}).status_code == 201
    NOTES.clear()


# -- schemathesis ----------------------------------------------------------------------
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: Examples per operation and generation mode (positive and negative data).
EXAMPLES = 12


def _run_schemathesis(demo: Demo, headers: dict[str, str] | None) -> int:
    """Every operation of the demo's document, valid and invalid data; the failures listed.

    Loops over the operations itself rather than through schemathesis's pytest
    plugin, which does not run on this pytest.
    """
    api_schema = schemathesis.openapi.from_asgi("/api/openapi.json", demo.app)
    failures: list[str] = []
    ran = 0
    for found in api_schema.get_all_operations():
        operation = found.ok()
        for mode in GenerationMode:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Exception as exc:  # each operation's failure, then all of them at once
                failures.append(f"{operation.label} ({mode.value}): {exc}")
            ran += 1
    assert not failures, "\n\n".join(failures)
    return ran


def test_schemathesis_every_operation_anonymous(demo: Demo) -> None:
    """No 5xx, and every answer (every 4xx too) is what the document says."""
    assert _run_schemathesis(demo, None) >= 2 * 10


def test_schemathesis_every_operation_signed_in_with_a_token(demo: Demo) -> None:
    """The writes too: creates, replaces, patches and deletes with random data."""
    assert _run_schemathesis(demo, demo.editor) >= 2 * 10


def test_schemathesis_signed_in_on_postgresql(demo_on_postgres: Demo) -> None:
    """PostgreSQL refuses what SQLite keeps (NUL in text, integers past 32 bits): still 4xx."""
    assert _run_schemathesis(demo_on_postgres, demo_on_postgres.editor) >= 2 * 10
