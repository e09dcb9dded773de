"""Tests for carboy.routing._converters: the built-in converters and user-defined ones."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from carboy import Carboy
from carboy.exceptions import ConfigurationError
from carboy.routing import (
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
    default_converters,
)
from carboy.testing import TestClient

UID = "5f0c6a3e-8d0b-4c8e-9a57-3f2a1b4c5d6e"


# -- each converter on its own ------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("7", 7), ("0042", 42), ("123456789", 123456789)]
)
def test_int_accepts_ascii_digits(text: str, value: int) -> None:
    assert IntConverter().to_python(text) == value


@pytest.mark.parametrize(
    "text", ["-1", "+1", "١٢", "１２", "1.0", "1e3", " 1", "1 ", "", "0x10", "1_000"]
)
def test_int_rejects_anything_but_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError):
        IntConverter().to_python(text)


def test_int_to_url() -> None:
    conv = IntConverter()
    assert conv.to_url(12) == "12"
    for bad in (-1, True, "3", 1.5):
        with pytest.raises(ValueError):
            conv.to_url(bad)


@pytest.mark.parametrize(("text", "value"), [("3", 3.0), ("3.5", 3.5), ("0.25", 0.25)])
def test_float_accepts_plain_decimals(text: str, value: float) -> None:
    assert FloatConverter().to_python(text) == value


@pytest.mark.parametrize(
    "text", ["-1.5", "+1", "nan", "inf", "1e5", ".5", "5.", "١.٢", "1.2.3", ""]
)
def test_float_rejects_other_spellings(text: str) -> None:
    with pytest.raises(ValueError):
        FloatConverter().to_python(text)


def test_float_to_url() -> None:
    conv = FloatConverter()
    assert conv.to_url(2.5) == "2.5"
    assert conv.to_url(3) == "3.0"
    for bad in (-0.5, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            conv.to_url(bad)


def test_uuid_accepts_canonical_form_any_case() -> None:
    conv = UUIDConverter()
    assert conv.to_python(UID) == uuid.UUID(UID)
    assert conv.to_python(UID.upper()) == uuid.UUID(UID)


@pytest.mark.parametrize(
    "text",
    [
        UID.replace("-", ""),  # no hyphens
        "{" + UID + "}",
        "urn:uuid:" + UID,
        UID[:-1],
        UID + "0",
        "5f0c6a3e-8d0b4c8e-9a57-3f2a1b4c5d6e-",  # 36 chars, hyphens in the wrong places
        "١٢٣٤٥٦٧٨" + UID[8:],  # Arabic-Indic digits
        "zzzzzzzz" + UID[8:],
    ],
)
def test_uuid_rejects_non_canonical_forms(text: str) -> None:
    with pytest.raises(ValueError):
        UUIDConverter().to_python(text)


def test_uuid_to_url() -> None:
    assert UUIDConverter().to_url(uuid.UUID(UID)) == UID
    assert UUIDConverter().to_url(UID.upper()) == UID


@pytest.mark.parametrize("text", ["hello-world", "a_b", "A1", "x"])
def test_slug_accepts(text: str) -> None:
    assert SlugConverter().to_python(text) == text


@pytest.mark.parametrize("text", ["", "a b", "a.b", "é", "a/b", "a%20"])
def test_slug_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        SlugConverter().to_python(text)


def test_string_converter() -> None:
    conv = StringConverter()
    assert conv.to_python("anything goes") == "anything goes"
    with pytest.raises(ValueError):
        conv.to_python("")
    assert conv.to_url(5) == "5"
    with pytest.raises(ValueError):
        conv.to_url("a/b")
    with pytest.raises(ValueError):
        conv.to_url("")


def test_path_converter() -> None:
    conv = PathConverter()
    assert conv.to_python("a/b/c.txt") == "a/b/c.txt"
    with pytest.raises(ValueError):
        conv.to_python("")
    assert conv.to_url("x/y") == "x/y"
    with pytest.raises(ValueError):
        conv.to_url("")


def test_default_converters_are_fresh_and_complete() -> None:
    first, second = default_converters(), default_converters()
    assert sorted(first) == ["float", "int", "int32", "path", "slug", "str", "uuid"]
    assert first is not second
    assert all(isinstance(c, Converter) for c in first.values())


# -- through an app ---------------------------------------------------------
@pytest.fixture
def client() -> Any:
    app = Carboy(debug=True)

    @app.get("/int/{v:int}")
    async def int_(v: int) -> dict[str, Any]:
        return {"v": v, "type": type(v).__name__}

    @app.get("/float/{v:float}")
    async def float_(v: float) -> dict[str, Any]:
        return {"v": v, "type": type(v).__name__}

    @app.get("/uuid/{v:uuid}")
    async def uuid_(v: uuid.UUID) -> dict[str, Any]:
        return {"v": str(v), "type": type(v).__name__}

    @app.get("/slug/{v:slug}")
    async def slug(v: str) -> dict[str, Any]:
        return {"v": v}

    @app.get("/path/{v:path}")
    async def path(v: str) -> dict[str, Any]:
        return {"v": v}

    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/int/42", {"v": 42, "type": "int"}),
        ("/float/2.5", {"v": 2.5, "type": "float"}),
        ("/float/2", {"v": 2.0, "type": "float"}),
        (f"/uuid/{UID}", {"v": UID, "type": "UUID"}),
        ("/slug/hello-world_2", {"v": "hello-world_2"}),
        ("/path/a/b/c.txt", {"v": "a/b/c.txt"}),
        ("/path/a//b/", {"v": "a//b/"}),
    ],
)
def test_converters_match_and_convert(client: TestClient, url: str, expected: Any) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize(
    "url",
    [
        "/int/-1",
        "/int/+1",
        "/int/%D9%A1%D9%A2",  # "١٢": Unicode digits
        "/int/1.5",
        "/float/-1.5",
        "/float/nan",
        "/uuid/not-a-uuid",
        "/uuid/" + UID.replace("-", ""),
        "/slug/caf%C3%A9",
        "/path/",
        "/int/",
    ],
)
def test_converters_refuse_with_404(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


# -- user-defined converters ------------------------------------------------
class YearConverter:
    regex = "[0-9]{4}"
    python_type = int

    def to_python(self, value: str) -> int:
        if len(value) != 4 or not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        return int(value)

    def to_url(self, value: int) -> str:
        return f"{value:04d}"


def test_user_defined_converter_matches_converts_and_reverses() -> None:
    app = Carboy(debug=True)
    app.register_converter("year", YearConverter())

    @app.get("/archive/{year:year}")
    async def archive(year: int) -> dict[str, Any]:
        return {"year": year, "type": type(year).__name__}

    @app.get("/archive/{year:year}/{month:int}.html")
    async def month(year: int, month: int) -> dict[str, int]:
        return {"year": year, "month": month}

    with TestClient(app) as client:
        assert client.get("/archive/2024").json() == {"year": 2024, "type": "int"}
        assert client.get("/archive/24").status_code == 404
        assert client.get("/archive/20245").status_code == 404
        assert client.get("/archive/1999/12.html").json() == {"year": 1999, "month": 12}
    assert app.url_path_for("archive", year=7) == "/archive/0007"


def test_register_converter_refuses_an_incomplete_object() -> None:
    app = Carboy(debug=True)

    class NoUrl:
        regex = ".+"
        python_type = str

        def to_python(self, value: str) -> str:
            return value

    with pytest.raises(ConfigurationError, match="'to_url'"):
        app.register_converter("bad", NoUrl())  # type: ignore[arg-type]


def test_unknown_converter_is_named_at_build() -> None:
    app = Carboy(debug=True)

    @app.get("/x/{v:year}")
    async def handler(v: str) -> str:
        return v

    with pytest.raises(ConfigurationError, match=r"unknown converter 'year'.*register_converter"):
        app.build()


@pytest.mark.parametrize("text", ["-1", "+1", "١٢", "１２", "²", "1.0", " 1", "", "0x10", "1_000"])
def test_int_segments_in_routes_match_exactly_what_the_converter_takes(text: str) -> None:
    """The tree walk checks built-in ints inline; it must agree with IntConverter."""
    app = Carboy(debug=True)

    @app.get("/n/{n:int}")
    async def number(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/n/{word}")
    async def word(word: str) -> dict[str, str]:
        return {"word": word}

    with TestClient(app) as client:
        assert client.get("/n/0042").json() == {"n": 42}
        if text:
            assert client.get(f"/n/{text}").json() == {"word": text}
        else:
            assert client.get("/n/").status_code == 404


def test_an_int_converter_subclass_keeps_its_own_to_python() -> None:
    class EvenConverter(IntConverter):
        def to_python(self, value: str) -> int:
            number = super().to_python(value)
            if number % 2:
                raise ValueError(value)
            return number

    app = Carboy(debug=True)
    app.register_converter("even", EvenConverter())

    @app.get("/even/{n:even}")
    async def even(n: int) -> dict[str, int]:
        return {"n": n}

    with TestClient(app) as client:
        assert client.get("/even/4").json() == {"n": 4}
        assert client.get("/even/3").status_code == 404


# -- integers the database can hold -----------------------------------------------
def test_int_paths_beyond_64_bits_are_404_and_int32_narrows() -> None:
    # Regression: /blog/9223372036854775808 reached SQLite, which raised a 500.
    app = Carboy(debug=True, allowed_hosts=["*"])

    @app.get("/blog/{id:int}")
    def post(id: int) -> str:
        return str(id)

    @app.get("/counter/{id:int32}")
    def counter(id: int) -> str:
        return str(id)

    with TestClient(app) as client:
        assert client.get("/blog/9223372036854775807").text == "9223372036854775807"
        assert client.get("/blog/9223372036854775808").status_code == 404
        assert client.get("/blog/" + "9" * 5000).status_code == 404
        assert client.get("/counter/2147483647").text == "2147483647"
        assert client.get("/counter/2147483648").status_code == 404
        assert client.get("/counter/9223372036854775807").status_code == 404
    assert app.url_path_for("counter", id=2147483647) == "/counter/2147483647"
    with pytest.raises(ValueError, match="larger than 2147483647"):
        default_converters()["int32"].to_url(2147483648)
    assert IntConverter(max_value=99).to_python("99") == 99
    with pytest.raises(ValueError):
        IntConverter(max_value=99).to_python("100")
