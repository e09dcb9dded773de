"""An app with the admin over the tests' models, on SQLite and PostgreSQL, and signed-in clients.

``Site`` builds the app (Database, Auth with a fast hasher, Admin), creates
the tables, and makes users with the permissions a test names; ``client``
gives a TestClient signed in as one of them, through the real sign-in page.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from sqlalchemy import Table, event

from carboy import Carboy, Settings
from carboy.admin import Admin, Inline, ModelAdmin, action, display
from carboy.auth import Auth, PasswordHasher, get_permission, update_permissions
from carboy.auth.models import Permission, User
from carboy.auth.permissions import all_model_permissions
from carboy.db import Database, Model
from carboy.forms import Upload, UploadedImage
from carboy.testing import TestClient
from tests.admin.models import AdminTestBase, Category, Comment, Pin, Post, Status, Tag
from tests.db.conftest import backend, database_url, postgres_url  # noqa: F401  (fixtures)

SECRET = "admin-tests-secret-key-9xQ2mV7pL0aZr8TtY5uWc1"
PASSWORD = "plum-tree-in-may-7"
XSS = "<script>alert(1)</script>"


class CommentInline(Inline):
    model = Comment
    fields = ["author", "body"]
    extra = 1


@action(description="Publish the selected {plural}")
def publish(admin: ModelAdmin, request: Any, session: Any, posts: list[Post]) -> str:
    for post in posts:
        post.published = True
    return f"Published {len(posts)}."


class PostAdmin(ModelAdmin):
    list_display = ["title", "published", "status", "category", "words", "rating"]
    search_fields = ["title", "body"]
    list_filter = ["published", "status", "created_at", "category_id"]
    readonly_fields = ["created_at"]
    actions = [publish]
    inlines = [CommentInline]
    autocomplete_fields = ["category_id"]
    file_fields = {"image": Annotated[UploadedImage | None, Upload(max_size=200_000)]}
    per_page = 5

    @display(description="Words", ordering="body")
    def words(self, post: Post) -> int:
        return len(post.body.split())


class CategoryAdmin(ModelAdmin):
    search_fields = ["name"]


def battery_tables() -> list[Table]:
    """The auth and admin batteries' tables (on ``Model``), which the site needs too."""
    tables = [Model.metadata.tables["admin_log_entry"]]
    tables += [t for name, t in Model.metadata.tables.items() if name.startswith("auth_")]
    return tables


def create_tables(engine: Any) -> None:
    drop_tables(engine)
    Model.metadata.create_all(engine, tables=battery_tables())
    AdminTestBase.metadata.create_all(engine)


def drop_tables(engine: Any) -> None:
    AdminTestBase.metadata.drop_all(engine)
    Model.metadata.drop_all(engine, tables=battery_tables())


def add_permissions(db: Database) -> None:
    """The permission rows of the tests' models, as update_permissions adds ``Model``'s."""
    update_permissions(db)
    with db.transaction() as session:
        for label, codename, name in all_model_permissions(AdminTestBase):
            session.add(Permission(label=label, codename=codename, name=name))


class Site:
    """The app, its database and a way to make users."""

    def __init__(self, url: str, admin: Admin | None = None, register: bool = True) -> None:
        self.media = Path(tempfile.mkdtemp(prefix="carboy-admin-media-"))
        #: The app's own templates folder (empty: a test may override the admin's).
        self.templates = self.media / "templates"
        self.templates.mkdir()
        settings = Settings(
            secret_key=SECRET,
            allowed_hosts=["*"],
            debug=False,
            media_dir=str(self.media / "media"),
            templates_dir=str(self.templates),
        )
        self.app = Carboy(settings=settings)
        self.db = Database(url)
        self.app.install(self.db)
        self.auth = Auth(password_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        self.app.install(self.auth)
        self.admin = admin or Admin()
        if register:
            self.admin.register(Post, PostAdmin)
            self.admin.register(Category, CategoryAdmin)
            self.admin.register(Tag)
            self.admin.register(Comment)
            self.admin.register(Pin)
        self.app.install(self.admin)
        create_tables(self.db.engine)
        self.app.build()
        add_permissions(self.db)
        self.statements: list[str] = []
        self.clients: list[TestClient] = []

    def user(
        self,
        name: str,
        *perms: str,
        staff: bool = True,
        superuser: bool = False,
        active: bool = True,
    ) -> User:
        with self.db.transaction() as session:
            user = User(
                username=name,
                email=f"{name}@example.com",
                password=self.auth.hasher.hash(PASSWORD),
                is_staff=staff,
                is_superuser=superuser,
                is_active=active,
            )
            for perm in perms:
                found = get_permission(session, perm if "." in perm else f"shop.{perm}")
                if found is None:
                    raise AssertionError(f"no permission {perm}")
                user.user_permissions.append(found)
            session.add(user)
        return user

    def client(self, name: str | None = None) -> Browser:
        """A browser of its own (its own cookies), signed in as ``name`` if given.

        Every browser goes through one TestClient: one event loop, as the app's
        async engine pool belongs to one loop.
        """
        if not self.clients:
            client = TestClient(self.app, headers={"Accept": "text/html"}, follow_redirects=False)
            client.__enter__()  # the lifespan: the engines are disposed at its end
            self.clients.append(client)
        browser = Browser(self.clients[0])
        if name is not None:
            sign_in(browser, name)
        return browser

    def add(self, *objects: Any) -> None:
        with self.db.transaction() as session:
            session.add_all(objects)

    def get(self, model: type, pk: Any) -> Any:
        with self.db.session() as session:
            found = session.get(model, pk)
            if found is not None:
                session.expunge(found)
            return found

    def count(self, model: type) -> int:
        from sqlalchemy import func, select

        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def capture(self) -> list[str]:
        """Record every SQL statement the app's engines run from now on."""
        self.statements.clear()

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self.statements.append(statement)

        for engine in (self.db.engine, self.db.async_engine.sync_engine):
            event.listen(engine, "before_cursor_execute", record)
        return self.statements

    def close(self) -> None:
        for client in self.clients:
            client.__exit__(None, None, None)
        drop_tables(self.db.engine)
        self.db.engine.dispose()
        shutil.rmtree(self.media, ignore_errors=True)


class Browser:
    """One visitor: the shared TestClient with this visitor's cookies."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        self.client.cookies = self.cookies
        try:
            return self.client.request(method, url, **options)
        finally:
            self.cookies = httpx.Cookies(self.client.cookies)
            self.client.cookies = httpx.Cookies()

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)


def csrf_fields(html: str) -> dict[str, str]:
    """The hidden CSRF field of a page's form, when the app has CSRF protection."""
    found = re.search(r'<input type="hidden" name="(csrf[^"]*)" value="([^"]*)"', html)
    return {found.group(1): found.group(2)} if found else {}


def sign_in(client: Browser, name: str) -> None:
    page = client.get("/auth/login")
    response = client.post(
        "/auth/login", data={"login": name, "password": PASSWORD, **csrf_fields(page.text)}
    )
    assert response.status_code == 303, response.text


def post_form(client: Browser, url: str, data: dict[str, Any], page: str | None = None) -> Any:
    """POST ``data`` to ``url`` as a browser would, with the session's CSRF token (when the
    app checks CSRF): from ``page``, else from the sign-in page (one token per session)."""
    html = page or client.get("/auth/login").text
    return client.post(url, data={**csrf_fields(html), **data})


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:  # noqa: F811  (the fixture)
    made = Site(database_url)
    yield made
    made.close()


@pytest.fixture
def make_site(database_url: str) -> Iterator[Callable[..., Site]]:  # noqa: F811
    made: list[Site] = []

    def build(**options: Any) -> Site:
        found = Site(database_url, **options)
        made.append(found)
        return found

    yield build
    for found in made:
        found.close()


__all__ = ["XSS", "Category", "Comment", "Pin", "Post", "Site", "Status", "Tag"]
