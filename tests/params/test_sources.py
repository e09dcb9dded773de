"""The request sources behind one protocol (carboy.params._sources): the registry
``compile_plan`` reads, so that a source is one class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import pytest

from carboy import Carboy, Cookie, Query, RouteInfo
from carboy.params import ParamSource
from carboy.params._sources import SOURCES, Fetch, FormSource, Source, Wanted
from carboy.settings import Settings
from carboy.testing import TestClient


class Shouting(Source):
    """A source of the test's own: the cookie's value, upper-cased."""

    def fetch(self, wanted: Wanted, path_params: Mapping[str, Any]) -> Fetch:
        key = wanted.alias or wanted.name
        return Fetch(lambda ctx: ctx.connection.cookies.get(key, "").upper(), key)


def make_app() -> Carboy:
    app = Carboy(Settings(debug=True))

    @app.get("/")
    async def show(
        flavour: Annotated[str, Cookie()], q: Annotated[str, Query()] = ""
    ) -> dict[str, str]:
        return {"flavour": flavour, "q": q}

    return app


def test_compile_plan_takes_each_source_from_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(SOURCES, ParamSource.COOKIE, Shouting())
    app = make_app()
    with TestClient(app) as client:
        client.cookies.set("flavour", "mint")
        assert client.get("/?q=x").json() == {"flavour": "MINT", "q": "x"}
        [info] = [i for i in app.routes_info() if isinstance(i, RouteInfo)]
        assert [(p.name, p.source, p.wire_name) for p in info.params] == [
            ("flavour", ParamSource.COOKIE, "flavour"),
            ("q", ParamSource.QUERY, "q"),
        ]


def test_the_built_in_sources_serve_every_request_kind() -> None:
    request_kinds = {kind for kind in ParamSource if kind.from_request}
    assert set(SOURCES) == request_kinds
    # A form's fields and files are one source: they are read from one body, in order.
    assert SOURCES[ParamSource.FORM] is SOURCES[ParamSource.FILE]
    assert isinstance(SOURCES[ParamSource.FORM], FormSource)
    assert [kind for kind, s in SOURCES.items() if s.reads_body] == [
        ParamSource.BODY,
        ParamSource.FORM,
        ParamSource.FILE,
    ]


def test_a_source_must_say_how_it_fetches() -> None:
    class Nothing(Source):
        pass

    wanted = Wanted("x", ParamSource.QUERY, str, (), "", None, None, False, "test")
    with pytest.raises(NotImplementedError, match="Nothing implements neither fetch"):
        Nothing().compile([wanted], {})


def _compile(source: Source, wanted: Sequence[Wanted]) -> list[Fetch]:
    return source.compile(wanted, {})


def test_several_json_body_parameters_are_one_key_each() -> None:
    body = SOURCES[ParamSource.BODY]
    one = Wanted("item", ParamSource.BODY, dict, (), ..., None, None, False, "test")
    two = Wanted("other", ParamSource.BODY, dict, (), ..., None, None, False, "test")
    assert [f.embed for f in _compile(body, [one])] == [False]
    assert [(f.wire_name, f.embed) for f in _compile(body, [one, two])] == [
        ("item", True),
        ("other", True),
    ]
