"""The demo's live comments in real headless Chromium: posted in one page, shown in another.

Two browser contexts (two visitors, separate cookies): a signed-in member and
an anonymous reader open the same post; the member's comment appears in the
reader's page without a reload, delivered over the demo's WebSocket. The demo
runs under uvicorn (ASGI) and under granian over RSGI. Screenshots land in the
test's folder (or ``$CARBOY_E2E_SCREENSHOTS``), one folder per server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, free_port, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "plum-tree-in-may-7"


@pytest.fixture(scope="module", params=["uvicorn", "granian-rsgi"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The demo under uvicorn (ASGI), and under granian over RSGI (carboy/_rsgi/)."""
    folder = tmp_path_factory.mktemp("live-demo")
    shots = Path(os.environ.get("CARBOY_E2E_SCREENSHOTS") or folder / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    demo_dir = ROOT / "examples" / "demo"
    env = {
        "CARBOY_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
        "CARBOY_DEBUG": "true",
        "CARBOY_SECRET_KEY": "carboy-e2e-live-secret-key-" * 3,
        "CARBOY_USER_PASSWORD": PASSWORD,
    }
    for command in (
        ["migrate"],
        ["loaddata", "demo/fixtures/posts.json"],
        ["createuser", "--username", "ann", "--email", "ann@example.com", "--no-input"],
    ):
        subprocess.run(
            [sys.executable, "-m", "carboy", *command],
            cwd=demo_dir,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
    port = free_port()
    with (folder / "server.log").open("wb") as output:
        address = ["--port", str(port), "--host", "127.0.0.1", "--log-level", "warning"]
        if request.param == "uvicorn":
            command = [sys.executable, "-m", "uvicorn", "demo.app:app", *address]
        else:
            command = [sys.executable, "-m", "granian", "--interface", "rsgi", *address]
            command.append("demo.app:app")
        process = start_server(
            command,
            demo_dir,
            port,
            env,
            output,
        )  # fmt: skip
        try:
            yield f"http://127.0.0.1:{port}", shots / request.param
        finally:
            stop_server(process)


def test_a_comment_posted_in_one_page_appears_in_another(
    browser: Any, demo: tuple[str, Path]
) -> None:
    url, shots = demo
    shots.mkdir(parents=True, exist_ok=True)
    member_context, reader_context = browser.new_context(), browser.new_context()
    errors: list[str] = []
    try:
        member, reader = member_context.new_page(), reader_context.new_page()
        for page in (member, reader):
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "response",
                lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
        member.goto(url + "/auth/login?next=/blog/2")
        member.get_by_label("Username or e-mail").fill("ann")
        member.get_by_label("Password", exact=True).fill(PASSWORD)
        member.get_by_role("button", name="Sign in").click()
        member.wait_for_url("**/blog/2")
        reader.goto(url + "/blog/2")
        for page in (member, reader):
            page.wait_for_selector("#comments[data-connected=yes]")
        assert reader.locator("#comment-form").count() == 0  # the reader is not signed in
        assert reader.locator("#no-comments").is_visible()

        member.get_by_label("Your comment").fill("Live from the first tab <b>!</b>")
        member.get_by_role("button", name="Post comment").click()
        # Shown in the reader's page without a reload, as text.
        reader.wait_for_selector("#comment-list .comment")
        body = reader.locator("#comment-list .comment .comment-body")
        assert body.inner_text() == "Live from the first tab <b>!</b>"
        assert reader.locator("#comment-list .comment strong").inner_text() == "ann"
        assert not reader.locator("#no-comments").is_visible()
        # The member's own page shows it once (the socket's copy is not added twice).
        member.wait_for_selector("#comment-list .comment")
        assert member.locator("#comment-list .comment").count() == 1
        assert member.get_by_label("Your comment").input_value() == ""
        reader.screenshot(path=str(shots / "live-comment-reader.png"), full_page=True)
        member.screenshot(path=str(shots / "live-comment-member.png"), full_page=True)

        # A second comment, and a reload shows both, in order, from the database.
        member.get_by_label("Your comment").fill("And a second one")
        member.get_by_role("button", name="Post comment").click()
        reader.wait_for_selector("#comment-list .comment:nth-child(2)")  # no eval under the CSP
        reader.reload()
        texts = reader.locator("#comment-list .comment-body").all_inner_texts()
        assert texts == ["Live from the first tab <b>!</b>", "And a second one"]
        assert errors == []
    finally:
        member_context.close()
        reader_context.close()
