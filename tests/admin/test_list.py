"""The list page: columns, search, filters, sorting, pagination; the dashboard and its chart."""

from __future__ import annotations

import datetime as dt
import re

from tests.admin.conftest import Category, Post, Site, Status, Tag


def titles(html: str) -> list[str]:
    """The post titles of a list page, in order (the first column links to each post)."""
    return re.findall(r'<td><a href="/admin/shop/post/\d+/change">([^<]*)</a></td>', html)


def test_the_list_shows_every_column_with_computed_ones(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Category(name="News"))
    site.add(Post(title="Hello", body="one two three", category_id=1, status=Status.LIVE, rating=4))
    page = site.client("boss").get("/admin/shop/post/")
    assert page.status_code == 200
    html = page.text
    for header in ("Title", "Published", "Status", "Category", "Words", "Rating"):
        assert f">{header}" in html
    assert ">Hello</a>" in html
    assert "<td>3</td>" in html  # the computed column: three words
    assert "<td>News</td>" in html  # the foreign key shows the related object
    assert "<td>Live</td>" in html  # the enum's label
    assert "1 post</p>" in html.replace("\n", "").replace("  ", "")


def test_search_looks_in_every_search_field_word_by_word(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(
        Post(title="Apples and pears", body="fruit"),
        Post(title="Bananas", body="yellow fruit"),
        Post(title="Cars", body="100% metal_work"),
    )
    client = site.client("boss")
    assert sorted(titles(client.get("/admin/shop/post/?q=fruit").text)) == [
        "Apples and pears",
        "Bananas",
    ]
    assert titles(client.get("/admin/shop/post/?q=fruit+yellow").text) == ["Bananas"]
    assert titles(client.get("/admin/shop/post/?q=APPLES").text) == ["Apples and pears"]
    # LIKE wildcards are searched for as text
    assert titles(client.get("/admin/shop/post/?q=100%25").text) == ["Cars"]
    assert titles(client.get("/admin/shop/post/?q=_").text) == ["Cars"]
    assert client.get("/admin/shop/post/?q=" + "x" * 201).status_code == 400


def test_filters_by_boolean_choice_date_and_foreign_key(site: Site) -> None:
    site.user("boss", superuser=True)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    site.add(Category(name="News"), Category(name="Sport"))
    site.add(
        Post(title="A", published=True, status=Status.LIVE, category_id=1),
        Post(title="B", published=False, status=Status.DRAFT, category_id=2),
        Post(title="C", published=True, status=Status.REVIEW, created_at=old),
    )
    client = site.client("boss")
    base = "/admin/shop/post/"
    assert sorted(titles(client.get(base + "?published=1").text)) == ["A", "C"]
    assert titles(client.get(base + "?published=0").text) == ["B"]
    assert titles(client.get(base + "?status=REVIEW").text) == ["C"]
    assert sorted(titles(client.get(base + "?created_at=year").text)) == ["A", "B"]
    assert sorted(titles(client.get(base + "?created_at=7d").text)) == ["A", "B"]
    assert titles(client.get(base + "?category_id=2").text) == ["B"]
    assert titles(client.get(base + "?category_id=__none__").text) == ["C"]
    assert titles(client.get(base + "?published=1&category_id=1").text) == ["A"]
    page = client.get(base)
    assert "By published" in page.text and "By category" in page.text
    assert ">Sport</a>" in page.text  # the FK filter lists the categories
    for bad in (
        "?published=maybe",
        "?status=GONE",
        "?created_at=soon",
        "?category_id=x",
        "?nope=1",
    ):
        response = client.get(base + bad)
        assert response.status_code == 400, bad


def test_sorting_by_a_column_and_back(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="b", rating=2), Post(title="a", rating=3), Post(title="c", rating=1))
    client = site.client("boss")
    assert titles(client.get("/admin/shop/post/").text) == ["c", "a", "b"]  # newest first
    page = client.get("/admin/shop/post/?o=title")
    assert titles(page.text) == ["a", "b", "c"]
    assert 'aria-sort="ascending"' in page.text
    assert 'href="?o=-title"' in page.text  # the header now flips the order
    assert titles(client.get("/admin/shop/post/?o=-title").text) == ["c", "b", "a"]
    assert titles(client.get("/admin/shop/post/?o=rating").text) == ["c", "b", "a"]
    assert titles(client.get("/admin/shop/post/?o=body").text)  # the computed column's ordering
    assert client.get("/admin/shop/post/?o=password").status_code == 400


def test_numbered_pages_on_a_small_table(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(*[Post(title=f"p{i:02}") for i in range(12)])
    client = site.client("boss")
    first = client.get("/admin/shop/post/?o=title")
    assert titles(first.text) == ["p00", "p01", "p02", "p03", "p04"]
    assert "12 posts" in first.text
    assert 'aria-current="page" class="current">1<' in first.text
    third = client.get("/admin/shop/post/?o=title&p=3")
    assert titles(third.text) == ["p10", "p11"]
    assert client.get("/admin/shop/post/?p=4").status_code == 404
    assert client.get("/admin/shop/post/?p=zero").status_code == 400


def test_an_empty_list_says_so(site: Site) -> None:
    site.user("boss", superuser=True)
    page = site.client("boss").get("/admin/shop/tag/")
    assert "No tags." in page.text


def test_default_registration_lists_the_models_fields(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Tag(name="python"))
    html = site.client("boss").get("/admin/shop/tag/").text
    assert ">Tag</th>" in html and ">Name<" in html and ">python</a>" in html


def test_the_dashboard_counts_each_model_and_the_chart_has_their_days(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(*[Post(title=f"p{i}") for i in range(3)], Tag(name="t"))
    client = site.client("boss")
    page = client.get("/admin/")
    assert page.status_code == 200
    html = page.text
    assert re.search(r"Posts</a>\s*<span class=\"count\"[^>]*>3</span>", html)
    assert 'data-chart-url="/admin/chart"' in html
    assert "admin/uplot.iife.min.js" in html
    chart = client.get("/admin/chart").json()
    assert len(chart["days"]) == 30
    posts = next(s for s in chart["series"] if s["name"] == "Posts")
    assert posts["counts"][-1] == 3 and sum(posts["counts"]) == 3
    assert {s["name"] for s in chart["series"]} == {
        "Posts",
        "Comments",
        "Users",
    }  # the dated models (date_joined)


def test_static_assets_are_served_from_the_package(site: Site) -> None:
    client = site.client()
    for path in ("admin/admin.css", "admin/admin.js", "admin/theme.js", "admin/uplot.iife.min.js"):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path
