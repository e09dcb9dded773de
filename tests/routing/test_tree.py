"""Tests for carboy.routing._tree: the tree of dynamic paths, walked and compiled."""

from __future__ import annotations

from typing import Any

from carboy.routing import PathTree, default_converters, parse_path

CONVERTERS = default_converters()


def tree_of(*paths: str) -> PathTree[str]:
    tree: PathTree[str] = PathTree()
    for path in paths:
        tree.insert(parse_path(path, CONVERTERS), path)
    return tree


def match(tree: PathTree[str], path: str) -> tuple[str | None, dict[str, Any]]:
    """What the tree walk finds, checked to be what the compiled matcher finds too."""
    params: dict[str, Any] = {}
    found = tree.walk(path, params)
    tree.compile()
    compiled: dict[str, Any] = {}
    assert (tree.match(path, compiled), compiled) == (found, params), path
    return found, params


def test_tree_matches_params_with_conversion() -> None:
    tree = tree_of("/users/{id:int}", "/users/{id:int}/posts/{slug:slug}")
    assert match(tree, "/users/12") == ("/users/{id:int}", {"id": 12})
    assert match(tree, "/users/12/posts/hi-there") == (
        "/users/{id:int}/posts/{slug:slug}",
        {"id": 12, "slug": "hi-there"},
    )
    assert match(tree, "/users/x") == (None, {})
    assert match(tree, "/users/12/posts") == (None, {})
    assert match(tree, "/users") == (None, {})


def test_static_segment_beats_parameter() -> None:
    tree = tree_of("/users/{name}", "/users/me")
    assert match(tree, "/users/me") == ("/users/me", {})
    assert match(tree, "/users/ann") == ("/users/{name}", {"name": "ann"})


def test_int_beats_str_at_the_same_position_whatever_the_order() -> None:
    for paths in (("/items/{name}", "/items/{id:int}"), ("/items/{id:int}", "/items/{name}")):
        tree = tree_of(*paths)
        assert match(tree, "/items/5") == ("/items/{id:int}", {"id": 5})
        assert match(tree, "/items/five") == ("/items/{name}", {"name": "five"})


def test_backtracking_through_params_and_static_branches() -> None:
    tree = tree_of("/a/{x:int}/b", "/a/{y}/c", "/a/static/d")
    assert match(tree, "/a/1/b") == ("/a/{x:int}/b", {"x": 1})
    # int matches "1" but the next segment fails: back up and try {y}.
    assert match(tree, "/a/1/c") == ("/a/{y}/c", {"y": "1"})
    # "static" is a static child, but only /d follows it: back up to {y}.
    assert match(tree, "/a/static/c") == ("/a/{y}/c", {"y": "static"})
    assert match(tree, "/a/static/d") == ("/a/static/d", {})
    # A failed attempt leaves no stale parameter behind.
    assert match(tree, "/a/1/zzz") == (None, {})


def test_mixed_segments() -> None:
    tree = tree_of("/files/{name}.{ext}", "/v{major:int}.{minor:int}/info")
    assert match(tree, "/files/report.pdf") == (
        "/files/{name}.{ext}",
        {"name": "report", "ext": "pdf"},
    )
    assert match(tree, "/files/archive.tar.gz") == (
        "/files/{name}.{ext}",
        {"name": "archive.tar", "ext": "gz"},
    )
    assert match(tree, "/files/noext") == (None, {})
    assert match(tree, "/v1.2/info") == ("/v{major:int}.{minor:int}/info", {"major": 1, "minor": 2})
    assert match(tree, "/vx.2/info") == (None, {})


def test_path_converter_takes_the_rest_and_loses_to_deeper_matches() -> None:
    tree = tree_of("/static/{rest:path}", "/static/css/{name}")
    assert match(tree, "/static/css/site.css") == ("/static/css/{name}", {"name": "site.css"})
    assert match(tree, "/static/img/a/b.png") == ("/static/{rest:path}", {"rest": "img/a/b.png"})
    assert match(tree, "/static/") == (None, {})


def test_empty_segments_do_not_match_str_params() -> None:
    tree = tree_of("/a/{x}/b")
    assert match(tree, "/a//b") == (None, {})
    assert match(tree, "/a/x/b") == ("/a/{x}/b", {"x": "x"})


def test_same_param_under_different_parents_shares_nothing() -> None:
    tree = tree_of("/a/{x}", "/b/{x:int}")
    assert match(tree, "/a/1") == ("/a/{x}", {"x": "1"})
    assert match(tree, "/b/1") == ("/b/{x:int}", {"x": 1})
    assert match(tree, "/b/one") == (None, {})


def test_match_all_lists_every_match_best_first() -> None:
    tree = tree_of("/u/{id:int}", "/u/{name}", "/u/{rest:path}", "/u/{stem}.{ext}")
    assert list(tree.match_all("/u/3")) == [
        ("/u/{id:int}", {"id": 3}),
        ("/u/{name}", {"name": "3"}),
        ("/u/{rest:path}", {"rest": "3"}),
    ]
    assert list(tree.match_all("/u/a.b")) == [
        ("/u/{name}", {"name": "a.b"}),
        ("/u/{stem}.{ext}", {"stem": "a", "ext": "b"}),
        ("/u/{rest:path}", {"rest": "a.b"}),
    ]
    assert list(tree.match_all("/x")) == []


def test_match_agrees_with_the_first_of_match_all() -> None:
    tree = tree_of(
        "/a/{x:int}/b", "/a/{y}/c", "/a/static/d", "/a/{z}/{rest:path}", "/f/{n}.{e}", "/f/{n:int}"
    )
    for path in (
        "/a/1/b",
        "/a/1/c",
        "/a/static/d",
        "/a/static/c",
        "/a/q/r/s",
        "/a/1",
        "/f/a.b",
        "/f/1",
        "/f/x",
        "/nothing",
    ):
        first = next(iter(tree.match_all(path)), (None, {}))
        assert match(tree, path) == first, path
