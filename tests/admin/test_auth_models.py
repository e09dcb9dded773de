"""carboy.auth's users and groups in the admin: registered by default, no password hash
on any page, permissions enforced, and turned off with ``Admin(auth_models=False)``."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from carboy.admin import Admin, GroupAdmin, UserAdmin
from carboy.auth.models import Group, User
from carboy.auth.passwords import is_usable
from tests.admin.conftest import XSS, Post, Site, post_form


def version(html: str) -> str:
    found = re.search(r'name="_version" value="([^"]*)"', html)
    assert found, "the form has no version"
    return found.group(1).replace("&#34;", '"').replace("&quot;", '"')


def user_named(site: Site, name: str) -> User:
    with site.db.session() as session:
        found = session.scalars(select(User).where(User.username == name)).one()
        session.expunge(found)
        return found


def test_users_and_groups_are_administered_by_default(site: Site) -> None:
    site.user("boss", superuser=True)
    site.user("ann", "view_post", staff=False)
    client = site.client("boss")
    dashboard = client.get("/admin/").text
    assert 'href="/admin/auth/user/"' in dashboard and 'href="/admin/auth/group/"' in dashboard
    listing = client.get("/admin/auth/user/").text
    assert "boss" in listing and "ann" in listing and ">Password<" in listing
    assert site.admin.admin_for(User).__class__ is UserAdmin
    assert site.admin.admin_for(Group).__class__ is GroupAdmin
    ann = user_named(site, "ann")
    change = client.get(f"/admin/auth/user/{ann.id}/change").text
    exported = client.get("/admin/auth/user/export.csv").text
    assert "ann" in exported
    for html in (listing, change, exported):
        assert ann.password not in html and "$argon2" not in html  # never the hash
    assert 'name="password"' not in change and 'name="username_key"' not in change


def test_a_user_is_made_staff_and_the_change_is_in_the_history(site: Site) -> None:
    site.user("boss", superuser=True)
    site.user("ann", staff=False)
    client = site.client("boss")
    ann = user_named(site, "ann")
    url = f"/admin/auth/user/{ann.id}/change"
    page = client.get(url).text
    data = {"username": "ann", "email": "ann@example.com", "is_active": "1", "is_staff": "1"}
    response = post_form(client, url, {**data, "_version": version(page)}, page)
    assert response.status_code == 303, response.text
    changed = user_named(site, "ann")
    assert changed.is_staff and changed.password == ann.password  # the hash is kept
    history = client.get(f"/admin/auth/user/{ann.id}/history").text
    assert "Is staff" in history or "is_staff" in history


def test_a_user_added_in_the_admin_cannot_sign_in_with_a_password(site: Site) -> None:
    site.user("boss", superuser=True)
    client = site.client("boss")
    page = client.get("/admin/auth/user/add").text
    response = post_form(
        client, "/admin/auth/user/add", {"username": "carl", "is_active": "1"}, page
    )
    assert response.status_code == 303, response.text
    carl = user_named(site, "carl")
    assert not is_usable(carl.password)
    visitor = site.client()
    form = visitor.get("/auth/login").text
    token = re.search(r'name="(csrf[^"]*)" value="([^"]*)"', form)
    fields = {token.group(1): token.group(2)} if token else {}
    refused = visitor.post("/auth/login", data={"login": "carl", "password": "", **fields})
    assert refused.status_code != 303


def test_signing_users_out_everywhere_is_a_bulk_action(site: Site) -> None:
    site.user("boss", superuser=True)
    site.user("ann", "view_post")
    ann_browser = site.client("ann")
    assert ann_browser.get("/admin/shop/post/").status_code == 200
    boss = site.client("boss")
    ann = user_named(site, "ann")
    done = post_form(
        boss,
        "/admin/auth/user/action",
        {"action": "end_sessions", "_selected": [str(ann.id)]},
        boss.get("/admin/auth/user/").text,
    )
    assert done.status_code == 303, done.text
    assert user_named(site, "ann").session_generation == ann.session_generation + 1
    assert ann_browser.get("/admin/shop/post/").status_code in (302, 303)  # signed out
    assert boss.get("/admin/auth/user/").status_code == 200  # boss was not selected


def test_a_group_gives_its_members_its_permissions(site: Site) -> None:
    from carboy.auth import get_permission

    site.user("boss", superuser=True)
    site.user("ann")  # staff, no permission of her own
    with site.db.session() as session:
        view_post = get_permission(session, "shop.view_post")
        assert view_post is not None
        perm_id = view_post.id
    ann_browser = site.client("ann")
    assert ann_browser.get("/admin/shop/post/").status_code == 403
    boss = site.client("boss")
    page = boss.get("/admin/auth/group/add").text
    assert 'name="permissions" multiple' in page
    response = post_form(
        boss, "/admin/auth/group/add", {"name": "readers", "permissions": [str(perm_id)]}, page
    )
    assert response.status_code == 303, response.text
    ann = user_named(site, "ann")
    url = f"/admin/auth/user/{ann.id}/change"
    page = boss.get(url).text
    with site.db.session() as session:
        group_id = session.scalars(select(Group.id).where(Group.name == "readers")).one()
    data = {
        "username": "ann",
        "email": "ann@example.com",
        "is_active": "1",
        "is_staff": "1",
        "groups": [str(group_id)],
        "_version": version(page),
    }
    assert post_form(boss, url, data, page).status_code == 303
    fresh = site.client("ann")
    assert fresh.get("/admin/shop/post/").status_code == 200


def test_users_need_the_auth_permissions_like_any_model(site: Site) -> None:
    site.user("editor", "view_post", "change_post")
    client = site.client("editor")
    assert 'href="/admin/auth/user/"' not in client.get("/admin/").text
    for url in ("/admin/auth/user/", "/admin/auth/user/add", "/admin/auth/group/"):
        assert client.get(url).status_code == 403, url
    page = client.get("/admin/shop/post/").text
    forged = post_form(client, "/admin/auth/user/add", {"username": "evil", "is_staff": "1"}, page)
    assert forged.status_code == 403
    site.user("viewer", "auth.view_user")
    viewer = site.client("viewer")
    assert viewer.get("/admin/auth/user/").status_code == 200
    assert viewer.get("/admin/auth/user/add").status_code == 403


def test_a_username_is_text_on_every_page(site: Site) -> None:
    site.user("boss", superuser=True)
    site.user(XSS, staff=False)
    client = site.client("boss")
    xss = user_named(site, XSS)
    for url in ("/admin/auth/user/", f"/admin/auth/user/{xss.id}/change", "/admin/"):
        html = client.get(url).text
        assert XSS not in html, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin/auth/user/").text


def test_auth_models_false_leaves_them_out(make_site: Any) -> None:
    admin = Admin(auth_models=False)
    admin.register(Post)
    site = make_site(admin=admin, register=False)
    site.user("boss", superuser=True)
    client = site.client("boss")
    assert client.get("/admin/auth/user/").status_code == 404
    assert 'href="/admin/auth/user/"' not in client.get("/admin/").text


def test_a_project_registers_its_own_user_admin(make_site: Any) -> None:
    class StaffOnly(UserAdmin):
        list_display = ["username", "is_staff"]

        def get_queryset(self, request: Any) -> Any:
            return super().get_queryset(request).where(User.is_staff.is_(True))

    admin = Admin()
    admin.register(User, StaffOnly)
    site = make_site(admin=admin, register=False)
    site.user("boss", superuser=True)
    site.user("outsider", staff=False)
    client = site.client("boss")
    listing = client.get("/admin/auth/user/").text
    assert "boss" in listing and "outsider" not in listing
    assert isinstance(site.admin.admin_for(User), StaffOnly)
    assert isinstance(site.admin.admin_for(Group), GroupAdmin)  # the other default stays


def test_a_user_store_of_another_kind_registers_nothing() -> None:
    from carboy import Carboy
    from carboy.admin._auth_models import auth_models_to_register
    from carboy.auth import Auth, MemoryUserStore
    from tests.admin.conftest import SECRET

    app = Carboy(secret_key=SECRET, allowed_hosts=["*"])
    app.install(Auth(users=MemoryUserStore()))
    assert auth_models_to_register(app) == {}
