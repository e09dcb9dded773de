"""The demo project through TestClient: every page, the API, the chat socket."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from carboy import Carboy, WebSocketDisconnect
from carboy.channels import Channels
from carboy.testing import AsyncTestClient, TestClient, WebSocketDenied
from tests.examples.conftest import DEMO, SECRET_KEY, fresh_demo


@pytest.fixture
def client(
    create_app: Callable[[], Carboy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TestClient]:
    """A fresh demo app on a fresh, migrated SQLite database with the posts fixture."""
    app = fresh_demo(
        create_app, monkeypatch, f"sqlite:///{tmp_path / 'demo.db'}", tmp_path / "media"
    )
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


def form_token(client: TestClient, page: str) -> dict[str, str]:
    """The CSRF field of the form on ``page``, as a browser would send it back."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert found is not None, page
    return {"csrf_token": found[1]}


def test_contact_form(client: TestClient) -> None:
    token = form_token(client, "/contact")
    bad = client.post("/contact", data={"name": "", "email": "x", "message": "hi", **token})
    assert bad.status_code == 422
    assert 'id="id_name_errors"><li>This field is required.' in bad.text
    assert "value is not a valid email address" in bad.text
    assert 'value="x"' in bad.text  # what was typed is kept
    ok = client.post(
        "/contact",
        data={"name": "Ann", "email": "a@example.com", "message": "Hello there!", **token},
    )
    assert ok.status_code == 200
    assert "Thank you, Ann!" in ok.text


def test_contact_form_live_check_and_screenshot(client: TestClient) -> None:
    import io

    from PIL import Image

    # As the browser sends them: the live check (htmx posts the whole form) and the
    # submits carry the form's CSRF field.
    token = form_token(client, "/contact")
    check = client.post(
        "/contact/check",
        data={"email": "nope", **token},
        headers={"HX-Request": "true", "HX-Trigger-Name": "email"},
    )
    assert check.text.startswith('<div class="field field-invalid" id="id_email_row">')
    fake = client.post(
        "/contact",
        data={"name": "Ann", "email": "a@example.com", "message": "Hello there!", **token},
        files={"screenshot": ("shot.png", b"<script>alert(1)</script>", "image/png")},
    )
    assert fake.status_code == 422 and "not an image" in fake.text
    png = io.BytesIO()
    Image.new("RGB", (3, 3)).save(png, "PNG")
    ok = client.post(
        "/contact",
        data={"name": "Ann", "email": "a@example.com", "message": "Hello there!", **token},
        files={"screenshot": ("shot.png", png.getvalue(), "image/png")},
    )
    assert ok.status_code == 200 and 'id="screenshot"' in ok.text


def test_a_forged_contact_form_is_refused(client: TestClient) -> None:
    import demo.pages

    before = len(demo.pages.MESSAGES)
    form_token(client, "/contact")  # the visitor has a session
    form = {"name": "Ann", "email": "a@example.com", "message": "Hello there!"}
    forged = client.post("/contact", data=form, headers={"Accept": "text/html"})
    assert forged.status_code == 403
    assert "CSRF check failed" in forged.text
    assert len(demo.pages.MESSAGES) == before


def test_every_page_has_a_strict_csp_and_nothing_inline(client: TestClient) -> None:
    nonces = set()
    for path in ("/", "/contact", "/blog/", "/chat/", "/auth/login", "/auth/signup"):
        page = client.get(path)
        assert page.status_code == 200, path
        policy = page.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy
        nonces.add(re.findall(r"'nonce-([^']+)'", policy)[0])
        assert "<script>" not in page.text and "<style>" not in page.text, path
    assert len(nonces) == 6


def test_notes_api(client: TestClient) -> None:
    created = client.post("/api/notes", json={"title": "First", "tags": ["a"]})
    assert created.status_code == 201
    note = created.json()
    assert client.get(f"/api/notes/{note['id']}").json()["title"] == "First"
    assert [n["id"] for n in client.get("/api/notes?tag=a").json()] == [note["id"]]
    bad = client.post("/api/notes", json={"title": "", "tags": "x"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["title", "tags"]
    oops = client.post("/api/notes", content=b"{oops", headers={"content-type": "application/json"})
    assert oops.status_code == 400
    # No JSON Content-Type (a cross-site form could send this): refused before parsing.
    assert client.post("/api/notes", content=b"{oops").status_code == 415
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


def _stalling(app: Carboy, stalled: asyncio.Event) -> Callable[..., Any]:
    """``app`` behind a server whose client ``name=slow`` never reads what it is sent.

    A ``websocket.send`` to that client blocks, as it does on a real server once
    the client's TCP window is full; ``stalled`` is set when the first one does.
    """

    async def server(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or b"name=slow" not in scope["query_string"]:
            await app(scope, receive, send)
            return

        async def send_to_slow_client(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                stalled.set()
                await asyncio.Event().wait()  # never returns: nobody reads
            await send(message)

        await app(scope, receive, send_to_slow_client)

    return server


@pytest.mark.anyio
async def test_chat_a_client_that_stops_reading_freezes_nobody_and_is_dropped(
    create_app: Callable[[], Carboy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from demo.chat import OUTBOX_SIZE, ROOM

    monkeypatch.chdir(DEMO)
    monkeypatch.setenv("CARBOY_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("CARBOY_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("CARBOY_DEBUG", "true")
    monkeypatch.setenv("CARBOY_SECRET_KEY", SECRET_KEY)
    stalled = asyncio.Event()
    app = _stalling(create_app(), stalled)
    async with (
        AsyncTestClient(app, base_url="http://localhost") as client,
        client.websocket_connect("/chat/ws?name=slow", timeout=2) as slow,
        client.websocket_connect("/chat/ws?name=ann", timeout=2) as ann,
    ):
        for i in range(OUTBOX_SIZE + 5):
            await ann.send_json({"text": f"message {i}"})
            # Each broadcast reaches ann at once although slow reads nothing.
            assert await ann.receive_json() == {"from": "ann", "text": f"message {i}"}
        assert stalled.is_set()
        with pytest.raises(WebSocketDisconnect) as closed:
            await slow.receive_json()
        assert closed.value.code == 1008
        assert len(ROOM) == 1  # ann only
    assert not ROOM


def test_chat_name_is_bounded(client: TestClient) -> None:
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/chat/ws?name=" + "x" * 41).__enter__()
    assert denied.value.status_code == 422


def test_chat_room_is_bounded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import demo.chat

    monkeypatch.setattr(demo.chat, "MAX_MEMBERS", 1)
    with client.websocket_connect("/chat/ws?name=ann") as ann:
        with client.websocket_connect("/chat/ws?name=bob") as bob:
            with pytest.raises(WebSocketDisconnect) as full:
                bob.receive_json()
            assert full.value.code == 1013
        ann.send_json({"text": "still here"})
        assert ann.receive_json() == {"from": "ann", "text": "still here"}


def test_notes_api_bounds_inputs_and_memory(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import demo.api

    assert client.post("/api/notes", json={"title": "t" * 201}).status_code == 422
    assert client.post("/api/notes", json={"title": "t", "body": "b" * 10_001}).status_code == 422
    assert client.post("/api/notes", json={"title": "t", "tags": ["x" * 31]}).status_code == 422
    assert client.post("/api/notes", json={"title": "t", "tags": ["a"] * 11}).status_code == 422
    assert client.get("/api/notes", params={"tag": "x" * 31}).status_code == 422
    monkeypatch.setattr(demo.api, "MAX_NOTES", 3)
    ids = [client.post("/api/notes", json={"title": f"n{i}"}).json()["id"] for i in range(5)]
    assert len(set(ids)) == 5
    kept = [n["id"] for n in client.get("/api/notes").json()]
    assert kept == ids[:1:-1]  # the newest three, newest first; the oldest were let go
    assert client.get(f"/api/notes/{ids[0]}").status_code == 404


def test_contact_form_bounds_inputs_and_memory(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import demo.pages

    form = {"name": "Ann", "email": "a@example.com", "message": "Hello there!"}
    form.update(form_token(client, "/contact"))
    for field, limit in (("name", 100), ("email", 254), ("message", 2000)):
        too_long = client.post("/contact", data={**form, field: "x" * (limit + 1)})
        assert too_long.status_code == 422, field
    monkeypatch.setattr(demo.pages, "MESSAGES", deque(maxlen=2))
    for _ in range(4):
        assert client.post("/contact", data=form).status_code == 200
    assert len(demo.pages.MESSAGES) == 2
    assert "2 message(s) received" in client.get("/").text


def test_env_secret_key_is_not_committed() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "examples/demo"],
        cwd=DEMO.parents[1],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "examples/demo/.env" not in tracked
    assert "examples/demo/.env.example" in tracked
    example = (DEMO / ".env.example").read_text()
    assert not re.search(r"^CARBOY_SECRET_KEY=\S", example, re.MULTILINE)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "examples/demo/.env"], cwd=DEMO.parents[1], check=False
    )
    assert ignored.returncode == 0


def test_make_demo_generates_a_fresh_secret_key(tmp_path: Path) -> None:
    script = DEMO / "scripts" / "make_env.py"
    env = tmp_path / ".env"
    for _ in range(2):
        subprocess.run([sys.executable, str(script), str(env)], check=True)
    first = env.read_text()
    key = first.split("CARBOY_SECRET_KEY=")[1].split("\n")[0]
    assert len(key) >= 43 and not any(w in key for w in ("insecure", "demo", "dev"))
    subprocess.run([sys.executable, str(script), str(env)], check=True)
    assert env.read_text() == first  # an existing .env is kept
    other = tmp_path / "other.env"
    subprocess.run([sys.executable, str(script), str(other)], check=True)
    assert other.read_text().split("CARBOY_SECRET_KEY=")[1] != first.split("CARBOY_SECRET_KEY=")[1]


# -- comments and the welcome e-mail ------------------------------------------------------
MEMBER_PASSWORD = "plum-tree-in-may-7"


def _csrf(client: TestClient, path: str) -> dict[str, str]:
    found = re.search(r'name="(csrf[^"]*)" value="([^"]+)"', client.get(path).text)
    return {found[1]: found[2]} if found else {}


def _member(client: TestClient, username: str = "ann") -> TestClient:
    """Create ``username`` in the demo's user store and sign ``client`` in as them."""
    from carboy.auth import Auth

    auth = client.app.get_module(Auth)  # type: ignore[attr-defined]
    asyncio.run(
        auth.users.create(
            password=MEMBER_PASSWORD,
            username=username,
            email=f"{username}@example.com",
            email_verified=True,
        )
    )
    data = {"login": username, "password": MEMBER_PASSWORD, **_csrf(client, "/auth/login")}
    assert client.post("/auth/login", data=data, follow_redirects=False).status_code == 303
    return client


def _comment(client: TestClient, post: int, body: str, **headers: str) -> Any:
    # The token is the session's: any page's will do (a missing post's 404 has no form).
    data = {"body": body, **_csrf(client, "/blog/1")}
    return client.post(f"/blog/{post}/comments", data=data, headers=headers, follow_redirects=False)


def test_comments_need_a_signed_in_member(client: TestClient) -> None:
    page = client.get("/blog/2")
    assert "Sign in</a> to comment" in page.text and 'id="comment-form"' not in page.text
    refused = client.post("/blog/2/comments", data={"body": "hi"}, follow_redirects=False)
    assert refused.status_code in (303, 401, 403)
    assert "No comments yet." in client.get("/blog/2").text


def test_a_comment_is_saved_and_published_to_the_post_s_readers(client: TestClient) -> None:
    _member(client)
    with (
        client.websocket_connect("/blog/2/live") as reader,
        client.websocket_connect("/blog/3/live") as elsewhere,
    ):
        channels = client.app.get_module(Channels)  # type: ignore[attr-defined]
        while channels.subscribers("post:2") == 0 or channels.subscribers("post:3") == 0:
            time.sleep(0.01)
        saved = _comment(client, 2, "  First!  ", accept="application/json")
        assert saved.status_code == 201
        comment = saved.json()
        assert comment["author"] == "ann" and comment["body"] == "First!"
        message = reader.receive_json()
        assert message == {"group": "post:2", "data": comment}
        # A plain form post (no JavaScript) is redirected back to the post.
        plain = _comment(client, 2, "Second")
        assert plain.status_code == 303 and plain.headers["location"] == "/blog/2#comments"
        assert reader.receive_json()["data"]["body"] == "Second"
        elsewhere.send_text("ping")  # the other post's reader got nothing
        assert channels.subscribers("post:3") == 1
    page = client.get("/blog/2").text
    assert (
        page.index("First!") < page.index("Second")
        and "No comments yet." not in page.split('id="no-comments"')[1].split(">")[0]
    )


def test_comments_are_escaped_bounded_and_only_on_published_posts(client: TestClient) -> None:
    _member(client)
    hostile = "<img src=x onerror=alert(1)>"
    assert _comment(client, 1, hostile, accept="application/json").status_code == 201
    page = client.get("/blog/1").text
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    for body in ("", "   ", "x" * 1001):
        assert _comment(client, 1, body, accept="application/json").status_code == 422, body
    assert _comment(client, 4, "on a draft", accept="application/json").status_code == 404
    assert _comment(client, 999, "nowhere", accept="application/json").status_code == 404
    assert client.get("/blog/1").text.count('class="comment"') == 1


def test_a_new_member_gets_a_welcome_email_from_a_background_task(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    signup = {
        "username": "bob",
        "email": "bob@example.com",
        "password1": MEMBER_PASSWORD,
        "password2": MEMBER_PASSWORD,
        **_csrf(client, "/auth/signup"),
    }
    client.post("/auth/signup", data=signup, follow_redirects=False)
    out = _console_until(capsys, "/auth/verify/")
    assert "Welcome to the carboy demo" not in out  # not before the address is confirmed
    link = re.search(r"http://localhost(/auth/verify/\S+)", out)
    assert link, out
    client.post(link[1], data=_csrf(client, link[1]), follow_redirects=False)
    out += _console_until(capsys, "Welcome to the carboy demo")
    assert "To: bob@example.com" in out.split("Welcome to the carboy demo")[0].rsplit("From:", 1)[1]


def _console_until(capsys: pytest.CaptureFixture[str], text: str, timeout: float = 10.0) -> str:
    """What the console backend printed, waiting for ``text`` (sent in the background)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, f"{text!r} never printed:\n{seen}"
        time.sleep(0.05)
        seen += capsys.readouterr().out
    return seen


def test_the_staff_fixture_signs_in_to_the_admin(client: TestClient) -> None:
    """`make demo` loads demo/fixtures/staff.json: admin / carboy-demo-admin gets in."""
    from carboy.db import Database
    from carboy.db.fixtures import load

    db = client.app.get_module(Database)  # type: ignore[attr-defined]
    with (DEMO / "demo" / "fixtures" / "staff.json").open() as fixture:
        load(db, [fixture])
    anonymous = client.get("/admin/", headers={"accept": "text/html"})
    assert 'href="/admin/auth/user/"' not in anonymous.text
    signed_in = client.post(
        "/auth/login",
        data={
            "login": "admin",
            "password": "carboy-demo-admin",
            **form_token(client, "/auth/login"),
        },
        headers={"accept": "text/html"},
    )
    assert "Signed in as admin." in signed_in.text  # (the client follows the redirect)
    dashboard = client.get("/admin/", headers={"accept": "text/html"})
    assert dashboard.status_code == 200 and 'href="/admin/blog/post/"' in dashboard.text
    assert 'href="/admin/auth/user/"' in dashboard.text
