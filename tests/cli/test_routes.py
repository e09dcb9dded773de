"""``carboy routes``: the table and the JSON list."""

from __future__ import annotations

import json

from .conftest import Invoke, WriteFile

APP = """
from carboy import Carboy, Module
from carboy.staticfiles import StaticFiles

app = Carboy(debug=True)
blog = Module("blog", prefix="/blog")


@app.get("/")
async def home() -> str:
    return ""


@blog.route("/posts", methods=["POST", "GET", "DELETE"])
async def posts() -> str:
    return ""


@app.websocket("/ws")
async def live(websocket: object) -> None:
    pass


app.install(blog)
app.mount("/media", StaticFiles(directory="media", check_dir=False), name="media")
"""


def test_table(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", APP)
    result = invoke("routes")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[0].split() == ["Methods", "Path", "Name", "Handler", "Source"]
    rows = [line.split() for line in lines[1:]]
    mount_source = rows[2][-1]  # the router's business: where the mounted app is defined
    assert rows == [
        ["GET", "/", "home", "app.home", "app.py:8"],
        ["GET,POST,DELETE", "/blog/posts", "blog.posts", "app.posts", "app.py:13"],
        ["MOUNT", "/media/*", "media", "carboy.staticfiles.StaticFiles", mount_source],
        ["MOUNT", "/static/*", "static", "carboy.staticfiles.StaticFiles"],
        ["WS", "/ws", "live", "app.live", "app.py:18"],
    ]


def test_json(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", APP)
    result = invoke("routes", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["path"] for row in rows] == ["/", "/blog/posts", "/media", "/static", "/ws"]
    assert rows[0] == {
        "kind": "http",
        "methods": ["GET"],
        "path": "/",
        "name": "home",
        "handler": "app.home",
        "source": "app.py:8",
        "summary": None,
        "description": None,
        "status_code": 200,
        "params": [],
    }
    assert rows[1]["methods"] == ["GET", "POST", "DELETE"]
    assert rows[3] == {
        "kind": "mount",
        "methods": [],
        "path": "/static",
        "name": "static",
        "handler": "carboy.staticfiles.StaticFiles",
        "source": "",
    }
    assert rows[4]["kind"] == "websocket"
    assert rows[4]["methods"] == []


def test_an_app_that_refuses_to_build(invoke: Invoke, write: WriteFile) -> None:
    write(
        "app.py",
        """
        from carboy import Carboy

        app = Carboy(debug=True)


        @app.get("/")
        async def one() -> str:
            return ""


        @app.get("/")
        async def two() -> str:
            return ""
        """,
    )
    result = invoke("routes")
    assert result.exit_code == 1
    assert result.stderr == ("Error: Route GET '/' is declared twice (app.py:6 and app.py:11)\n")


DOCUMENTED = """
from typing import Annotated

from carboy import Carboy, Query

app = Carboy(debug=True)


@app.get("/items/{item_id:int}")
async def item(
    item_id: int,
    page: Annotated[int, Query(ge=1, le=100, description="Page of the reviews")] = 1,
) -> dict:
    \"\"\"One item with a page of its reviews.

    Reviews are sorted newest first.
    \"\"\"
    return {}
"""


def test_verbose_prints_the_description_and_parameters(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", DOCUMENTED)
    result = invoke("routes", "--verbose")
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[1].split() == ["GET", "/items/{item_id:int}", "item", "app.item", "app.py:8"]
    start = lines.index("GET /items/{item_id:int}")
    assert lines[start + 1 : start + 5] == [
        "  One item with a page of its reviews.",
        "  Reviews are sorted newest first.",
        "  path item_id: int",
        "  query page: int = 1 ge=1 le=100 - Page of the reviews",
    ]


def test_json_has_the_parameters(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", DOCUMENTED)
    result = invoke("routes", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["summary"] == "One item with a page of its reviews."
    assert row["description"] == "Reviews are sorted newest first."
    assert row["params"][1] == {
        "name": "page",
        "source": "query",
        "type": "int",
        "required": False,
        "default": 1,
        "constraints": {"ge": 1, "le": 100},
        "description": "Page of the reviews",
        "examples": [],
        "deprecated": False,
    }
