"""``carboy openapi client``: a typed client from the document; ``carboy openapi schema``."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, Field

from carboy import Carboy, Cookie, Header, HTTPException, Query
from carboy.api import API, generate_client
from carboy.cli import cli
from carboy.testing import TestClient


class ItemIn(BaseModel):
    name: str = Field(max_length=50)
    tags: list[str] = []
    size: int | None = None


class Item(ItemIn):
    id: int


def _app() -> tuple[Carboy, API]:
    api = API(prefix="/api", title="Shop", version="3")
    items: dict[int, Item] = {}

    @api.post("/items", status_code=201)
    async def create_item(item: ItemIn) -> Item:
        """Add an item."""
        new = Item(id=len(items) + 1, **item.model_dump())
        items[new.id] = new
        return new

    @api.get("/items/{item_id:int}")
    async def get_item(
        item_id: int,
        fields: Annotated[list[str] | None, Query()] = None,
        x_trace: Annotated[str | None, Header()] = None,
        theme: Annotated[str, Cookie()] = "light",
    ) -> dict[str, Any]:
        if item_id not in items:
            raise HTTPException(404, f"No item {item_id}")
        return {
            "item": items[item_id].model_dump(),
            "fields": fields,
            "trace": x_trace,
            "theme": theme,
        }

    @api.get("/items/{item_id:int}/label", media_type="text/plain")
    async def label(item_id: int) -> str:
        return f"item {item_id}"

    @api.delete("/items/{item_id:int}")
    async def delete_item(item_id: int) -> None:
        items.pop(item_id, None)

    app = Carboy(debug=True)
    app.install(api)
    return app, api


def _load(source: str, folder: Path, name: str) -> Any:
    (folder / f"{name}.py").write_text(source, encoding="utf-8")
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", f"{name}.py"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    sys.path.insert(0, str(folder))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)


def test_the_generated_client_is_typed_and_calls_every_kind_of_parameter(tmp_path: Path) -> None:
    app, api = _app()
    with TestClient(app, base_url="http://localhost") as http:
        shop = _load(generate_client(api.openapi()), tmp_path, "shop_client")
        client = shop.Client(http=http, headers={"x-trace": "default"})
        created = client.create_item({"name": "Lamp", "tags": ["light"]})
        assert created == {"id": 1, "name": "Lamp", "tags": ["light"], "size": None}
        assert client.last_response.status_code == 201
        got = client.get_item(1, fields=["name", "tags"], x_trace="t-1", theme="dark")
        assert got == {"item": created, "fields": ["name", "tags"], "trace": "t-1", "theme": "dark"}
        assert client.get_item(1)["trace"] == "default"  # the client's own headers
        assert client.label(1) == "item 1"
        assert client.delete_item(1) is None
        with pytest.raises(shop.APIError) as missing:
            client.get_item(1)
        assert missing.value.status_code == 404
        assert missing.value.body["detail"] == "No item 1"
        with pytest.raises(shop.APIError) as invalid:
            client.create_item({"name": "x" * 51})
        assert invalid.value.body["errors"][0]["field"] == "name"
    source = generate_client(api.openapi())
    assert 'ItemIn = TypedDict(\n    "ItemIn"' in source
    assert "def get_item(self, item_id: int, *, fields: list[str] | None = None" in source


def test_the_openapi_commands(tmp_path: Path) -> None:
    app, _ = _app()
    runner = CliRunner()
    printed = runner.invoke(cli, ["openapi", "schema"], obj=app)
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output)["info"] == {"title": "Shop", "version": "3"}
    target = tmp_path / "client.py"
    written = runner.invoke(cli, ["openapi", "client", "-o", str(target)], obj=app)
    assert written.exit_code == 0, written.output
    assert "class Client:" in target.read_text(encoding="utf-8")
    unknown = runner.invoke(cli, ["openapi", "schema", "--api", "nope"], obj=app)
    assert unknown.exit_code != 0
    assert "no carboy.api API named 'nope'" in unknown.output
