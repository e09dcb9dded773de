"""Who gets in, and what each permission allows, on every route and every action.

Each refusal is checked to change nothing: the object, its children and the
history are as they were.
"""

from __future__ import annotations

import pytest

from carboy import RouteInfo
from tests.admin.conftest import Category, Comment, Post, Site, post_form

# (method, url, the permission it needs); post 1 exists, with a comment.
ROUTES = [
    ("GET", "/admin/shop/post/", "view"),
    ("GET", "/admin/shop/post/export.csv", "view"),
    ("GET", "/admin/shop/post/1/change", "view"),
    ("GET", "/admin/shop/post/1/history", "view"),
    ("GET", "/admin/shop/post/add", "add"),
    ("POST", "/admin/shop/post/add", "add"),
    ("POST", "/admin/shop/post/1/change", "change"),
    ("GET", "/admin/shop/post/1/delete", "delete"),
    ("POST", "/admin/shop/post/1/delete", "delete"),
]
ACTIONS = [("delete_selected", "delete"), ("publish", "change")]
ALL = ("view_post", "add_post", "change_post", "delete_post")
FORM = {"title": "Changed", "status": "draft", "_version": "{}"}


def seed(site: Site) -> None:
    site.add(Category(name="News"))
    site.add(Post(title="Original", body="b"))
    site.add(Comment(post_id=1, author="a", body="c"))


def snapshot(site: Site) -> tuple[object, ...]:
    post = site.get(Post, 1)
    from carboy.admin import LogEntry

    return (
        post.title if post else None,
        post.published if post else None,
        site.count(Post),
        site.count(Comment),
        site.count(LogEntry),
    )


def test_visitors_who_are_not_signed_in_are_sent_to_sign_in(site: Site) -> None:
    seed(site)
    client = site.client()
    for method, url, _ in [("GET", "/admin/", ""), ("GET", "/admin/chart", ""), *ROUTES]:
        response = client.request(method, url, data=FORM if method == "POST" else None)
        if method == "GET":
            assert response.status_code == 302, url
            assert response.headers["location"].startswith("/auth/login?next="), url
        else:
            assert response.status_code in (302, 403), url
    assert snapshot(site) == ("Original", False, 1, 1, 0)


def test_signed_in_users_who_are_not_staff_are_refused(site: Site) -> None:
    seed(site)
    site.user("member", *ALL, staff=False)
    client = site.client("member")
    before = snapshot(site)
    for method, url, _ in [("GET", "/admin/", ""), *ROUTES]:
        response = post_form(client, url, FORM, "") if method == "POST" else client.get(url)
        assert response.status_code == 403, url
    assert snapshot(site) == before


def test_an_inactive_staff_user_cannot_sign_in(site: Site) -> None:
    site.user("gone", *ALL, active=False)
    client = site.client()
    response = client.post("/auth/login", data={"login": "gone", "password": "plum-tree-in-may-7"})
    assert response.status_code != 303
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(("method", "url", "needed"), ROUTES)
def test_each_route_needs_its_permission(site: Site, method: str, url: str, needed: str) -> None:
    seed(site)
    # "change" lets a user see too (as in Django), so the pages that need "view" lack both.
    lacking = ("view", "change") if needed == "view" else (needed,)
    others = [p for p in ALL if not p.startswith(lacking)]
    site.user("limited", *others)
    client = site.client("limited")
    before = snapshot(site)
    response = post_form(client, url, FORM, "") if method == "POST" else client.get(url)
    assert response.status_code == 403, response.text
    assert snapshot(site) == before
    # ... and with that permission alone (view for the pages that show the object), it works.
    site.user("allowed", f"{needed}_post", *(["view_post"] if needed == "delete" else []))
    allowed = site.client("allowed")
    response = post_form(allowed, url, FORM, "") if method == "POST" else allowed.get(url)
    assert response.status_code in (200, 303, 409), (url, response.status_code)


@pytest.mark.parametrize(("name", "needed"), ACTIONS)
def test_each_action_needs_its_permission_at_each_step(site: Site, name: str, needed: str) -> None:
    seed(site)
    others = [p for p in ALL if not p.startswith(needed)]
    site.user("limited", *others)
    client = site.client("limited")
    page = client.get("/admin/shop/post/")
    assert f'value="{name}"' not in page.text  # not offered...
    before = snapshot(site)
    for confirmed in ("", "1"):  # ...and refused, on the confirmation and on the run
        response = post_form(
            client,
            "/admin/shop/post/action",
            {"action": name, "_selected": ["1"], "_confirmed": confirmed},
            page.text,
        )
        assert response.status_code == 403
    assert snapshot(site) == before


def test_a_view_only_user_sees_a_read_only_form_and_a_forged_post_is_refused(site: Site) -> None:
    seed(site)
    site.user("viewer", "view_post")
    client = site.client("viewer")
    page = client.get("/admin/shop/post/1/change")
    assert page.status_code == 200
    html = page.text
    assert 'id="readonly-notice"' in html
    assert '<form method="post" action="/admin/shop/post/1/change"' not in html
    assert (
        'name="title"' not in html
        and 'id="id_title" aria-labelledby="id_title_label">Original<' in html
    )
    assert "Save" not in html.split('id="readonly-notice"')[1]
    listing = client.get("/admin/shop/post/").text
    assert 'name="_selected"' not in listing and "Add post" not in listing
    before = snapshot(site)
    for url in ("/admin/shop/post/1/change", "/admin/shop/post/1/delete", "/admin/shop/post/add"):
        assert post_form(client, url, FORM, html).status_code == 403, url
    for action in ("delete_selected", "publish"):
        forged = post_form(
            client,
            "/admin/shop/post/action",
            {"action": action, "_selected": ["1"], "_confirmed": "1"},
            html,
        )
        assert forged.status_code == 403
    assert snapshot(site) == before


def test_inline_rows_follow_the_child_models_permissions(site: Site) -> None:
    seed(site)
    site.user("editor", "view_post", "change_post", "view_comment")
    client = site.client("editor")
    page = client.get("/admin/shop/post/1/change").text
    assert 'name="inline-comment-0-body"' not in page  # view only: shown as text
    assert "inline-comment-0-DELETE" not in page and "inline-comment-1-author" not in page
    import re

    token = re.search(r'name="_version" value="([^"]*)"', page).group(1).replace("&#34;", '"')
    data = {
        "title": "Original",
        "status": "draft",
        "_version": token,
        "inline-comment-TOTAL_FORMS": "2",
        "inline-comment-INITIAL_FORMS": "1",
        "inline-comment-0-id": "1",
        "inline-comment-0-body": "hacked",
        "inline-comment-0-DELETE": "1",
        "inline-comment-1-author": "x",
        "inline-comment-1-body": "new",
    }
    assert post_form(client, "/admin/shop/post/1/change", data, page).status_code == 303
    assert site.get(Comment, 1).body == "c" and site.count(Comment) == 1


def test_the_dashboard_and_menu_show_only_what_the_user_may_see(site: Site) -> None:
    seed(site)
    site.user("viewer", "view_post")
    client = site.client("viewer")
    page = client.get("/admin/")
    assert page.status_code == 200
    assert ">Posts</a>" in page.text and "Categories" not in page.text
    assert client.get("/admin/shop/category/").status_code == 403
    assert [s["name"] for s in client.get("/admin/chart").json()["series"]] == ["Posts"]
    site.user("nobody")
    assert "You cannot see any model yet." in site.client("nobody").get("/admin/").text


def test_autocomplete_needs_view_permission_on_the_related_model(site: Site) -> None:
    seed(site)
    site.user("editor", "change_post", "view_post")
    client = site.client("editor")
    assert client.get("/admin/shop/category/autocomplete?field=category_id").status_code == 403


def test_every_admin_post_is_checked_for_csrf(site: Site) -> None:
    posts = [
        info
        for info in site.app.routes_info()
        if isinstance(info, RouteInfo) and info.name.startswith("admin.") and "POST" in info.methods
    ]
    assert len(posts) == 4
    for info in posts:
        assert info.extra.get("csrf_required") is True, info.path


def test_a_post_without_the_csrf_token_is_refused_on_every_route(site: Site) -> None:
    seed(site)
    site.user("boss", superuser=True)
    client = site.client("boss")
    before = snapshot(site)
    for url, data in [
        ("/admin/shop/post/add", {"title": "New", "status": "draft"}),
        ("/admin/shop/post/1/change", {**FORM}),
        ("/admin/shop/post/1/delete", {}),
        (
            "/admin/shop/post/action",
            {"action": "delete_selected", "_selected": ["1"], "_confirmed": "1"},
        ),
    ]:
        response = client.post(url, data=data)  # no token: as a cross-site form would
        assert response.status_code == 403, url
        forged = client.post(url, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403, url
    assert snapshot(site) == before
    # The same request with the page's token goes through.
    assert post_form(client, "/admin/shop/post/1/delete", {}).status_code == 303
