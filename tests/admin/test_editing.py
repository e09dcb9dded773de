"""Add, change (inlines, many-to-many, autocomplete, read-only fields, conflicts),
delete with its cascade plan, bulk actions with their confirmation, and the history."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from carboy.admin import ChangeKind, LogEntry
from tests.admin.conftest import (
    Category,
    CategoryAdmin,
    Comment,
    Pin,
    Post,
    PostAdmin,
    Site,
    Status,
    Tag,
    csrf_fields,
    post_form,
)


def version(html: str) -> str:
    found = re.search(r'name="_version" value="([^"]*)"', html)
    assert found, "the form has no version"
    return found.group(1).replace("&#34;", '"').replace("&quot;", '"')


def entries(site: Site, model: str = "shop.post") -> list[LogEntry]:
    with site.db.session() as session:
        found = session.scalars(
            select(LogEntry).where(LogEntry.model == model).order_by(LogEntry.id)
        )
        return [session.merge(e, load=False) for e in found.all()]


def test_add_a_post_with_tags_a_category_and_an_inline_comment(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Category(name="News"), Tag(name="python"), Tag(name="web"))
    client = site.client("boss")
    form = client.get("/admin/shop/post/add")
    assert form.status_code == 200
    html = form.text
    assert '<label for="id_title">Title' in html
    assert 'name="tags" multiple' in html and ">python</option>" in html
    assert 'role="combobox"' in html  # the category is an autocomplete
    assert 'name="inline-comment-0-author"' in html
    response = post_form(
        client,
        "/admin/shop/post/add",
        {
            "title": "Hello",
            "body": "some words here",
            "published": "1",
            "status": "live",
            "rating": "5",
            "category_id": "1",
            "tags": ["1", "2"],
            "inline-comment-TOTAL_FORMS": "1",
            "inline-comment-INITIAL_FORMS": "0",
            "inline-comment-0-author": "ann",
            "inline-comment-0-body": "first!",
        },
        html,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/shop/post/"
    with site.db.session() as session:
        post = session.scalars(select(Post)).one()
        assert (post.title, post.published, post.status, post.rating) == (
            "Hello",
            True,
            Status.LIVE,
            5,
        )
        assert post.category is not None and post.category.name == "News"
        assert sorted(t.name for t in post.tags) == ["python", "web"]
        comment = session.scalars(select(Comment)).one()
        assert (comment.post_id, comment.author, comment.body) == (post.id, "ann", "first!")
    [entry] = entries(site)
    assert (
        entry.kind is ChangeKind.ADD and entry.user_name == "boss" and entry.object_repr == "Hello"
    )
    assert "Added comment" in entry.message
    assert "Added post “Hello”." in client.get("/admin/shop/post/").text  # the flash message


def test_bad_values_are_shown_next_to_their_fields_and_nothing_is_saved(site: Site) -> None:
    site.user("boss", superuser=True)
    client = site.client("boss")
    response = post_form(
        client,
        "/admin/shop/post/add",
        {"title": "", "rating": "many", "status": "gone", "category_id": "99", "tags": ["x"]},
    )
    assert response.status_code == 422
    html = response.text  # the messages are carboy.forms' (pydantic's)
    assert "This field is required." in html
    assert "Input should be a valid integer" in html
    assert "Input should be &#39;draft&#39;, &#39;review&#39; or &#39;live&#39;" in html
    assert 'aria-invalid="true" aria-describedby="id_title_errors"' in html
    assert 'value="many"' in html  # what was typed is kept
    # A category that does not exist is refused once the rest is right.
    response = post_form(
        client, "/admin/shop/post/add", {"title": "T", "status": "draft", "category_id": "99"}
    )
    assert response.status_code == 422
    assert "Select a valid choice" in response.text
    assert site.count(Post) == 0 and entries(site) == []


def test_too_long_text_is_refused(site: Site) -> None:
    site.user("boss", superuser=True)
    client = site.client("boss")
    response = post_form(client, "/admin/shop/post/add", {"title": "x" * 201})
    assert response.status_code == 422
    assert "String should have at most 200 characters" in response.text


def test_a_unique_violation_becomes_the_fields_error(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Tag(name="python"))
    client = site.client("boss")
    response = post_form(client, "/admin/shop/tag/add", {"name": "python"})
    assert response.status_code == 422
    assert "already used" in response.text
    assert site.count(Tag) == 1


def test_change_records_which_fields_changed_from_what_to_what(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Category(name="News"), Category(name="Sport"), Tag(name="python"))
    site.add(Post(title="Old title", body="b", category_id=1))
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/change")
    assert page.status_code == 200
    assert 'value="Old title"' in page.text
    assert '<div class="readonly" id="id_created_at"' in page.text  # readonly_fields
    response = post_form(
        client,
        "/admin/shop/post/1/change",
        {
            "title": "New title",
            "body": "b",
            "status": "draft",
            "category_id": "2",
            "tags": ["1"],
            "created_at": "2000-01-01T00:00:00",  # read-only: ignored
            "_version": version(page.text),
            "_continue": "1",
        },
        page.text,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/shop/post/1/change"
    post = site.get(Post, 1)
    assert post.title == "New title" and post.category_id == 2
    assert post.created_at.year != 2000
    [entry] = entries(site)
    changes = {c["field"]: (c["old"], c["new"]) for c in entry.changes}
    assert changes == {
        "title": ("Old title", "New title"),
        "category_id": ("News", "Sport"),
        "tags": ("—", "python"),
    }
    history = client.get("/admin/shop/post/1/history")
    assert history.status_code == 200
    assert "<del>Old title</del> → <ins>New title</ins>" in history.text
    assert "<dt>Category</dt>" in history.text and "boss" in history.text


def test_a_save_over_someone_elses_change_is_a_conflict_not_an_overwrite(site: Site) -> None:
    site.user("ann", superuser=True)
    site.user("bob", superuser=True)
    site.add(Post(title="First", body="b"))
    ann, bob = site.client("ann"), site.client("bob")
    ann_page = ann.get("/admin/shop/post/1/change").text
    bob_page = bob.get("/admin/shop/post/1/change").text
    fields = {"body": "b", "status": "draft"}
    saved = post_form(
        ann,
        "/admin/shop/post/1/change",
        {**fields, "title": "Ann's", "_version": version(ann_page)},
        ann_page,
    )
    assert saved.status_code == 303
    clash = post_form(
        bob,
        "/admin/shop/post/1/change",
        {**fields, "title": "Bob's", "_version": version(bob_page)},
        bob_page,
    )
    assert clash.status_code == 409
    assert "changed by someone else" in clash.text
    assert "<strong>Title</strong>: Ann&#39;s" in clash.text
    assert 'value="Bob&#39;s"' in clash.text  # Bob's input is kept
    assert site.get(Post, 1).title == "Ann's"
    # Saving again from the conflict page, with its new version, is deliberate: it wins.
    again = post_form(
        bob,
        "/admin/shop/post/1/change",
        {**fields, "title": "Bob's", "_version": version(clash.text)},
        clash.text,
    )
    assert again.status_code == 303
    assert site.get(Post, 1).title == "Bob's"


def test_a_missing_or_forged_version_is_a_conflict(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="First"))
    client = site.client("boss")
    for token in (None, "not json", "[]"):
        data = {"title": "Changed", "status": "draft"}
        if token is not None:
            data["_version"] = token
        assert post_form(client, "/admin/shop/post/1/change", data).status_code == 409
    assert site.get(Post, 1).title == "First"


def test_inline_rows_are_changed_added_and_deleted(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="P"))
    site.add(Comment(post_id=1, author="a", body="one"), Comment(post_id=1, author="b", body="two"))
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/change").text
    assert 'name="inline-comment-0-id" value="1"' in page
    data = {
        "title": "P",
        "status": "draft",
        "_version": version(page),
        "inline-comment-TOTAL_FORMS": "3",
        "inline-comment-INITIAL_FORMS": "2",
        "inline-comment-0-id": "1",
        "inline-comment-0-author": "a",
        "inline-comment-0-body": "ONE",
        "inline-comment-1-id": "2",
        "inline-comment-1-author": "b",
        "inline-comment-1-body": "two",
        "inline-comment-1-DELETE": "1",
        "inline-comment-2-author": "c",
        "inline-comment-2-body": "three",
    }
    assert post_form(client, "/admin/shop/post/1/change", data, page).status_code == 303
    with site.db.session() as session:
        rows = session.execute(select(Comment.author, Comment.body).order_by(Comment.id)).all()
    assert [tuple(r) for r in rows] == [("a", "ONE"), ("c", "three")]
    [entry] = entries(site)
    assert "Changed comment “a: ONE”." in entry.message
    assert "Deleted comment" in entry.message and "Added comment" in entry.message


def test_an_inline_row_of_another_post_is_left_alone(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="P"), Post(title="Q"))
    site.add(Comment(post_id=2, author="q", body="of Q"))
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/change").text
    data = {
        "title": "P",
        "status": "draft",
        "_version": version(page),
        "inline-comment-TOTAL_FORMS": "1",
        "inline-comment-INITIAL_FORMS": "0",
        "inline-comment-0-id": "1",
        "inline-comment-0-author": "x",
        "inline-comment-0-body": "x",
        "inline-comment-0-DELETE": "1",
    }
    response = post_form(client, "/admin/shop/post/1/change", data, page)
    assert response.status_code == 303
    assert site.get(Comment, 1).body == "of Q"  # a key the page did not show is never touched


def test_autocomplete_finds_related_objects(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Category(name="Gardening"), Category(name="Games"), Category(name="Cooking"))
    client = site.client("boss")
    found = client.get("/admin/shop/category/autocomplete?field=category_id&q=ga")
    assert found.status_code == 200
    assert 'data-label="Gardening"' in found.text and 'data-label="Games"' in found.text
    assert "Cooking" not in found.text
    assert client.get("/admin/shop/category/autocomplete?q=ga").status_code == 400
    assert "Nothing matches" in client.get("/admin/shop/category/autocomplete?field=f&q=zz").text


def test_delete_lists_what_goes_with_the_object_then_deletes(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Tag(name="python"), Category(name="News"))
    site.add(Post(title="Doomed", category_id=1))
    with site.db.transaction() as session:
        post = session.get(Post, 1)
        post.tags.append(session.get(Tag, 1))
        session.add_all(
            [Comment(post_id=1, author="a", body="c1"), Comment(post_id=1, author="b", body="c2")]
        )
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/delete")
    assert page.status_code == 200
    html = page.text
    assert "Also deleted" in html and "<strong>Comment</strong>: 2 deleted with it" in html
    assert 'href="/admin/shop/comment/1/change">a: c1</a>' in html
    assert "Post tags links" in html
    assert post_form(client, "/admin/shop/post/1/delete", {}, html).status_code == 303
    assert site.count(Post) == 0 and site.count(Comment) == 0
    assert site.count(Tag) == 1 and site.count(Category) == 1
    [entry] = entries(site)
    assert entry.kind is ChangeKind.DELETE and entry.object_repr == "Doomed"
    # The deleted object's history is still there.
    assert "Doomed" in client.get("/admin/shop/post/1/history").text


def test_deleting_a_category_empties_its_posts_key(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Category(name="News"))
    site.add(Post(title="Kept", category_id=1))
    client = site.client("boss")
    page = client.get("/admin/shop/category/1/delete").text
    assert "Left without it" in page and "<strong>Post</strong>: 1 kept, their link emptied" in page
    assert post_form(client, "/admin/shop/category/1/delete", {}, page).status_code == 303
    assert site.get(Post, 1).category_id is None


def test_a_protected_object_is_not_deleted(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="Pinned"))
    site.add(Pin(post_id=1, note="keep"))
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/delete")
    assert "cannot be deleted" in page.text and "<strong>Pin</strong>: 1 refer to it" in page.text
    assert 'id="confirm-delete"' not in page.text
    response = post_form(client, "/admin/shop/post/1/delete", {}, page.text)
    assert response.status_code == 409
    assert site.count(Post) == 1 and entries(site) == []


def test_bulk_delete_asks_first_then_deletes_the_selected(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="a"), Post(title="b"), Post(title="c"))
    site.add(Comment(post_id=1, author="x", body="y"))
    client = site.client("boss")
    listing = client.get("/admin/shop/post/?o=title").text
    assert '<option value="delete_selected">Delete the selected posts</option>' in listing
    confirm = post_form(
        client,
        "/admin/shop/post/action",
        {"action": "delete_selected", "_selected": ["1", "2"], "_back": "?o=title"},
        listing,
    )
    assert confirm.status_code == 200
    assert "Delete the selected posts: these 2 posts?" in confirm.text
    assert "<strong>Comment</strong>: 1 deleted with it" in confirm.text
    assert site.count(Post) == 3  # nothing yet
    done = post_form(
        client,
        "/admin/shop/post/action",
        {
            "action": "delete_selected",
            "_selected": ["1", "2"],
            "_confirmed": "1",
            "_back": "?o=title",
        },
        confirm.text,
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/shop/post/?o=title"
    assert site.count(Post) == 1 and site.count(Comment) == 0
    assert [e.kind for e in entries(site)] == [ChangeKind.DELETE, ChangeKind.DELETE]
    assert "Deleted 2 posts." in client.get("/admin/shop/post/").text


def test_a_custom_action_runs_on_the_selection(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="a"), Post(title="b"))
    client = site.client("boss")
    done = post_form(
        client,
        "/admin/shop/post/action",
        {"action": "publish", "_selected": ["2"]},
        client.get("/admin/shop/post/").text,
    )
    assert done.status_code == 303
    assert site.get(Post, 2).published and not site.get(Post, 1).published
    [entry] = entries(site)
    assert entry.message == "Action: Publish the selected posts"
    assert "Published 1." in client.get("/admin/shop/post/").text


def test_actions_refuse_bad_requests(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="a"))
    client = site.client("boss")
    page = client.get("/admin/shop/post/").text
    assert (
        post_form(
            client, "/admin/shop/post/action", {"action": "nope", "_selected": ["1"]}, page
        ).status_code
        == 400
    )
    assert (
        post_form(
            client, "/admin/shop/post/action", {"action": "publish", "_selected": ["x"]}, page
        ).status_code
        == 400
    )
    assert (
        post_form(
            client, "/admin/shop/post/action", {"action": "publish", "_selected": ["9"]}, page
        ).status_code
        == 404
    )
    none = post_form(client, "/admin/shop/post/action", {"action": "publish"}, page)
    assert none.status_code == 303
    assert "Select some posts first" in client.get("/admin/shop/post/").text
    # _back is a query string only, never another site
    odd = post_form(
        client,
        "/admin/shop/post/action",
        {"action": "publish", "_selected": ["1"], "_back": "//evil.example"},
        page,
    )
    assert odd.headers["location"] == "/admin/shop/post/"


def test_unknown_objects_and_models_are_404(site: Site) -> None:
    site.user("boss", superuser=True)
    client = site.client("boss")
    for url in (
        "/admin/shop/post/9/change",
        "/admin/shop/post/x/change",
        "/admin/shop/nope/",
        "/admin/shop/post/9/delete",
        "/admin/shop/post/9/history",
    ):
        assert client.get(url).status_code == 404, url


def png(width: int = 4, height: int = 3) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_is_checked_by_carboy_forms_and_stored(site: Site) -> None:
    site.user("boss", superuser=True)
    client = site.client("boss")
    page = client.get("/admin/shop/post/add").text
    assert 'enctype="multipart/form-data"' in page
    assert 'id="id_image" name="image" type="file" accept="image/png,image/jpeg' in page
    from tests.admin.conftest import csrf_fields

    fields = {"title": "With a picture", "status": "draft", **csrf_fields(page)}
    refused = client.post(
        "/admin/shop/post/add",
        data=fields,
        files={"image": ("evil.png", b"<?php system($_GET[1]); ?>", "image/png")},
    )
    assert refused.status_code == 422
    assert "image" in refused.text.lower() and site.count(Post) == 0
    assert list((site.media / "media").rglob("*.*")) == []  # nothing stored
    done = client.post(
        "/admin/shop/post/add", data=fields, files={"image": ("me.png", png(), "image/png")}
    )
    assert done.status_code == 303, done.text
    post = site.get(Post, 1)
    assert post.image and post.image.startswith("adm_post/") and post.image.endswith(".png")
    assert (site.media / "media" / post.image).read_bytes() == png()
    change = client.get("/admin/shop/post/1/change").text
    assert f'href="/media/{post.image}"' in change and "Remove it" in change
    # Saved again without a file: the image is kept; with "remove": emptied.
    data = {"title": "With a picture", "status": "draft", "_version": version(change)}
    assert post_form(client, "/admin/shop/post/1/change", data, change).status_code == 303
    assert site.get(Post, 1).image == post.image
    change = client.get("/admin/shop/post/1/change").text
    data = {**data, "_version": version(change), "image-clear": "1"}
    assert post_form(client, "/admin/shop/post/1/change", data, change).status_code == 303
    assert site.get(Post, 1).image is None


def test_a_file_stored_for_a_refused_save_is_removed(site: Site) -> None:
    site.user("boss", superuser=True)
    client = site.client("boss")
    page = client.get("/admin/shop/post/add").text
    from tests.admin.conftest import csrf_fields

    response = client.post(
        "/admin/shop/post/add",
        data={"title": "", "status": "draft", **csrf_fields(page)},  # the title is missing
        files={"image": ("me.png", png(), "image/png")},
    )
    assert response.status_code == 422
    assert [p for p in (site.media / "media").rglob("*") if p.is_file()] == []


class PostAdminThatFails(PostAdmin):
    """Writes the post, then trips the database (a duplicate tag) or raises."""

    def save_model(self, session: Any, request: Any, obj: Post, change: bool) -> None:
        super().save_model(session, request, obj, change)
        if obj.title == "raise":
            raise RuntimeError("save_model failed")
        session.add(Tag(name="taken"))  # refused at the flush: a tag of that name exists


@pytest.mark.parametrize("how", ["refused", "raises"])
@pytest.mark.parametrize("url", ["/admin/shop/post/add", "/admin/shop/post/1/change"])
def test_a_file_stored_before_the_database_refuses_the_save_is_removed(
    make_site: Any, how: str, url: str
) -> None:
    # Regression: the form stored the upload and wrote the row; the save then failed
    # later (the history, the inlines or save_model), the transaction was rolled
    # back, and the new file stayed behind with nothing pointing at it.
    from carboy.admin import Admin

    admin = Admin()
    admin.register(Post, PostAdminThatFails)
    admin.register(Category, CategoryAdmin)
    admin.register(Tag)
    site = make_site(admin=admin, register=False)
    site.user("boss", superuser=True)
    site.add(Tag(name="taken"))
    site.add(Post(title="P"))
    client = site.client("boss")
    page = client.get(url).text
    fields = {"title": "raise" if how == "raises" else "refused", "status": "draft"}
    if url.endswith("/change"):
        fields["_version"] = version(page)
    files = {"image": ("me.png", png(), "image/png")}
    outcome: Any
    try:
        outcome = client.post(url, data={**fields, **csrf_fields(page)}, files=files)
    except RuntimeError as exc:  # the test client may re-raise the handler's error
        outcome = exc
    if how == "raises":
        assert str(outcome) == "save_model failed" or outcome.status_code == 500
    else:
        assert outcome.status_code == 422, outcome.text
    assert [p for p in (site.media / "media").rglob("*") if p.is_file()] == []
    assert site.count(Post) == 1 and site.get(Post, 1).title == "P"


def test_save_model_sets_fields_saved_with_the_object(make_site: object) -> None:
    from carboy.admin import Admin, ModelAdmin

    class StampedTags(ModelAdmin):
        def save_model(self, session: object, request: object, obj: Tag, change: bool) -> None:
            obj.name = obj.name.upper()
            super().save_model(session, request, obj, change)  # type: ignore[arg-type]

    admin = Admin()
    admin.register(Tag, StampedTags)
    site = make_site(admin=admin, register=False)  # type: ignore[operator]
    site.user("boss", superuser=True)
    client = site.client("boss")
    assert post_form(client, "/admin/shop/tag/add", {"name": "quiet"}).status_code == 303
    assert site.get(Tag, 1).name == "QUIET"


def test_inline_rows_that_moved_since_the_page_was_drawn_are_not_saved(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="P"))
    site.add(Comment(post_id=1, author="a", body="one"), Comment(post_id=1, author="b", body="two"))
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/change").text
    # The rows come back in another order (as if one had been deleted and another added
    # meanwhile): the first form carries comment 2's key where comment 1's was.
    data = {
        "title": "P",
        "status": "draft",
        "_version": version(page),
        "inline-comment-TOTAL_FORMS": "2",
        "inline-comment-INITIAL_FORMS": "2",
        "inline-comment-0-id": "2",
        "inline-comment-0-author": "a",
        "inline-comment-0-body": "X",
        "inline-comment-1-id": "1",
        "inline-comment-1-author": "b",
        "inline-comment-1-body": "Y",
    }
    response = post_form(client, "/admin/shop/post/1/change", data, page)
    assert response.status_code == 422
    assert "changed since the page was drawn" in response.text
    assert site.get(Comment, 1).body == "one" and site.get(Comment, 2).body == "two"


def test_an_inflated_row_count_builds_no_more_rows_than_allowed(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="P"))
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/change").text
    data = {
        "title": "P",
        "status": "draft",
        "_version": version(page),
        "inline-comment-TOTAL_FORMS": "100000000",
        "inline-comment-INITIAL_FORMS": "0",
    }
    response = post_form(client, "/admin/shop/post/1/change", data, page)
    assert response.status_code == 422
    assert "Send at most" in response.text
    assert site.count(Comment) == 0


def test_a_submission_without_the_inlines_counts_leaves_its_rows_alone(site: Site) -> None:
    site.user("boss", superuser=True)
    site.add(Post(title="P"))
    site.add(Comment(post_id=1, author="a", body="one"))
    client = site.client("boss")
    page = client.get("/admin/shop/post/1/change").text
    assert 'name="inline-comment-TOTAL_FORMS" value="2"' in page  # one row and one blank
    data = {"title": "Q", "status": "draft", "_version": version(page)}
    assert post_form(client, "/admin/shop/post/1/change", data, page).status_code == 303
    assert site.get(Post, 1).title == "Q" and site.get(Comment, 1).body == "one"
