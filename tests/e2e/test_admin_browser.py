"""carboy.admin in real headless Chromium, on the demo's blog.

A staff user signs in, creates a category, tags and a post in it with tags
and an image, edits it, searches, filters and sorts the list, bulk-deletes
through the confirmation page, exports CSV and reads the post's history; a
member who is not staff is refused; a view-only user gets a form that cannot
be saved, and a forged POST from them is a 403; two tabs edit one post and
the second save reports the conflict. axe-core (vendored from the npm
registry in tests/e2e/assets, injected by the tests) finds no serious or
critical violation on the dashboard, list, edit and delete pages, in light
and dark. Screenshots of the dashboard, list and edit pages in both themes
land in the test's folder (and in ``$CARBOY_E2E_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, free_port, start_demo, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js"
PASSWORD = "plum-tree-in-may-7"
DEMO = ROOT / "examples" / "demo"


class Demo:
    """The demo served by uvicorn, with its own database, media folder and users."""

    def __init__(self, url: str, shots: Path, folder: Path) -> None:
        self.url = url
        self.shots = shots
        self.folder = folder

    def shot(self, page: Any, name: str) -> Path:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def _run(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, *args],
        cwd=DEMO,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        input=stdin.encode() if stdin is not None else None,
    )


GRANT = textwrap.dedent(
    """
    import sys
    from sqlalchemy import select
    from carboy.auth import User, get_permission
    from carboy.db import Database
    from demo.app import app

    app.build()
    db = app.get_module(Database)
    name, *perms = sys.argv[1:]
    with db.transaction() as session:
        user = session.scalars(select(User).where(User.username == name)).one()
        for perm in perms:
            user.user_permissions.append(get_permission(session, perm))
    """
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("admin-demo")
    shots = Path(os.environ.get("CARBOY_E2E_SCREENSHOTS") or folder / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    env = {
        "CARBOY_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
        "CARBOY_DEBUG": "true",
        "CARBOY_SECRET_KEY": "carboy-e2e-admin-secret-key-" * 3,
        "CARBOY_MEDIA_DIR": str(folder / "media"),
        "CARBOY_USER_PASSWORD": PASSWORD,
    }
    _run(env, "-m", "carboy", "migrate")
    _run(env, "-m", "carboy", "loaddata", "demo/fixtures/posts.json")
    for name, flags in (
        ("boss", ["--superuser"]),
        ("viewer", ["--staff"]),
        ("member", []),
    ):
        _run(
            env,
            "-m",
            "carboy",
            "createuser",
            "--username",
            name,
            "--email",
            f"{name}@example.com",
            "--no-input",
            *flags,
        )
    _run(env, "-c", GRANT, "viewer", "blog.view_post", "blog.view_comment")
    port = free_port()
    process = start_demo(port, env)
    yield Demo(f"http://127.0.0.1:{port}", shots, folder)
    stop_server(process)


def new_page(browser: Any, scheme: str = "light") -> tuple[Any, Any, list[str]]:
    context = browser.new_context(
        viewport={"width": 1200, "height": 900}, color_scheme=scheme, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A script or style the page's Content-Security-Policy refused is a failure too.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return context, page, errors


def sign_in(page: Any, demo: Demo, name: str) -> None:
    page.goto(demo.url + "/auth/login?next=/admin/")
    page.fill("#id_login", name)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """What axe-core finds on the page, serious and critical only.

    axe is evaluated through the DevTools protocol, which a strict CSP (no inline
    script) does not stop, unlike an injected <script> tag.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def png(path: Path) -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 40), (46, 125, 50)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_staff_manage_the_blog_in_the_admin(browser: Any, demo: Demo, tmp_path: Path) -> None:
    context, page, errors = new_page(browser)
    sign_in(page, demo, "boss")
    assert page.url.endswith("/admin/")
    page.wait_for_selector("#chart .uplot")  # the chart is drawn by the vendored uPlot
    assert page.locator("#chart-table table").count() == 1
    assert serious_violations(page) == []
    demo.shot(page, "admin-dashboard-light")

    # A category, two tags, then a post in the category, with both tags and an image.
    page.click("a[aria-label='Add Categories']")
    page.fill("#id_name", "Gardening")
    page.fill("#id_slug", "gardening")
    page.click("button[name=_save]")
    assert "Added category “Gardening”." in page.inner_text("main")
    for tag in ("green", "spring"):
        page.goto(demo.url + "/admin/blog/tag/add")
        page.fill("#id_name", tag)
        page.click("button[name=_save]")
    page.goto(demo.url + "/admin/blog/post/add")
    page.fill("#id_title", "Planting tomatoes")
    page.fill("#id_slug", "tomatoes")
    page.fill("#id_body", "Start them indoors in March.")
    # The category is an autocomplete (htmx): type, arrow down to the match, Enter.
    page.fill("#id_category_id", "Gard")
    page.wait_for_selector("#id_category_id_results [role=option]")
    page.press("#id_category_id", "ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value("[name=category_id]") == "1"
    assert page.input_value("#id_category_id") == "Gardening"
    page.select_option("#id_tags", label=["green", "spring"])
    page.set_input_files("#id_image", str(png(tmp_path / "tomato.png")))
    page.check("#id_published")
    page.click("button[name=_continue]")
    page.wait_for_selector("text=Added post “Planting tomatoes”.")
    assert page.input_value("#id_category_id") == "Gardening"
    assert sorted(page.locator("#id_tags option[selected]").all_inner_texts()) == [
        "green",
        "spring",
    ]
    image = page.locator(".current-file a")
    assert image.get_attribute("href").startswith("/media/post/")
    assert page.request.get(demo.url + image.get_attribute("href")).status == 200
    assert serious_violations(page) == []
    demo.shot(page, "admin-edit-light")

    # Edit: an inline comment is added on the post's page, and the title and tags change;
    # the history names the changed fields, from what to what.
    page.fill("#id_inline-comment-0-author", "ann")
    page.fill("#id_inline-comment-0-body", "Mine are up already!")
    page.fill("#id_title", "Planting tomatoes early")
    page.select_option("#id_tags", label=["green"])
    page.click("button[name=_continue]")
    page.wait_for_selector("text=Saved post")
    assert page.input_value("#id_inline-comment-0-body") == "Mine are up already!"
    page.click("text=History")
    history = page.inner_text("table.history")
    assert "Planting tomatoes" in history and "Planting tomatoes early" in history
    assert "Title" in history and "Tags" in history and "boss" in history
    assert "Added comment" in history

    # The list: search, filter, sort.
    page.goto(demo.url + "/admin/blog/post/")
    assert page.locator("table.results tbody tr").count() == 5
    page.fill("#searchbar", "tomatoes")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=tomatoes**")
    assert page.locator("table.results tbody tr").count() == 1
    page.goto(demo.url + "/admin/blog/post/")
    page.click("aside.filters >> text=No")  # By published: No
    page.wait_for_url("**published=0**")
    assert page.locator("table.results tbody tr").all_inner_texts()[0].strip().startswith("A draft")
    page.goto(demo.url + "/admin/blog/post/")
    page.click("thead >> text=Title")
    page.wait_for_url("**o=title**")
    first = page.locator("table.results tbody tr td:nth-child(2)").all_inner_texts()
    assert first == sorted(first, key=str.lower) or first == sorted(first)
    assert page.locator("thead th[aria-sort=ascending]").count() == 1
    assert serious_violations(page) == []
    demo.shot(page, "admin-list-light")

    # CSV export of the filtered list.
    page.goto(demo.url + "/admin/blog/post/?published=1")
    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == "Title" and len(table) == 1 + 4  # the 3 published fixtures + tomatoes
    assert any(row[0] == "Planting tomatoes early" for row in table)

    # Bulk delete through the confirmation page.
    page.goto(demo.url + "/admin/blog/post/?o=title")
    page.check("input[aria-label='Select Batteries, first-party']")
    page.check("input[aria-label='Select Growing into modules']")
    page.select_option("#action-select", "delete_selected")
    page.click("#action-go")
    page.wait_for_selector("#confirm-action")
    assert "these 2 posts" in page.inner_text("main")
    assert serious_violations(page) == []
    page.click("#confirm-action")
    page.wait_for_selector("text=Deleted 2 posts.")
    assert page.locator("table.results tbody tr").count() == 3

    # One object's delete page lists what goes with it.
    page.goto(demo.url + "/admin/blog/category/")
    page.click("text=Gardening")
    page.click("text=Delete")
    assert "Left without it" in page.inner_text("main")
    assert serious_violations(page) == []

    # carboy.auth's users, administered by default: no password hash on the pages.
    page.goto(demo.url + "/admin/auth/user/")
    assert "boss" in page.inner_text("table.results")
    assert serious_violations(page) == []
    demo.shot(page, "admin-users-light")
    page.click("table.results >> text=boss")
    page.wait_for_selector("#id_username")
    assert "$argon2" not in page.content() and page.locator("input[name=password]").count() == 0
    assert serious_violations(page) == []
    context.close()
    assert errors == [], errors


def test_the_dark_theme_and_its_toggle(browser: Any, demo: Demo) -> None:
    context, page, errors = new_page(browser, "dark")
    sign_in(page, demo, "boss")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 20, 23)"  # the system asks for dark: dark it is
    assert serious_violations(page) == []
    page.wait_for_selector("#chart .uplot")
    demo.shot(page, "admin-dashboard-dark")
    page.goto(demo.url + "/admin/blog/post/")
    assert serious_violations(page) == []
    demo.shot(page, "admin-list-dark")
    page.goto(demo.url + "/admin/blog/post/1/change")
    assert serious_violations(page) == []
    demo.shot(page, "admin-edit-dark")
    # The toggle switches to light, by keyboard, and the choice is kept on the next page.
    page.focus("#theme-toggle")
    page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    assert page.get_attribute("#theme-toggle", "aria-pressed") == "false"
    page.goto(demo.url + "/admin/")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 246, 248)"
    context.close()
    assert errors == [], errors


def test_a_member_who_is_not_staff_is_refused(browser: Any, demo: Demo) -> None:
    context, page, _ = new_page(browser)
    sign_in(page, demo, "member")
    response = page.goto(demo.url + "/admin/")
    assert response is not None and response.status == 403
    assert "Staff only" in page.inner_text("body")
    context.close()


def test_a_view_only_user_cannot_save(browser: Any, demo: Demo) -> None:
    context, page, errors = new_page(browser)
    sign_in(page, demo, "viewer")
    page.goto(demo.url + "/admin/blog/post/1/change")
    assert page.locator("#readonly-notice").count() == 1
    assert page.locator("button[name=_save]").count() == 0
    assert page.locator("input#id_title").count() == 0
    assert serious_violations(page) == []
    # A forged POST, with the page's own cookies: refused, nothing changed.
    title = page.inner_text("#id_title")
    # With the session's own CSRF token (from the sign-out form), when the app checks CSRF:
    # what refuses it is the permission, not a missing token.
    token = page.locator("input[name=csrf_token]")
    form = {"title": "Hacked", "slug": "x", "_version": "{}"}
    if token.count():
        form["csrf_token"] = token.first.get_attribute("value") or ""
    response = page.request.post(
        demo.url + "/admin/blog/post/1/change", form=form, headers={"Origin": demo.url}
    )
    assert response.status == 403
    page.reload()
    assert page.inner_text("#id_title") == title
    context.close()
    assert errors == [], errors


def test_two_tabs_editing_one_post_the_second_save_reports_the_conflict(
    browser: Any, demo: Demo
) -> None:
    context, first, errors = new_page(browser)
    sign_in(first, demo, "boss")
    second = context.new_page()
    url = demo.url + "/admin/blog/post/4/change"
    first.goto(url)
    second.goto(url)
    first.fill("#id_title", "Edited in the first tab")
    first.click("button[name=_continue]")
    first.wait_for_selector("text=Saved post")
    second.fill("#id_body", "Edited in the second tab")
    second.click("button[name=_continue]")
    second.wait_for_selector("#conflict")
    text = second.inner_text("#conflict")
    assert "Someone else changed this post" in text and "Edited in the first tab" in text
    assert second.locator("#id_body").input_value() == "Edited in the second tab"
    second.goto(url)
    assert second.locator("#id_title").input_value() == "Edited in the first tab"
    assert "Edited in the second tab" not in second.locator("#id_body").input_value()
    context.close()
    assert errors == [], errors
