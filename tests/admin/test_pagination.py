"""Large tables: the list never counts them, and pages by keyset (or offset) without a total."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import text

from carboy.admin import Admin
from tests.admin.conftest import Post, Site, post_form
from tests.admin.test_list import titles

ROWS = 230
LIMIT = 50


def big_site(make_site: object) -> Site:
    site: Site = make_site(admin=Admin(count_limit=LIMIT))  # type: ignore[operator]
    site.user("boss", superuser=True)
    # Titles repeat (ties the keyset must break by the key); ratings are partly empty.
    site.add(*[Post(title=f"t{i % 40:02}", rating=None if i % 3 else i) for i in range(ROWS)])
    if site.db.url.get_backend_name() == "postgresql":
        with site.db.engine.begin() as connection:
            connection.execute(text("ANALYZE adm_post"))
    return site


def counts(statements: list[str], table: str = "adm_post") -> list[str]:
    """The counting statements over ``table`` (the dashboard counts the small tables)."""
    return [s for s in statements if "count(" in s.lower() and table in s]


def walk(client: object, url: str, *, backwards: bool = False) -> list[str]:
    """Every title, following the next (or previous) links from ``url``."""
    seen: list[str] = []
    pages = 0
    while url and pages < 100:
        page = client.get(url)  # type: ignore[attr-defined]
        assert page.status_code == 200, page.text
        found = titles(page.text)
        seen = found + seen if backwards else seen + found
        rel = "prev" if backwards else "next"
        link = re.search(rf'<a href="([^"]+)" rel="{rel}">', page.text)
        url = "/admin/shop/post/" + html_lib.unescape(link.group(1)) if link else ""
        pages += 1
    return seen


def test_a_large_table_is_never_counted(make_site: object) -> None:
    site = big_site(make_site)
    client = site.client("boss")
    statements = site.capture()
    for url in (
        "/admin/shop/post/",
        "/admin/shop/post/?q=t1",
        "/admin/shop/post/?published=0",
        "/admin/shop/post/?o=title",
        "/admin/shop/post/?o=-rating",
        "/admin/",
    ):
        statements.clear()
        page = client.get(url)
        assert page.status_code == 200, url
        assert counts(statements) == [], (url, counts(statements))
    listing = client.get("/admin/shop/post/").text
    assert "About" in listing and "(estimated)" in listing
    assert 'rel="next"' in listing and 'aria-current="page"' not in listing.split("pagination")[-1]
    dashboard = client.get("/admin/").text
    assert "≈" in dashboard


def test_keyset_pages_cover_every_row_once_forward_and_back(make_site: object) -> None:
    site = big_site(make_site)
    client = site.client("boss")
    for order in ("", "?o=title", "?o=-title"):
        forward = walk(client, "/admin/shop/post/" + order)
        assert len(forward) == ROWS, order
        page = client.get("/admin/shop/post/" + order).text
        assert "after=" in page  # a keyset link, not a page number
    # From the last page back to the first by the previous links: the same rows, in order.
    url = "/admin/shop/post/?o=title"
    last = url
    while True:
        page = client.get(last).text
        link = re.search(r'<a href="([^"]+)" rel="next">', page)
        if not link:
            break
        last = "/admin/shop/post/" + html_lib.unescape(link.group(1))
    assert walk(client, last, backwards=True) == walk(client, url)


def test_a_nullable_sort_pages_by_offset_without_a_total(make_site: object) -> None:
    site = big_site(make_site)
    client = site.client("boss")
    page = client.get("/admin/shop/post/?o=rating").text
    assert "after=" not in page and "p=2" in page
    assert len(walk(client, "/admin/shop/post/?o=rating")) == ROWS


def test_a_forged_cursor_is_a_400(make_site: object) -> None:
    site = big_site(make_site)
    client = site.client("boss")
    for bad in (
        "after=!!!",
        "after=WzEsMl0",
        "after=WyJ4Il0",
        "before=bm90IGpzb24",
        "after=WzFd&before=WzFd",
    ):
        assert client.get(f"/admin/shop/post/?{bad}").status_code == 400, bad


def test_a_small_tables_count_is_bounded(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(*[Post(title=f"p{i}") for i in range(3)])
    client = site.client("boss")
    statements = site.capture()
    client.get("/admin/shop/post/?q=p")
    found = counts(statements)
    assert found and all("LIMIT" in s.upper() for s in found)


def test_bulk_actions_work_on_a_large_table(make_site: object) -> None:
    site = big_site(make_site)
    client = site.client("boss")
    page = client.get("/admin/shop/post/").text
    response = post_form(
        client, "/admin/shop/post/action", {"action": "publish", "_selected": ["1", "2"]}, page
    )
    assert response.status_code == 303
    assert site.get(Post, 1).published and site.get(Post, 2).published
