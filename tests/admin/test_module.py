"""The Admin module: registration, what it needs, its start-up checks, its migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from carboy import Carboy, ConfigurationError
from carboy.admin import Admin, Inline, ModelAdmin
from carboy.auth import Auth
from carboy.cli import cli
from carboy.db import Database
from tests.admin.conftest import Category, Comment, Post, Site, Tag
from tests.db.conftest import fresh_database_url  # noqa: F401  (the fixture)

ADMIN_DIR = Path(__file__).resolve().parents[2] / "carboy" / "admin" / "migrations"


def test_register_as_a_decorator_replaces_the_defaults(make_site: object) -> None:
    admin = Admin()

    @admin.register(Tag)
    class TagAdmin(ModelAdmin):
        list_display = ["name"]
        verbose_name = "keyword"

    site: Site = make_site(admin=admin, register=False)  # type: ignore[operator]
    registered = admin.admin_for(Tag)
    assert isinstance(registered, TagAdmin)
    assert (registered.name, registered.name_plural, registered.key) == (
        "keyword",
        "keywords",
        "shop.tag",
    )
    site.user("boss", superuser=True)
    assert ">Keywords<" in site.client("boss").get("/admin/shop/tag/").text


def test_register_refuses_what_is_not_a_model_or_an_admin() -> None:
    admin = Admin()
    with pytest.raises(ConfigurationError, match="takes a model class"):
        admin.register("Post")  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="takes a ModelAdmin subclass"):
        admin.register(Post, object)  # type: ignore[call-overload]

    class Comments(Inline):
        model = Comment

    with pytest.raises(ConfigurationError, match="is an Inline"):
        admin.register(Comment, Comments)
    with pytest.raises(ConfigurationError, match="count_limit=0"):
        Admin(count_limit=0)


def test_the_admin_needs_a_database_and_auth(tmp_path: Path) -> None:
    app = Carboy(secret_key="x" * 40)
    app.install(Admin())
    with pytest.raises(ConfigurationError, match=r"install carboy\.db\.Database"):
        app.build()
    app = Carboy(secret_key="x" * 40)
    app.install(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    app.install(Admin())
    with pytest.raises(ConfigurationError, match=r"install carboy\.auth\.Auth"):
        app.build()


def build(tmp_path: Path, admin: Admin) -> Carboy:
    app = Carboy(secret_key="x" * 40)
    app.install(Database(f"sqlite:///{tmp_path / 'c.db'}"))
    app.install(Auth())
    app.install(admin)
    return app


@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        ({"list_display": ["title", "nope"]}, "admin.E101", "'nope'"),
        ({"search_fields": ["published"]}, "admin.E102", "'published'"),
        ({"list_filter": ["title"]}, "admin.E103", "'title' is a text field"),
        ({"list_filter": ["nope"]}, "admin.E103", "'nope'"),
        ({"ordering": ["-nope"]}, "admin.E104", "'-nope'"),
        ({"fields": ["title", "nope"]}, "admin.E105", "fields has 'nope'"),
        ({"readonly_fields": ["nope"]}, "admin.E105", "readonly_fields has 'nope'"),
        ({"autocomplete_fields": ["title"]}, "admin.E106", "not a foreign key"),
        ({"autocomplete_fields": ["category_id"]}, "admin.E106", "must be registered"),
        ({"actions": ["nope"]}, "admin.E108", "'nope'"),
    ],
)
def test_wrong_options_stop_the_app_with_a_named_check(
    tmp_path: Path, options: dict[str, object], code: str, words: str
) -> None:
    admin = Admin()
    admin.register(Post, type("PostAdmin", (ModelAdmin,), options))
    app = build(tmp_path, admin)
    with pytest.raises(ConfigurationError) as caught:
        app.build()
    assert code in str(caught.value) and words in str(caught.value)
    assert "PostAdmin(Post)" in str(caught.value)


def test_an_inline_needs_exactly_one_key_to_its_parent(tmp_path: Path) -> None:
    class Wrong(Inline):
        model = Tag  # no foreign key to Post

    admin = Admin()
    admin.register(Post, type("PostAdmin", (ModelAdmin,), {"inlines": [Wrong]}))
    with pytest.raises(ConfigurationError, match="Tag has 0 foreign keys to Post; set fk_name"):
        build(tmp_path, admin).build()


def test_a_model_with_a_composite_key_is_refused(tmp_path: Path) -> None:
    from tests.admin.models import post_tags

    class Link:
        pass

    admin = Admin()
    admin.register(Link)
    with pytest.raises(ConfigurationError, match="not a SQLAlchemy model"):
        build(tmp_path, admin).build()
    assert len(post_tags.primary_key.columns) == 2


def test_the_defaults_read_the_model(site: Site) -> None:
    admin = site.admin.admin_for(Category)
    assert admin is not None
    assert admin.get_list_display() == ["__str__", "name"]
    assert admin.get_ordering() == ["-id"]
    tag = site.admin.admin_for(Tag)
    assert tag is not None and tag.get_search_fields() == ["name"] and tag.get_list_filter() == []
    post = site.admin.admin_for(Post)
    assert post is not None and post.get_fields()[:3] == ["title", "body", "published"]
    assert "created_at" in post.get_fields()  # readonly_fields are shown
    assert post.get_date_field() == "created_at"


def test_migrate_creates_the_history_table_and_makemigrations_leaves_it_out(
    tmp_path: Path,
    fresh_database_url: str,  # noqa: F811  (the fixture)
) -> None:
    app = Carboy(secret_key="x" * 40, root=tmp_path)
    db = Database(fresh_database_url, migrations=tmp_path / "migrations")
    app.install(db)
    app.install(Auth())
    app.install(Admin())
    app.build()
    assert any(s.label == "admin" and s.directory == ADMIN_DIR for s in db.migration_sources)
    runner = CliRunner()
    result = runner.invoke(cli, ["migrate"], obj=app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "admin log entry" in result.output
    assert "admin_log_entry" in inspect(db.engine).get_table_names()
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("admin_log_entry")}
    assert {"ix_admin_log_entry_created_at", "ix_admin_log_entry_model_object_id"} <= indexes
    result = runner.invoke(cli, ["makemigrations", "--module", "admin"], obj=app)
    assert result.output.strip() == "No changes detected.", result.output
    result = runner.invoke(cli, ["migrate", "zero"], obj=app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "admin_log_entry" not in inspect(db.engine).get_table_names()
    db.engine.dispose()
