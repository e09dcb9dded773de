"""The ModelAdmin options not covered elsewhere, each through the pages it changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from carboy.admin import Admin, ModelAdmin
from tests.admin.conftest import Category, Post, Site, Tag, post_form


def site_with(make_site: Any, model: type, admin_class: type[ModelAdmin], **options: Any) -> Site:
    admin = Admin(**options)
    admin.register(model, admin_class)
    admin.register(Category)
    site: Site = make_site(admin=admin, register=False)
    site.user("boss", superuser=True)
    return site


def test_list_display_links_per_page_and_no_delete_action(make_site: Any) -> None:
    class Posts(ModelAdmin):
        list_display = ["title", "rating"]
        list_display_links = ["rating"]
        per_page = 2
        actions_delete = False

    site = site_with(make_site, Post, Posts)
    site.add(*[Post(title=f"p{i}", rating=i) for i in range(3)])
    html = site.client("boss").get("/admin/shop/post/").text
    assert '<td><a href="/admin/shop/post/3/change">2</a></td>' in html  # rating links
    assert "<td>p2</td>" in html  # the title does not
    assert html.count('name="_selected"') == 0  # no action left: no checkboxes
    assert "3 posts" in html and 'href="?p=2"' in html


def test_fieldsets_exclude_and_verbose_names(make_site: Any) -> None:
    class Posts(ModelAdmin):
        verbose_name = "article"
        fieldsets = [
            ("The words", {"fields": ["title", "body"]}),
            ("State", {"fields": ["published"]}),
        ]

    class Tags(ModelAdmin):
        exclude = ["name"]

    site = site_with(make_site, Post, Posts)
    page = site.client("boss").get("/admin/shop/post/add").text
    assert "<title>Add article · Administration</title>" in page
    assert "<legend>The words</legend>" in page and "<legend>State</legend>" in page
    assert 'name="rating"' not in page and 'name="title"' in page
    assert page.index("<legend>The words</legend>") < page.index('name="published"')
    other = site_with(make_site, Tag, Tags)
    assert 'name="name"' not in other.client("boss").get("/admin/shop/tag/add").text


def test_get_queryset_narrows_every_page(make_site: Any) -> None:
    class PublishedOnly(ModelAdmin):
        def get_queryset(self, request: Any) -> Any:
            return super().get_queryset(request).where(Post.published)

    site = site_with(make_site, Post, PublishedOnly)
    site.add(Post(title="out", published=True), Post(title="draft", published=False))
    client = site.client("boss")
    listing = client.get("/admin/shop/post/").text
    assert ">out</a>" in listing and "draft" not in listing
    assert "draft" not in client.get("/admin/shop/post/export.csv").text
    for url in ("/admin/shop/post/2/change", "/admin/shop/post/2/delete"):
        assert client.get(url).status_code == 404, url
    response = post_form(
        client, "/admin/shop/post/action", {"action": "delete_selected", "_selected": ["2"]}
    )
    assert response.status_code == 404
    assert site.count(Post) == 2


def test_templates_are_overridden_per_model_and_per_admin(make_site: Any) -> None:
    class Tags(ModelAdmin):
        change_form_template = "mine/tag_form.html"

    site = site_with(make_site, Tag, Tags)
    folder = site.templates
    (folder / "admin" / "shop" / "tag").mkdir(parents=True, exist_ok=True)
    (folder / "mine").mkdir(parents=True, exist_ok=True)
    (folder / "admin" / "shop" / "tag" / "change_list.html").write_text(
        '{% extends "admin/change_list.html" %}'
        '{% block content %}<p id="custom">Our tags</p>{{ super() }}{% endblock %}'
    )
    (folder / "mine" / "tag_form.html").write_text(
        '{% extends "admin/change_form.html" %}'
        '{% block content %}<p id="mine">My form</p>{{ super() }}{% endblock %}'
    )
    client = site.client("boss")
    assert '<p id="custom">Our tags</p>' in client.get("/admin/shop/tag/").text
    assert '<p id="custom">' not in client.get("/admin/shop/category/").text
    assert '<p id="mine">My form</p>' in client.get("/admin/shop/tag/add").text


def test_saving_and_adding_another_and_the_counts_shown(site: Site) -> None:
    site.user("boss", superuser=True)
    client = site.client("boss")
    response = post_form(client, "/admin/shop/tag/add", {"name": "a", "_addanother": "1"})
    assert response.headers["location"] == "/admin/shop/tag/add"
    with site.db.session() as session:
        assert session.scalars(select(Tag.name)).all() == ["a"]
