"""Fixtures of the forms battery's tests: an HTML parser to check markup, images, databases.

Model forms run on SQLite and on the PostgreSQL server at 127.0.0.1:5432,
through tests/db's fixtures (a database of this test session, dropped at the end).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from tests.db.conftest import (  # noqa: F401  (fixtures)
    backend,
    database_url,
    postgres_url,
    require_postgres,
)

_VOID = {"input", "br", "img", "meta", "link", "hr", "source", "area", "base", "col", "wbr"}


@dataclass
class Element:
    """One parsed HTML element: its tag, attributes, children and text."""

    tag: str
    attrs: dict[str, str | None]
    children: list[Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    parent: Element | None = None

    @property
    def text(self) -> str:
        """All the text inside, whitespace collapsed (what a person reads)."""
        pieces: list[str] = []

        def walk(element: Element) -> None:
            pieces.extend(element.parts)
            for child in element.children:
                walk(child)

        walk(self)
        return " ".join(" ".join(pieces).split())

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements with ``tag`` (any when None) whose attributes have these values."""
        found = []
        for element in self.iter():
            if tag is not None and element.tag != tag:
                continue
            if all(
                element.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items()
            ):
                found.append(element)
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'} {attrs}> in the page"
        return found[0]

    def by_id(self, id: str) -> Element:
        found = [e for e in self.iter() if e.attrs.get("id") == id]
        assert len(found) == 1, f"{len(found)} elements have id {id!r}"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), parent=self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.parts.append(data)


def parse(html: str) -> Element:
    """The document tree of ``html`` (the standard library's tolerant parser)."""
    builder = _Builder()
    builder.feed(str(html))
    builder.close()
    return builder.root


def ids(html: str) -> list[str]:
    """Every id in ``html``, to check that none repeats."""
    return [str(e.attrs["id"]) for e in parse(html).iter() if e.attrs.get("id")]


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 6)) -> bytes:
    """A real image in ``fmt``, made with Pillow."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def png() -> bytes:
    return image_bytes()
