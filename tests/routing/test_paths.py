"""Tests for carboy.routing._paths: parsing templates and reversing them."""

from __future__ import annotations

import uuid

import pytest

from carboy.exceptions import ConfigurationError
from carboy.routing import default_converters, parse_path

CONVERTERS = default_converters()


# -- parse_path -----------------------------------------------------------
def test_parse_static_path() -> None:
    template = parse_path("/about/team", CONVERTERS)
    assert template.is_static
    assert template.param_names == ()
    assert [s.kind for s in template.segments] == ["static", "static"]


def test_parse_parameters_and_kinds() -> None:
    template = parse_path("/users/{id:int}/files/{name}.{ext}/{rest:path}", CONVERTERS)
    assert not template.is_static
    assert template.param_names == ("id", "name", "ext", "rest")
    assert [s.kind for s in template.segments] == ["static", "param", "static", "mixed", "rest"]
    convs = template.converters()
    assert type(convs["id"]).__name__ == "IntConverter"
    assert type(convs["name"]).__name__ == "StringConverter"
    assert type(convs["rest"]).__name__ == "PathConverter"


def test_shape_ignores_parameter_names() -> None:
    a = parse_path("/users/{id:int}/{name}.{ext}", CONVERTERS)
    b = parse_path("/users/{pk:int}/{stem}.{suffix}", CONVERTERS)
    c = parse_path("/users/{pk}/{stem}.{suffix}", CONVERTERS)
    assert a.shape == b.shape
    assert a.shape != c.shape


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("users", "must start with '/'"),
        ("/users/{1id}", "not a valid parameter name"),
        ("/users/{}", "not a valid parameter name"),
        ("/users/{id:nope}", "unknown converter 'nope'"),
        ("/a/{x}/b/{x}", "uses {x} twice"),
        ("/a/{x", "unbalanced"),
        ("/a/x}", "unbalanced"),
        ("/a/{rest:path}/b", "must be the last part"),
        ("/a/pre{rest:path}", "must fill its whole segment"),
    ],
)
def test_parse_errors_say_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_path(path, CONVERTERS)


def test_unknown_converter_message_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_path("/a/{x:nope}", CONVERTERS)
    assert "known: float, int, int32, path, slug, str, uuid" in str(info.value)


# -- format (reversing) -------------------------------------------------------
def test_format_converts_and_quotes() -> None:
    template = parse_path("/u/{id:int}/{name}/{rest:path}", CONVERTERS)
    assert template.format({"id": 3, "name": "a b?", "rest": "x y/z"}) == "/u/3/a%20b%3F/x%20y/z"


def test_format_mixed_segment_and_uuid() -> None:
    uid = uuid.UUID("5f0c6a3e-8d0b-4c8e-9a57-3f2a1b4c5d6e")
    template = parse_path("/k/{key:uuid}/{name}.{ext}", CONVERTERS)
    assert template.format({"key": uid, "name": "report", "ext": "pdf"}) == (f"/k/{uid}/report.pdf")


def test_format_refuses_bad_values() -> None:
    template = parse_path("/u/{id:int}", CONVERTERS)
    with pytest.raises(ValueError):
        template.format({"id": -3})
    with pytest.raises(KeyError):
        template.format({})
