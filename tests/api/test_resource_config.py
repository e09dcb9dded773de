"""A resource declared wrong stops the app at declaration or start-up, saying what to change."""

from typing import Any

import pytest
from sqlalchemy import Column, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from carboy import Carboy
from carboy.api import API, CursorPagination, PageNumberPagination, Resource, generate_client
from carboy.exceptions import ConfigurationError
from tests.api.conftest import ApiBase, Post


class Pair(ApiBase):
    __table__ = Table(
        "pair",
        ApiBase.metadata,
        Column("left", Integer, primary_key=True),
        Column("right", Integer, primary_key=True),
    )


class Note(ApiBase):
    text: Mapped[str | None] = mapped_column(String(50))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"path": "posts"}, "must start with '/'"),
        ({"actions": ["list", "explode"]}, r"unknown action\(s\) \['explode'\]"),
        ({"fields": ["title", "nope"]}, r"fields names \['nope'\], which Post does not have"),
        ({"read_only": ["ghost"]}, r"read_only names \['ghost'\]"),
        ({"relations": {"author": "embedded"}}, "is 'id' or 'nested', not 'embedded'"),
        ({"filters": ["excerpt"]}, r"filters\['excerpt'\]: not a column"),
        ({"filters": {"title": ["regex"]}}, "unknown operator 'regex'"),
        ({"ordering": ["nope"]}, "ordering names 'nope', not a column"),
        ({"default_ordering": ["-nope"]}, "default ordering '-nope' is not a column"),
        ({"search": ["views"]}, "search field 'views' is not a text column"),
        ({"lookup": "title"}, "lookup 'title' is not a unique column"),
        ({"computed": {"excerpt": str}, "filters": ["excerpt"]}, "not a column"),
    ],
)
def test_bad_options_are_refused_with_the_reason(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Resource(Post, **options)


def test_models_a_resource_cannot_serve() -> None:
    with pytest.raises(ConfigurationError, match="has 2 primary-key columns"):
        Resource(Pair)
    with pytest.raises(ConfigurationError, match="is not a SQLAlchemy model"):
        Resource(dict)
    with pytest.raises(ConfigurationError, match="'text', which may be null"):
        Resource(Note, default_ordering=["text"], pagination=CursorPagination())


def test_pagination_sizes_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="size is at least 1"):
        PageNumberPagination(size=0)
    with pytest.raises(ConfigurationError, match="max_size at least size"):
        PageNumberPagination(size=20, max_size=10)


def test_two_resources_at_one_path_and_actions_after_the_build() -> None:
    api = API()
    posts = api.resource(Post, path="/posts")
    with pytest.raises(ConfigurationError, match="two resources at '/posts'"):
        api.resource(Post, path="/posts")
    app = Carboy(debug=True)
    from carboy.db import Database

    app.install(Database("sqlite:///:memory:", base=ApiBase))
    app.install(api)
    app.build()
    with pytest.raises(ConfigurationError, match="add actions before the app builds"):
        posts.action("late")
    assert api.app is app


def test_a_detail_action_needs_a_parameter_for_the_object() -> None:
    api = API()
    posts = api.resource(Post, path="/posts")

    @posts.action("ping")
    async def ping() -> None:
        return None

    app = Carboy(debug=True)
    from carboy.db import Database

    app.install(Database("sqlite:///:memory:", base=ApiBase))
    app.install(api)
    with pytest.raises(ConfigurationError, match="its first parameter receives the object"):
        app.build()


def test_the_client_generator_maps_json_schema_types() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Kinds", "version": "1"},
        "paths": {
            "/things/{thing-id}": {
                "post": {
                    "operationId": "class",
                    "parameters": [
                        {
                            "name": "thing-id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {"name": "X-Mode", "in": "header", "schema": {"enum": ["a", "b"]}},
                    ],
                    "requestBody": {
                        "content": {
                            "application/x-www-form-urlencoded": {"schema": {"type": "object"}}
                        }
                    },
                    "responses": {"200": {"content": {"image/png": {}}}},
                }
            }
        },
        "components": {
            "schemas": {
                "Kinds": {
                    "type": "object",
                    "properties": {
                        "num": {"type": "number"},
                        "flag": {"type": ["boolean", "null"]},
                        "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "const": {"const": "x"},
                        "raw": {"type": "string", "format": "binary"},
                        "either": {
                            "oneOf": [{"$ref": "#/components/schemas/Kinds"}, {"type": "null"}]
                        },
                        "anything": {},
                    },
                    "required": ["num"],
                },
                "Mode": {"enum": ["on", "off"]},
            }
        },
    }
    source = generate_client(document)
    assert "'num': 'float'" in source
    assert "'flag': NotRequired['bool | None']" in source
    assert "'map': NotRequired['dict[str, int]']" in source
    assert "'const': NotRequired[\"Literal['x']\"]" in source
    assert "'raw': NotRequired['bytes']" in source
    assert "'either': NotRequired['Kinds | None']" in source
    assert "'anything': NotRequired['Any']" in source
    assert "Mode: TypeAlias = \"Literal['on', 'off']\"" in source
    assert "def class_(self, thing_id: str, body: dict[str, Any] | None = None" not in source
    assert "def class_(self, thing_id: str, *, x_mode: Literal['a', 'b'] | None = None" in source
    assert "-> bytes:" in source and "return response.content" in source
    compile(source, "kinds_client.py", "exec")
