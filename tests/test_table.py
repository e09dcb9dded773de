"""Tests for carboy._table: the compiled table, conflicts, Allow, reversing."""

from __future__ import annotations

import pytest

from carboy._table import RouteTable
from carboy.exceptions import ConfigurationError
from carboy.routing import NoMatchFound, default_converters, parse_path
from carboy.types import Receive, Scope, Send

CONVERTERS = default_converters()


async def ep_a(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
    pass


async def ep_b(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
    pass


def add(
    table: RouteTable,
    path: str,
    methods: set[str],
    source: str,
    *,
    name: str | None = None,
    websocket: bool = False,
    endpoint: object = ep_a,
) -> None:
    table.add(
        parse_path(path, CONVERTERS),
        endpoint,  # type: ignore[arg-type]
        methods=frozenset(methods),
        websocket=websocket,
        name=name,
        source=source,
    )


def test_static_paths_go_in_the_dict_and_dynamic_ones_in_the_tree() -> None:
    table = RouteTable()
    add(table, "/about", {"GET"}, "a.py:1")
    add(table, "/users/{id:int}", {"GET"}, "a.py:2")
    assert list(table.static) == ["/about"]
    params: dict[str, object] = {}
    entry = table.lookup("/users/3", params)
    assert entry is not None and entry.template.path == "/users/{id:int}"
    assert params == {"id": 3}
    assert table.lookup("/nowhere", {}) is None


def test_methods_of_one_path_share_an_entry() -> None:
    table = RouteTable()
    add(table, "/items", {"GET"}, "a.py:1", endpoint=ep_a)
    add(table, "/items", {"POST", "PUT"}, "a.py:9", endpoint=ep_b)
    table.finish()
    entry = table.static["/items"]
    assert entry.methods == {"GET": ep_a, "HEAD": ep_a, "POST": ep_b, "PUT": ep_b}
    assert entry.allow == "GET, HEAD, OPTIONS, POST, PUT"


def test_explicit_head_is_kept() -> None:
    table = RouteTable()
    add(table, "/x", {"GET"}, "a.py:1", endpoint=ep_a)
    add(table, "/x", {"HEAD"}, "a.py:2", endpoint=ep_b)
    table.finish()
    assert table.static["/x"].methods["HEAD"] is ep_b


def test_post_only_route_gets_no_head() -> None:
    table = RouteTable()
    add(table, "/x", {"POST"}, "a.py:1")
    table.finish()
    assert table.static["/x"].allow == "OPTIONS, POST"
    assert "HEAD" not in table.static["/x"].methods


def test_duplicate_route_names_both_places() -> None:
    table = RouteTable()
    add(table, "/items/{id:int}", {"GET"}, "users.py:12")
    with pytest.raises(ConfigurationError) as info:
        add(table, "/items/{id:int}", {"GET", "POST"}, "api.py:40")
    assert str(info.value) == (
        "Route GET '/items/{id:int}' is declared twice (users.py:12 and api.py:40)"
    )


def test_same_shape_with_different_names_is_refused() -> None:
    table = RouteTable()
    add(table, "/items/{id:int}", {"GET"}, "users.py:12")
    with pytest.raises(ConfigurationError) as info:
        add(table, "/items/{pk:int}", {"POST"}, "api.py:40")
    message = str(info.value)
    assert "'/items/{id:int}' (users.py:12)" in message
    assert "'/items/{pk:int}' (api.py:40)" in message
    assert "use the same names" in message


def test_different_converters_are_different_shapes() -> None:
    table = RouteTable()
    add(table, "/items/{id:int}", {"GET"}, "a.py:1")
    add(table, "/items/{name}", {"GET"}, "a.py:2")
    assert table.lookup("/items/abc", {}) is not None


def test_websocket_and_http_share_a_path_but_not_twice() -> None:
    table = RouteTable()
    add(table, "/live", {"GET"}, "a.py:1")
    add(table, "/live", set(), "a.py:2", websocket=True, endpoint=ep_b)
    entry = table.static["/live"]
    assert entry.websocket is ep_b
    with pytest.raises(
        ConfigurationError,
        match=r"WebSocket route '/live' is declared twice "
        r"\(a\.py:2 and b\.py:3\)",
    ):
        add(table, "/live", set(), "b.py:3", websocket=True)


def test_names_reverse_and_refuse_duplicates() -> None:
    table = RouteTable()
    add(table, "/users/{id:int}", {"GET"}, "a.py:1", name="user")
    add(table, "/users/{id:int}", {"POST"}, "a.py:2", name="user")  # same path: fine
    assert table.url_path_for("user", {"id": 4}) == "/users/4"
    with pytest.raises(ConfigurationError) as info:
        add(table, "/people/{id:int}", {"GET"}, "b.py:7", name="user")
    assert "Route name 'user' is used twice" in str(info.value)
    assert "(a.py:1)" in str(info.value) and "(b.py:7)" in str(info.value)


def test_url_path_for_query_extras_and_errors() -> None:
    table = RouteTable()
    add(table, "/users/{id:int}", {"GET"}, "a.py:1", name="users.detail")
    assert table.url_path_for("users.detail", {"id": 4, "tab": "posts", "tag": ["a", "b"]}) == (
        "/users/4?tab=posts&tag=a&tag=b"
    )
    with pytest.raises(NoMatchFound, match=r"needs parameter\(s\) id"):
        table.url_path_for("users.detail", {})
    with pytest.raises(NoMatchFound, match="is not a non-negative int"):
        table.url_path_for("users.detail", {"id": -1})
    with pytest.raises(
        NoMatchFound, match=r"No route named 'detail' \(did you mean 'users.detail'"
    ):
        table.url_path_for("detail", {})
    with pytest.raises(LookupError):
        table.url_path_for("nothing", {})


def test_mounts_longest_prefix_first_and_no_twins() -> None:
    table = RouteTable()
    table.add_mount("/api", ep_a, "a.py:1")
    table.add_mount("/api/v2", ep_b, "a.py:2")
    assert table.find_mount("/api/v2/x") == ("/api/v2", ep_b)
    assert table.find_mount("/api/v2") == ("/api/v2", ep_b)
    assert table.find_mount("/api/v3") == ("/api", ep_a)
    assert table.find_mount("/apiary") is None
    with pytest.raises(
        ConfigurationError, match=r"Mount '/api' is declared twice \(a.py:1 and c.py:5\)"
    ):
        table.add_mount("/api", ep_b, "c.py:5")
