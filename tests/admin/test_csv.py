"""CSV export: the searched and filtered list, every row, safe in a spreadsheet; and XSS."""

from __future__ import annotations

import csv
import io
import re

import pytest

from carboy.admin import neutralize
from tests.admin.conftest import XSS, Category, Comment, Post, Site, Tag, post_form


def rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # a byte-order mark, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("plain", "plain"),
        (" =spaced", " =spaced"),
    ],
)
def test_neutralize(value: str, written: str) -> None:
    assert neutralize(value) == written


def test_export_writes_the_filtered_rows_with_formulas_neutralized(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Category(name='=HYPERLINK("http://evil.example")'))
    site.add(
        Post(title="=1+1", body="a b", published=True, category_id=1, rating=-3),
        Post(title="@SUM(A1)", published=True),
        Post(title="+cmd", published=False),
        Post(title="-x", published=True),
        Post(title="\tlead", published=True),
    )
    client = site.client("boss")
    response = client.get("/admin/shop/post/export.csv?published=1&o=title")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="post-')
    table = rows(response.text)
    assert table[0] == ["Title", "Published", "Status", "Category", "Words", "Rating"]
    by_title = {row[0]: row for row in table[1:]}
    assert set(by_title) == {"'=1+1", "'@SUM(A1)", "'-x", "'\tlead"}  # +cmd is not published
    first = by_title["'=1+1"]
    assert first[1] == "true" and first[2] == "Draft"
    assert first[3] == '\'=HYPERLINK("http://evil.example")'  # the related object's text too
    assert first[4] == "2" and first[5] == "-3"  # numbers stay numbers
    search = rows(client.get("/admin/shop/post/export.csv?q=sum").text)
    assert [r[0] for r in search[1:]] == ["'@SUM(A1)"]


def test_export_streams_every_row_past_one_batch(site: Site) -> None:
    from carboy.admin import _views

    site.user("boss", superuser=True)
    site.add(*[Tag(name=f"t{i:04}") for i in range(_views.EXPORT_BATCH + 7)])
    table = rows(site.client("boss").get("/admin/shop/tag/export.csv").text)
    assert len(table) == 1 + _views.EXPORT_BATCH + 7
    assert len({r[0] for r in table[1:]}) == _views.EXPORT_BATCH + 7


def test_a_script_in_a_name_is_text_on_every_page_and_in_the_csv(site: Site) -> None:
    site.user(XSS, superuser=True)  # even the user's name
    site.add(Category(name=XSS), Tag(name=XSS))
    site.add(Post(title=XSS, body=XSS, category_id=1))
    site.add(Comment(post_id=1, author=XSS, body=XSS))
    client = site.client(XSS)
    page = client.get("/admin/shop/post/1/change").text
    token = re.search(r'name="_version" value="([^"]*)"', page).group(1).replace("&#34;", '"')
    saved = post_form(
        client,
        "/admin/shop/post/1/change",
        {
            "title": XSS + "!",
            "body": XSS,
            "status": "draft",
            "category_id": "1",
            "tags": ["1"],
            "_version": token,
        },
        page,
    )
    assert saved.status_code == 303
    confirm = post_form(
        client, "/admin/shop/post/action", {"action": "delete_selected", "_selected": ["1"]}, page
    )
    pages = {
        "dashboard": client.get("/admin/").text,
        "list": client.get("/admin/shop/post/").text,
        "search": client.get("/admin/shop/post/", params={"q": XSS}).text,
        "categories": client.get("/admin/shop/category/").text,
        "change": client.get("/admin/shop/post/1/change").text,
        "add": client.get("/admin/shop/post/add").text,
        "delete": client.get("/admin/shop/post/1/delete").text,
        "category delete": client.get("/admin/shop/category/1/delete").text,
        "history": client.get("/admin/shop/post/1/history").text,
        "action confirmation": confirm.text,
        "autocomplete": client.get("/admin/shop/category/autocomplete?field=c&q=script").text,
        "comment": client.get("/admin/shop/comment/1/change").text,
        "bad filter": client.get("/admin/shop/post/", params={XSS: "1"}).text,
    }
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for name, html in pages.items():
        assert XSS not in html, name
        assert "<script>alert" not in html, name
        if name != "bad filter":
            assert escaped in html, name
    csv_text = client.get("/admin/shop/post/export.csv").text
    assert XSS + "!" in csv_text  # plain text in the CSV (served as an attachment, nosniff)
