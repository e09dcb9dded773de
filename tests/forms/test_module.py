"""The Forms module: injection, templates, storage, and the media settings."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydantic import BaseModel

from carboy import Carboy, ConfigurationError
from carboy.forms import BaseForm, FileSystemStorage, Form, Forms, Storage
from carboy.settings import Settings
from carboy.testing import TestClient


class Note(BaseModel):
    text: str


class NoteForm(Form[Note]):
    pass


def _saving_app(tmp_path: Path, **settings: object) -> Carboy:
    app = Carboy(Settings(debug=True, **settings), root=tmp_path)  # type: ignore[arg-type]
    app.install(Forms())

    @app.post("/save")
    async def save(storage: Storage) -> dict[str, str]:
        name = await storage.save("notes/n.txt", io.BytesIO(b"hello"))
        return {"name": name, "url": storage.url(name)}

    return app


def test_the_media_dir_setting_is_where_uploads_go(tmp_path: Path) -> None:
    with TestClient(_saving_app(tmp_path, media_dir="uploads/files")) as client:
        assert client.post("/save").json()["name"] == "notes/n.txt"
    assert (tmp_path / "uploads" / "files" / "notes" / "n.txt").read_bytes() == b"hello"
    assert not (tmp_path / "media").exists()


def test_the_media_url_setting_is_where_uploads_are_served(tmp_path: Path) -> None:
    with TestClient(_saving_app(tmp_path, media_url="/files/")) as client:
        assert client.post("/save").json()["url"] == "/files/notes/n.txt"
        assert client.get("/files/notes/n.txt").content == b"hello"
        assert client.get("/media/notes/n.txt").status_code == 404
    with pytest.raises(ConfigurationError, match="media_url"):
        Settings(media_url="files")


def test_media_is_served_only_in_debug_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.txt").write_text("a")
    key = "k" * 40
    production = Carboy(Settings(secret_key=key, allowed_hosts=["testserver"]), root=tmp_path)
    production.install(Forms())
    with TestClient(production) as client:
        assert client.get("/media/a.txt").status_code == 404
    served = Carboy(Settings(secret_key=key, allowed_hosts=["testserver"]), root=tmp_path)
    served.install(Forms(serve_media=True))
    with TestClient(served) as client:
        assert client.get("/media/a.txt").text == "a"
        assert client.get("/media/../pyproject.toml").status_code == 404


@pytest.mark.parametrize("debug_first", [True, False])
def test_one_forms_on_two_apps_serves_media_as_each_app_decides(
    tmp_path: Path, debug_first: bool
) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.txt").write_text("a")
    forms = Forms()
    debug = Carboy(Settings(debug=True), root=tmp_path)
    production = Carboy(Settings(secret_key="k" * 40, allowed_hosts=["testserver"]), root=tmp_path)
    for app in [debug, production] if debug_first else [production, debug]:
        app.install(forms)
        app.build()
    with TestClient(debug) as client:
        assert client.get("/media/a.txt").text == "a"
    with TestClient(production) as client:
        assert client.get("/media/a.txt").status_code == 404


def test_a_storage_of_your_own_is_injected(tmp_path: Path) -> None:
    mine = FileSystemStorage(tmp_path / "elsewhere", base_url="https://cdn.example.com")
    app = Carboy(debug=True, root=tmp_path)
    app.install(Forms(storage=mine))

    @app.get("/which")
    async def which(storage: Storage) -> bool:
        return storage is mine

    with TestClient(app) as client:
        assert client.get("/which").json() is True
    assert app.get_module(Forms).storage is mine


def test_forms_are_not_injectable_without_the_module() -> None:
    app = Carboy(debug=True)

    @app.post("/n")
    async def note(form: NoteForm) -> str:
        return "x"

    with pytest.raises(ConfigurationError, match="cannot inject type"):
        app.build()


def test_a_form_class_without_a_schema_cannot_be_injected() -> None:
    app = Carboy(debug=True)
    app.install(Forms())

    @app.post("/n")
    async def note(form: BaseForm) -> str:
        return "x"

    with pytest.raises(ConfigurationError, match="Cannot inject BaseForm: it has no schema"):
        app.build()


def test_storage_is_known_once_built() -> None:
    with pytest.raises(RuntimeError, match="build the app first"):
        _ = Forms().storage
