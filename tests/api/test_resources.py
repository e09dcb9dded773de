"""Model resources on SQLite and PostgreSQL: CRUD, schemas, pages, filters, permissions, ETags."""

import asyncio
from typing import Any

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select, text

from carboy import Carboy, Request
from carboy.api import (
    ALLOW_ANY,
    API,
    PROBLEM_JSON,
    CursorPagination,
    LimitOffsetPagination,
    ModelPermissions,
    PageNumberPagination,
)
from carboy.auth import Auth, JWTBackend, JWTKey, MemoryUserStore
from carboy.db import AsyncSession, Database
from carboy.settings import Settings
from carboy.testing import AsyncTestClient, TestClient
from tests.api.conftest import ApiBase, Author, Post, Tag, bearer

JWT_KEY = JWTKey("test", "k" * 40, "HS256")


class World:
    """An app with a posts resource, its database, and users to sign in as."""

    def __init__(self, url: str, settings: Settings | None = None, **options: Any) -> None:
        self.app = Carboy(settings or Settings(debug=True))
        self.db = Database(url, base=ApiBase)
        self.users = MemoryUserStore()
        self.jwt = JWTBackend(signing_key=JWT_KEY)
        self.api = API(prefix="/api")
        options.setdefault("path", "/posts")
        self.posts = self.api.resource(Post, **options)
        self.app.install(self.db)
        self.app.install(Auth(users=self.users, jwt=self.jwt, pages=None))
        self.app.install(self.api)

    def add(self, count: int = 1, **fields: Any) -> None:
        with self.db.transaction() as session:
            start = session.scalar(text("SELECT count(*) FROM post")) or 0
            for n in range(start, start + count):
                values = {"title": f"Post {n}", "slug": f"post-{n}", "body": f"Body of {n}"}
                session.add(Post(**(values | fields)))

    def user(self, *perms: str, **fields: Any) -> dict[str, str]:
        """The Authorization header of a new user holding ``perms``."""
        fields.setdefault("username", f"user{len(self.users)}")
        user = asyncio.run(self.users.create(password=None, **fields))
        if perms:
            asyncio.run(self.users.grant(user, *perms))
        return bearer(self.jwt.issue(user))


@pytest.fixture
def world(database_url: str) -> World:
    return World(database_url, permissions=ALLOW_ANY)


def _client(world: World) -> TestClient:
    return TestClient(world.app, raise_server_exceptions=True)


# -- CRUD -------------------------------------------------------------------------------
def test_create_retrieve_list_replace_patch_delete(world: World) -> None:
    with _client(world) as client:
        created = client.post("/api/posts", json={"title": "Hello", "slug": "hello"})
        assert created.status_code == 201, created.text
        post = created.json()
        assert created.headers["location"] == f"/api/posts/{post['id']}"
        assert created.headers["etag"].startswith('"')
        assert post["title"] == "Hello" and post["body"] == "" and post["published"] is False
        assert post["created_at"].endswith("Z")
        one = client.get(f"/api/posts/{post['id']}")
        assert one.json() == post
        assert one.headers["etag"] == created.headers["etag"]
        listed = client.get("/api/posts").json()
        assert listed["items"] == [post]
        assert (listed["count"], listed["page"], listed["pages"]) == (1, 1, 1)
        replaced = client.put(f"/api/posts/{post['id']}", json={"title": "New", "slug": "new"})
        assert replaced.status_code == 200
        assert replaced.json()["title"] == "New"
        patched = client.patch(f"/api/posts/{post['id']}", json={"views": 3})
        assert patched.json()["views"] == 3 and patched.json()["title"] == "New"
        # PUT replaces: a field not sent goes back to its default.
        again = client.put(f"/api/posts/{post['id']}", json={"title": "N", "slug": "n"}).json()
        assert again["views"] == 0
        assert client.delete(f"/api/posts/{post['id']}").status_code == 204
        missing = client.get(f"/api/posts/{post['id']}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM_JSON
        assert missing.json()["detail"] == f"Post {post['id']} not found"


def test_input_is_validated_and_unique_conflicts_are_problems(world: World) -> None:
    with _client(world) as client:
        missing = client.post("/api/posts", json={"title": "x" * 201})
        assert missing.status_code == 422
        assert missing.headers["content-type"] == PROBLEM_JSON
        fields = {e["field"]: e["type"] for e in missing.json()["errors"]}
        assert fields == {"title": "string_too_long", "slug": "missing"}
        # Read-only fields and unknown ones are refused, not silently dropped.
        extra = client.post("/api/posts", json={"title": "a", "slug": "a", "id": 9, "nope": 1})
        assert {e["field"] for e in extra.json()["errors"]} == {"id", "nope"}
        assert client.post("/api/posts", json={"title": "a", "slug": "a"}).status_code == 201
        taken = client.post("/api/posts", json={"title": "b", "slug": "a"})
        assert taken.status_code == 409
        assert taken.headers["content-type"] == PROBLEM_JSON
        assert taken.json()["errors"][0]["field"] == "slug"
        # A value the column cannot hold is a 422 on every database, never a 500.
        big = client.post("/api/posts", json={"title": "c", "slug": "c", "views": 2**40})
        assert big.status_code == 422
        nul = client.post("/api/posts", json={"title": "nul\x00", "slug": "d"})
        assert nul.status_code in (201, 422)  # PostgreSQL refuses NUL in text; SQLite keeps it
        assert nul.status_code == 422 or nul.json()["title"] == "nul\x00"


def test_schemas_read_only_write_only_computed_relations(database_url: str) -> None:
    world = World(
        database_url,
        permissions=ALLOW_ANY,
        fields=["id", "title", "slug", "secret", "excerpt", "author", "tags", "created_at"],
        write_only=["secret"],
        read_only=["slug"],
        computed={"excerpt": str},
        relations={"author": "nested", "tags": "id"},
    )
    with world.db.transaction() as session:
        author = Author(name="Ann", email="ann@example.com")
        tags = [Tag(name="a"), Tag(name="b")]
        session.add(
            Post(
                title="T",
                slug="t",
                body="A long body, longer than twenty",
                secret="s",
                author=author,
                tags=tags,
            )
        )
    with _client(world) as client:
        post = client.get("/api/posts").json()["items"][0]
        assert post == {
            "id": 1,
            "title": "T",
            "slug": "t",
            "excerpt": "A long body, longer ",
            "author": {"id": 1, "name": "Ann", "email": "ann@example.com"},
            "tags": [1, 2],
            "created_at": post["created_at"],
        }
        assert "secret" not in post  # write-only
        changed = client.patch("/api/posts/1", json={"secret": "new", "title": "U"})
        assert changed.status_code == 200 and "secret" not in changed.json()
        assert client.patch("/api/posts/1", json={"slug": "x"}).status_code == 422  # read-only
        document = client.get("/api/openapi.json").json()
        with world.db.session() as session:
            assert session.scalar(select(Post.secret)) == "new"
    validate(document)
    schemas = document["components"]["schemas"]
    assert set(schemas["Post"]["properties"]) == {
        "id",
        "title",
        "slug",
        "excerpt",
        "author",
        "tags",
        "created_at",
    }
    assert set(schemas["PostCreate"]["properties"]) == {"title", "secret"}
    assert set(schemas["PostAuthor"]["properties"]) == {"id", "name", "email"}


def test_camel_case(database_url: str) -> None:
    world = World(
        database_url,
        permissions=ALLOW_ANY,
        camel_case=True,
        filters=["author_id"],
        ordering=["created_at"],
    )
    with _client(world) as client:
        created = client.post("/api/posts", json={"title": "T", "slug": "t", "authorId": None})
        assert created.status_code == 201, created.text
        body = created.json()
        assert "createdAt" in body and "authorId" in body and "created_at" not in body
        assert (
            client.post(
                "/api/posts", json={"title": "T", "slug": "u", "author_id": None}
            ).status_code
            == 422
        )
        assert client.get("/api/posts", params={"ordering": "-createdAt"}).status_code == 200
        assert client.get("/api/posts", params={"authorId__isnull": "true"}).status_code == 400
        assert client.get("/api/posts", params={"ordering": "created_at"}).status_code == 400


# -- pagination ---------------------------------------------------------------------------
def test_page_number_pagination(database_url: str) -> None:
    world = World(
        database_url, permissions=ALLOW_ANY, pagination=PageNumberPagination(size=2, max_size=3)
    )
    world.add(5)
    with _client(world) as client:
        page = client.get("/api/posts", params={"page": 2}).json()
        assert [p["slug"] for p in page["items"]] == ["post-2", "post-3"]
        assert (page["count"], page["pages"]) == (5, 3)
        assert page["next"] == "http://testserver/api/posts?page=3&page_size=2"
        assert page["previous"] == "http://testserver/api/posts?page=1&page_size=2"
        assert len(client.get("/api/posts", params={"page_size": 3}).json()["items"]) == 3
        assert client.get("/api/posts", params={"page_size": 4}).status_code == 422
        assert client.get("/api/posts", params={"page": 9}).status_code == 404


def test_limit_offset_pagination(database_url: str) -> None:
    world = World(database_url, permissions=ALLOW_ANY, pagination=LimitOffsetPagination(size=2))
    world.add(5)
    with _client(world) as client:
        page = client.get("/api/posts", params={"offset": 3}).json()
        assert [p["slug"] for p in page["items"]] == ["post-3", "post-4"]
        assert page["next"] is None
        assert page["previous"] == "http://testserver/api/posts?offset=1&limit=2"
        assert client.get("/api/posts", params={"offset": 99}).json()["items"] == []
        assert client.get("/api/posts", params={"offset": -1}).status_code == 422


def test_cursor_pagination_walks_both_ways(database_url: str) -> None:
    world = World(
        database_url,
        permissions=ALLOW_ANY,
        default_ordering=["-views"],
        pagination=CursorPagination(size=2),
    )
    for n in range(5):
        world.add(views=n % 3)  # ties on views: the primary key orders them
    with _client(world) as client:
        seen: list[int] = []
        page = client.get("/api/posts").json()
        pages = [page]
        while page["next"]:
            page = client.get(page["next"]).json()
            pages.append(page)
        for item in pages:
            seen.extend(p["id"] for p in item["items"])
        assert len(seen) == 5 and len(set(seen)) == 5
        views = [v for item in pages for v in (p["views"] for p in item["items"])]
        assert views == sorted(views, reverse=True)
        back = client.get(pages[-1]["previous"]).json()
        assert back["items"] == pages[-2]["items"]
        assert client.get("/api/posts", params={"ordering": "views"}).status_code == 400


def test_the_page_size_is_capped_by_the_setting(database_url: str) -> None:
    settings = Settings(debug=True, api_max_page_size=3)
    world = World(
        database_url,
        settings,
        permissions=ALLOW_ANY,
        pagination=PageNumberPagination(size=20, max_size=50),
    )
    world.add(5)
    with _client(world) as client:
        assert len(client.get("/api/posts").json()["items"]) == 3  # the default size, lowered
        assert client.get("/api/posts", params={"page_size": 3}).status_code == 200
        too_many = client.get("/api/posts", params={"page_size": 4})
        assert too_many.status_code == 422
        assert "less than or equal to 3" in too_many.json()["errors"][0]["msg"]
        document = client.get("/api/openapi.json").json()
    size = next(
        p for p in document["paths"]["/api/posts"]["get"]["parameters"] if p["name"] == "page_size"
    )
    assert size["schema"]["maximum"] == 3


# -- filters, ordering, search ---------------------------------------------------------------
def test_filters_with_operators_ordering_and_search(database_url: str) -> None:
    world = World(
        database_url,
        permissions=ALLOW_ANY,
        filters={
            "published": ["exact"],
            "views": ["gte", "lt", "in"],
            "title": ["icontains", "startswith"],
            "author_id": ["isnull"],
        },
        ordering=["views", "title"],
        default_ordering=["-views"],
        search=["title", "body"],
    )
    world.add(1, views=1, published=True, title="Alpha 100%")
    world.add(1, views=5, title="beta_x")
    world.add(1, views=9, published=True, title="Gamma")

    def titles(**params: Any) -> list[str]:
        response = client.get("/api/posts", params=params)
        assert response.status_code == 200, response.text
        return [p["title"] for p in response.json()["items"]]

    with _client(world) as client:
        assert titles() == ["Gamma", "beta_x", "Alpha 100%"]
        assert titles(published="true") == ["Gamma", "Alpha 100%"]
        assert titles(views__gte=5) == ["Gamma", "beta_x"]
        assert titles(views__lt=5) == ["Alpha 100%"]
        assert titles(views__in=[1, 9]) == ["Gamma", "Alpha 100%"]
        assert titles(title__icontains="ALPHA") == ["Alpha 100%"]
        assert titles(title__startswith="be") == ["beta_x"]
        assert titles(author_id__isnull="true") == ["Gamma", "beta_x", "Alpha 100%"]
        # (how "Gamma" and "beta_x" compare is the database's collation)
        assert titles(ordering="title")[0] == "Alpha 100%"
        assert titles(ordering="-views,title") == ["Gamma", "beta_x", "Alpha 100%"]
        assert titles(search="100%") == ["Alpha 100%"]  # % is a literal, not a wildcard
        assert titles(search="a_x") == ["beta_x"]  # so is _
        assert titles(search="%") == ["Alpha 100%"]
        assert titles(search="of 2") == ["Gamma"]  # the body
        assert client.get("/api/posts", params={"views__gte": "many"}).status_code == 422


HOSTILE = [
    ("ordering=id;drop table post", 400, "ordering"),
    ("ordering=title desc", 400, "ordering"),
    ("ordering=secret", 400, "ordering"),
    ("ordering=" + "x," * 150, 422, "ordering"),
    ("unknown_field=1", 400, "unknown_field"),
    ("title__regex=.*", 400, "title__regex"),
    ("views__gte=1;delete from post", 422, "views__gte"),
    ("views__in=" + "&views__in=".join(["1"] * 101), 422, "views__in"),
    ("page_size=10000000", 422, "page_size"),
    ("page_size=0", 422, "page_size"),
    ("page=-1", 422, "page"),
    ("page=99999999999999999999999", 422, "page"),
    ("search=" + "a" * 101, 422, "search"),
]


@pytest.mark.parametrize(("query", "status", "field"), HOSTILE, ids=[q[:30] for q, _, _ in HOSTILE])
def test_hostile_query_strings_are_clear_4xx_problems(
    database_url: str, query: str, status: int, field: str
) -> None:
    world = World(
        database_url,
        permissions=ALLOW_ANY,
        filters={"views": ["gte", "in"], "title": ["icontains"]},
        ordering=["views", "title"],
        search=["title"],
    )
    world.add(3)
    with _client(world) as client:
        response = client.get("/api/posts?" + query)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        body = response.json()
        assert body["status"] == status and body["detail"]
        assert field in {e["field"] for e in body["errors"]}
        assert "SELECT" not in response.text.upper() and "SQL" not in response.text.upper()
        assert len(client.get("/api/posts").json()["items"]) == 3  # the table is still there


@pytest.mark.parametrize("query", ["offset=-1", "offset=-99999999999999999999", "limit=-5"])
def test_negative_offsets_and_limits(database_url: str, query: str) -> None:
    world = World(database_url, permissions=ALLOW_ANY, pagination=LimitOffsetPagination())
    with _client(world) as client:
        response = client.get("/api/posts?" + query)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    "cursor",
    ["forged", "eyJ2IjpbMV0sImIiOmZhbHNlfQ", "a" * 1001, "%00", "__", "eyJ2IjpbXX0.bad.sig"],
)
def test_a_forged_cursor_is_a_400(database_url: str, cursor: str) -> None:
    world = World(database_url, permissions=ALLOW_ANY, pagination=CursorPagination(size=1))
    world.add(3)
    with _client(world) as client:
        response = client.get("/api/posts", params={"cursor": cursor})
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["errors"][0]["field"] == "cursor"
        # A real cursor with one character changed does not verify either.
        real = client.get("/api/posts").json()["next"].split("cursor=")[1].split("&")[0]
        tampered = real[:-2] + ("A" if real[-2] != "A" else "B") + real[-1]
        assert client.get("/api/posts", params={"cursor": tampered}).status_code == 400


def test_a_cursor_of_another_resource_does_not_verify(database_url: str) -> None:
    world = World(database_url, permissions=ALLOW_ANY, pagination=CursorPagination(size=1))
    other = world.api.resource(
        Post, path="/others", pagination=CursorPagination(size=1), permissions=ALLOW_ANY
    )
    assert other.path == "/others"
    world.add(3)
    with _client(world) as client:
        mine = client.get("/api/posts").json()["next"]
        assert client.get(mine.replace("/api/posts", "/api/others")).status_code == 400


# -- permissions ------------------------------------------------------------------------------
def test_model_permissions_per_action(database_url: str) -> None:
    world = World(database_url)  # ModelPermissions(): reads open, writes need blog.*_post
    world.add(1)
    writer = world.user("blog.add_post", "blog.change_post")
    reader = world.user()
    with _client(world) as client:
        assert client.get("/api/posts").status_code == 200
        assert client.get("/api/posts/1").status_code == 200
        anonymous = client.post("/api/posts", json={"title": "a", "slug": "a"})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == PROBLEM_JSON
        assert (
            client.post("/api/posts", json={"title": "a", "slug": "a"}, headers=reader).status_code
            == 403
        )
        assert (
            client.post("/api/posts", json={"title": "a", "slug": "a"}, headers=writer).status_code
            == 201
        )
        assert client.patch("/api/posts/1", json={"views": 1}, headers=reader).status_code == 403
        assert client.patch("/api/posts/1", json={"views": 1}, headers=writer).status_code == 200
        assert client.delete("/api/posts/1", headers=writer).status_code == 403
        document = client.get("/api/openapi.json").json()
    validate(document)
    paths = document["paths"]
    assert "security" not in paths["/api/posts"]["get"]
    assert paths["/api/posts"]["post"]["security"][0] == {"session": [], "csrfToken": []}
    assert "blog.add_post" in paths["/api/posts"]["post"]["description"]
    assert {"401", "403", "412", "409"} <= set(paths["/api/posts/{id}"]["patch"]["responses"])


def test_read_permission_and_the_object_permission_hook(database_url: str) -> None:
    world = World(database_url, permissions=ModelPermissions(read=True))
    world.add(2)
    # The hook: only the post with id 1 may be changed by users named "owner", whatever
    # their model-level permissions.
    world.users.object_permissions = lambda user, perm, obj: (
        (obj.id == 1 and user.username == "owner") or None
    )
    owner = world.user(username="owner")
    viewer = world.user("blog.view_post")
    with _client(world) as client:
        assert client.get("/api/posts").status_code == 401
        assert client.get("/api/posts", headers=viewer).status_code == 200
        assert client.get("/api/posts/2", headers=owner).status_code == 403
        assert client.patch("/api/posts/1", json={"views": 2}, headers=owner).status_code == 200
        assert client.patch("/api/posts/2", json={"views": 2}, headers=owner).status_code == 403


def test_custom_actions(database_url: str) -> None:
    world = World(database_url)
    world.add(2)

    @world.posts.action("publish", permission="blog.change_post")
    async def publish(post: Post) -> Post:
        """Publish a post."""
        post.published = True
        return post

    @world.posts.action("stats", methods=["GET"], detail=False)
    async def stats(session: AsyncSession, request: Request) -> dict[str, int]:
        return {"posts": len((await session.scalars(select(Post))).all())}

    editor = world.user("blog.change_post")
    with _client(world) as client:
        assert client.post("/api/posts/1/publish").status_code == 401
        published = client.post("/api/posts/1/publish", headers=editor)
        assert published.status_code == 200 and published.json()["published"] is True
        assert "etag" in published.headers
        assert client.post("/api/posts/99/publish", headers=editor).status_code == 404
        assert client.get("/api/posts/stats").json() == {"posts": 2}
        document = client.get("/api/openapi.json").json()
    validate(document)
    assert document["paths"]["/api/posts/{id}/publish"]["post"]["summary"] == "Publish a post."
    assert document["paths"]["/api/posts/stats"]["get"]["operationId"] == "posts_stats"


def test_queryset_limits_every_action(database_url: str) -> None:
    world = World(
        database_url,
        permissions=ALLOW_ANY,
        queryset=lambda request: select(Post).where(Post.published),
    )
    world.add(1, published=True)
    world.add(1)
    with _client(world) as client:
        assert [p["id"] for p in client.get("/api/posts").json()["items"]] == [1]
        assert client.get("/api/posts/2").status_code == 404
        assert client.patch("/api/posts/2", json={"views": 1}).status_code == 404


# -- ETags ----------------------------------------------------------------------------------------
def test_if_match_and_if_none_match(database_url: str) -> None:
    world = World(database_url, permissions=ALLOW_ANY)
    world.add(1)
    with _client(world) as client:
        etag = client.get("/api/posts/1").headers["etag"]
        assert client.get("/api/posts/1", headers={"if-none-match": etag}).status_code == 304
        changed = client.patch("/api/posts/1", json={"views": 1}, headers={"if-match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        stale = client.patch("/api/posts/1", json={"views": 2}, headers={"if-match": etag})
        assert stale.status_code == 412
        assert stale.headers["content-type"] == PROBLEM_JSON
        assert stale.headers["etag"] == changed.headers["etag"]
        assert client.delete("/api/posts/1", headers={"if-match": etag}).status_code == 412
        assert client.get("/api/posts/1").json()["views"] == 1  # the other write is kept
        assert (
            client.patch("/api/posts/1", json={"views": 3}, headers={"if-match": "*"}).status_code
            == 200
        )


def test_require_if_match(database_url: str) -> None:
    world = World(database_url, permissions=ALLOW_ANY, require_if_match=True)
    world.add(1)
    with _client(world) as client:
        assert client.patch("/api/posts/1", json={"views": 1}).status_code == 428
        etag = client.get("/api/posts/1").headers["etag"]
        assert (
            client.patch("/api/posts/1", json={"views": 1}, headers={"if-match": etag}).status_code
            == 200
        )


@pytest.mark.anyio
async def test_concurrent_patches_with_one_etag_one_wins_one_gets_412(database_url: str) -> None:
    world = World(database_url, permissions=ALLOW_ANY)
    world.add(1)
    async with AsyncTestClient(world.app) as client:
        etag = (await client.get("/api/posts/1")).headers["etag"]
        for round in range(3):
            first, second = await asyncio.gather(
                client.patch(
                    "/api/posts/1", json={"title": f"A{round}"}, headers={"if-match": etag}
                ),
                client.patch(
                    "/api/posts/1", json={"title": f"B{round}"}, headers={"if-match": etag}
                ),
            )
            statuses = sorted([first.status_code, second.status_code])
            assert statuses == [200, 412], (first.text, second.text)
            winner = first if first.status_code == 200 else second
            kept = await client.get("/api/posts/1")
            assert kept.json()["title"] == winner.json()["title"]  # the winner's write is kept
            assert kept.headers["etag"] == winner.headers["etag"]
            etag = winner.headers["etag"]
