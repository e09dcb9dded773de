"""Tests for carboy.routing._compiled: the generated matcher finds what the tree's search finds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from carboy import Carboy
from carboy.routing import PathTree, default_converters, parse_path
from carboy.routing._compiled import compile_tree
from carboy.testing import TestClient

CONVERTERS = default_converters()

#: Template segments of every kind; paths are made of the words they can match.
SEGMENTS = (
    "a",
    "b",
    "users",
    "{x}",
    "{n:int}",
    "{s:slug}",
    "{f:float}",
    "{u:uuid}",
    "{name}.{ext}",
    "v{n:int}",
)
WORDS = ("a", "b", "users", "7", "1.5", "x-y", "q.txt", "v2", "", "-", "٣", "9" * 20)


def _template(parts: list[str], rest: bool) -> str:
    # Parameter names made unique per position, so any mix of segments parses.
    named = [
        part.replace("{", "{" + f"p{index}_") if "{" in part else part
        for index, part in enumerate(parts)
    ]
    if rest:
        named.append("{tail:path}")
    return "/" + "/".join(named)


templates = st.lists(
    st.tuples(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4), st.booleans()),
    min_size=1,
    max_size=12,
)
paths = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(lambda w: "/" + "/".join(w)),
    min_size=1,
    max_size=20,
)


def _tree(specs: list[tuple[list[str], bool]]) -> PathTree[str]:
    tree: PathTree[str] = PathTree()
    for parts, rest in specs:
        path = _template(parts, rest)
        tree.insert(parse_path(path, CONVERTERS), path)
    return tree


@settings(max_examples=300, deadline=None)
@given(templates, paths)
def test_the_compiled_matcher_finds_the_first_match_of_the_search(
    specs: list[tuple[list[str], bool]], requests: list[str]
) -> None:
    tree = _tree(specs)
    tree.compile()
    for path in requests:
        first = next(iter(tree.match_all(path)), (None, {}))
        params: dict[str, Any] = {}
        assert (tree.match(path, params), params) == first, (path, tree.match.__doc__)
        walked: dict[str, Any] = {}
        assert (tree.walk(path, walked), walked) == first, path


def test_a_failed_branch_leaves_no_values_in_params() -> None:
    tree = _tree([(["{n:int}", "a"], False), (["{x}", "b"], False)])
    tree.compile()
    params: dict[str, Any] = {}
    assert tree.match("/7/b", params) == "/{p0_x}/b"
    assert params == {"p0_x": "7"}  # not the int branch's n, which failed at "b"


def test_many_static_children_dispatch_through_a_dict() -> None:
    words = [f"w{index}" for index in range(40)]
    tree: PathTree[str] = PathTree()
    for word in words:
        path = f"/{word}/{{id:int}}"
        tree.insert(parse_path(path, CONVERTERS), path)
    tree.compile()
    assert ".get(s0)" in (tree.match.__doc__ or "")
    for word in words:
        params: dict[str, Any] = {}
        assert tree.match(f"/{word}/5", params) == f"/{word}/{{id:int}}"
        assert params == {"id": 5}
    assert tree.match("/w0/x", {}) is None
    assert tree.match("/w99/5", {}) is None


def test_a_deep_tree_compiles_past_python_nesting_limits() -> None:
    # Every level a try block (slug) and two if levels: far past 20 nested blocks.
    parts = [f"{{s{index}:slug}}" for index in range(60)]
    path = "/" + "/".join(parts)
    tree: PathTree[str] = PathTree()
    tree.insert(parse_path(path, CONVERTERS), path)
    matcher = compile_tree(tree._root)
    params: dict[str, Any] = {}
    request = "/" + "/".join(f"x{index}" for index in range(60))
    assert matcher(request, params) == path
    assert params == {f"s{index}": f"x{index}" for index in range(60)}
    assert matcher(request + "/more", {}) is None


def test_the_int_converter_inlined_keeps_its_range() -> None:
    tree: PathTree[str] = PathTree()
    tree.insert(parse_path("/n/{n:int32}", CONVERTERS), "int32")
    tree.insert(parse_path("/m/{n:int}", CONVERTERS), "int")
    tree.compile()
    assert tree.match("/n/2147483647", {}) == "int32"
    assert tree.match("/n/2147483648", {}) is None
    assert tree.match("/m/9223372036854775807", {}) == "int"
    assert tree.match("/m/9223372036854775808", {}) is None
    assert tree.match("/m/٣", {}) is None  # a Unicode digit is not an ASCII digit


def test_inserting_after_compiling_goes_back_to_the_walk() -> None:
    tree: PathTree[str] = PathTree()
    tree.insert(parse_path("/a/{x}", CONVERTERS), "a")
    tree.compile()
    tree.insert(parse_path("/b/{x}", CONVERTERS), "b")
    assert tree.match("/b/1", {}) == "b"


def test_the_app_serves_its_dynamic_routes_through_the_compiled_matcher() -> None:
    app = Carboy(debug=True)

    @app.get("/users/{id:int}")
    async def user(id: int) -> dict[str, int]:
        return {"id": id}

    @app.get("/users/{name}")
    async def named(name: str) -> dict[str, str]:
        return {"name": name}

    with TestClient(app) as client:
        assert client.get("/users/7").json() == {"id": 7}
        assert client.get("/users/bob").json() == {"name": "bob"}
        assert client.get("/users/7/x").status_code == 404
    assert app._tree.match != app._tree.walk
