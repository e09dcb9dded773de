"""Uploads: every limit on every path, content sniffed from the bytes, Pillow, safe names.

The paths a file takes: a form bound to a request (multipart parsed by the
core within its limits, then the field's checks in the thread pool), and a
form bound by hand to an ``UploadFile``. Each check is tried on both.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from carboy import Carboy
from carboy.datastructures import UploadFile
from carboy.forms import (
    FileSystemStorage,
    Form,
    Forms,
    Storage,
    Upload,
    UploadedFile,
    UploadedImage,
    UploadError,
    safe_filename,
)
from carboy.forms._uploads import check_upload, generated_name, sniff
from carboy.responses import HTMLResponse, JSONResponse
from carboy.settings import Settings
from carboy.testing import TestClient
from tests.forms.conftest import image_bytes, parse

HTML_AS_PNG = b"<html><script>alert(document.cookie)</script></html>"
PHP = b"<?php system($_GET['c']); ?>"


class Avatar(BaseModel):
    name: str = "me"
    picture: Annotated[UploadedImage, Upload(max_size=20_000, max_pixels=10_000)]


class Papers(BaseModel):
    documents: Annotated[
        list[UploadedFile], Upload(max_files=2, max_size=5_000, content_types=["application/pdf"])
    ] = []
    notes: Annotated[UploadedFile | None, Upload(content_types=["text/plain", "text/csv"])] = None


class AvatarForm(Form[Avatar]):
    pass


class PapersForm(Form[Papers]):
    pass


PDF = b"%PDF-1.7\n" + b"0" * 100


_opened: list[UploadFile] = []


@pytest.fixture(autouse=True)
def _close_uploads() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().file.close()


def upload(
    data: bytes, filename: str = "f.bin", content_type: str = "application/octet-stream"
) -> UploadFile:
    """An UploadFile as the multipart parser makes one (closed after the test)."""
    file = UploadFile(filename, content_type=content_type)
    _opened.append(file)
    file.write_sync(data)
    file.file.seek(0)
    return file


# -- the checks themselves ---------------------------------------------------------
def test_sniffing_reads_the_bytes_not_the_name_or_the_claimed_type(png: bytes) -> None:
    assert sniff(png) == "image/png"
    assert sniff(image_bytes("JPEG")) == "image/jpeg"
    assert sniff(PDF) == "application/pdf"
    assert sniff(HTML_AS_PNG) == "text/html"
    assert sniff(b"plain words\n") == "text/plain"
    assert sniff(b"\x00\x01\x02\x03 binary") is None


def test_an_image_passes_and_tells_its_size(png: bytes) -> None:
    checked = check_upload(upload(png, "me.png", "image/png"), Upload(), image=True)
    assert isinstance(checked, UploadedImage)
    assert (checked.width, checked.height, checked.format) == (8, 6, "PNG")
    assert checked.content_type == "image/png" and checked.extension == ".png"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (HTML_AS_PNG, "not an image"),
        (PHP, "not an image"),
        (image_bytes("PNG")[:-16], "damaged or incomplete"),
        (image_bytes("BMP"), "accepted: PNG, JPEG, GIF, WEBP"),
        (image_bytes("PNG", (200, 100)), "200 by 100 pixels"),
        (b"", "empty"),
    ],
)
def test_images_that_are_not_what_they_claim_are_refused(data: bytes, says: str) -> None:
    with pytest.raises(UploadError, match=says):
        check_upload(upload(data, "cat.png", "image/png"), Upload(max_pixels=10_000), image=True)


def test_files_are_checked_for_size_and_sniffed_type() -> None:
    rules = Upload(max_size=1000, content_types=["application/pdf"])
    assert check_upload(upload(PDF, "a.pdf", "application/pdf"), rules, False).content_type == (
        "application/pdf"
    )
    with pytest.raises(UploadError, match=r"The file is 1.1 KB; the largest accepted is 1 KB"):
        check_upload(upload(PDF + b"0" * 1000), rules, False)
    with pytest.raises(UploadError, match="a text/html file; accepted: PDF"):
        check_upload(upload(HTML_AS_PNG, "a.pdf", "application/pdf"), rules, False)
    # Plain text has no magic number: the client's text type is taken when it is accepted.
    text = Upload(content_types=["text/csv"])
    assert check_upload(upload(b"a,b\n1,2\n", "x.csv", "text/csv"), text, False).content_type == (
        "text/csv"
    )
    with pytest.raises(UploadError):
        check_upload(upload(b"a,b\n", "x.csv", "application/pdf"), text, False)


def test_a_file_of_an_unlisted_type_is_stored_as_bin() -> None:
    checked = check_upload(upload(HTML_AS_PNG, "page.html", "text/html"), Upload(), False)
    assert checked.content_type == "text/html" and checked.extension == ".bin"
    assert generated_name("text/html").endswith(".bin")


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/etc/shadow", "shadow"),
        ("evil\x00.png.php", "evil.png.php"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),  # a right-to-left override hides ".exe"
        ("re\u0301sume\u0301.pdf", "résumé.pdf"),
        ("ﬁle.txt", "file.txt"),  # NFKC
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("a" * 300 + ".png", "a" * 116 + ".png"),
        ('<script>"x".png', "script" + "x.png"),
    ],
)
def test_client_file_names_are_made_safe_to_show(name: str | None, safe: str) -> None:
    assert safe_filename(name) == safe


def test_generated_names_never_use_the_clients_name() -> None:
    a, b = generated_name("image/png", "avatars"), generated_name("image/png", "/avatars/")
    assert a.startswith("avatars/") and b.startswith("avatars/") and a != b
    assert len(a.split("/")[1]) == 32 + len(".png")


# -- through a form bound by hand --------------------------------------------------------
def test_a_bound_form_checks_each_file(png: bytes) -> None:
    form = AvatarForm({"picture": upload(png, "../../me.png", "image/png")})
    assert form.is_valid
    picture = form.data.picture
    assert picture.filename == "me.png" and picture.width == 8
    bad = AvatarForm({"picture": upload(HTML_AS_PNG, "me.png", "image/png")})
    assert bad.errors == {"picture": ["me.png: The file is not an image this site accepts"]}
    assert AvatarForm({}).errors == {"picture": ["This field is required."]}
    assert AvatarForm({"picture": "not a file"}).errors == {
        "picture": ["Expected a file, got text"]
    }


def test_a_list_field_takes_at_most_max_files() -> None:
    three = [upload(PDF, f"{n}.pdf") for n in range(3)]
    assert PapersForm({"documents": three}).errors == {"documents": ["Send at most 2 files"]}
    two = PapersForm({"documents": three[:2]})
    assert two.is_valid and len(two.data.documents) == 2


# -- through requests ---------------------------------------------------------------
def _app(tmp_path: Path, **settings: Any) -> Carboy:
    app = Carboy(Settings(debug=True, **settings), root=tmp_path)
    app.install(Forms())

    @app.post("/avatar")
    async def avatar(form: AvatarForm, storage: Storage) -> HTMLResponse | JSONResponse:
        if not form.is_valid:
            return HTMLResponse(str(form), status_code=form.status_code)
        name = await form.data.picture.asave(storage, "avatars")
        return JSONResponse({"name": name, "url": storage.url(name)})

    @app.post("/papers")
    async def papers(form: PapersForm) -> HTMLResponse:
        return HTMLResponse(str(form) if not form.is_valid else "ok", status_code=form.status_code)

    return app


def _stored(tmp_path: Path) -> list[Path]:
    media = tmp_path / "media"
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_a_valid_upload_is_stored_under_a_generated_name(tmp_path: Path, png: bytes) -> None:
    with TestClient(_app(tmp_path)) as client:
        response = client.post(
            "/avatar", files={"picture": ("../../../etc/passwd", png, "image/png")}
        )
        assert response.status_code == 200, response.text
        name = response.json()["name"]
        assert name.startswith("avatars/") and name.endswith(".png") and "passwd" not in name
        assert response.json()["url"] == f"/media/{name}"
        assert (tmp_path / "media" / name).read_bytes() == png
        # Served in debug mode under media_url.
        assert client.get(f"/media/{name}").content == png


@pytest.mark.parametrize(
    ("files", "status", "says"),
    [
        ({"picture": ("big.png", image_bytes("PNG", (200, 100)), "image/png")}, 422, "pixels"),
        ({"picture": ("cat.png", HTML_AS_PNG, "image/png")}, 422, "not an image"),
        ({"picture": ("cat.png", PHP, "image/png")}, 422, "not an image"),
        ({"picture": ("cat.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")}, 422, "image"),
        (
            {"picture": ("huge.png", b"\x89PNG" + b"0" * 30_000, "image/png")},
            422,
            "largest accepted",
        ),
        ({"picture": ("", b"", "application/octet-stream")}, 422, "required"),
    ],
)
def test_refused_uploads_redraw_the_form_and_store_nothing(
    tmp_path: Path, files: dict[str, Any], status: int, says: str
) -> None:
    with TestClient(_app(tmp_path)) as client:
        response = client.post("/avatar", data={"name": "x"}, files=files)
    assert response.status_code == status
    assert says in parse(response.text).by_id("id_picture_errors").text
    assert _stored(tmp_path) == []


def test_too_many_files_for_the_parser_or_the_field(tmp_path: Path) -> None:
    many = [("documents", (f"{n}.pdf", PDF, "application/pdf")) for n in range(3)]
    with TestClient(_app(tmp_path, form_max_files=2)) as client:
        refused = client.post("/papers", files=many)
        assert refused.status_code == 413
        assert "Too many files" in parse(refused.text).find("div", role="alert").text
    with TestClient(_app(tmp_path)) as client:
        response = client.post("/papers", files=many)
        assert response.status_code == 422
        assert "at most 2 files" in response.text
        assert client.post("/papers", files=many[:2]).text == "ok"


def test_a_body_over_the_limit_is_refused_before_the_field_checks(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path, max_body_size=10_000)) as client:
        response = client.post(
            "/papers", files={"documents": ("a.pdf", PDF * 200, "application/pdf")}
        )
    assert response.status_code == 413
    assert "Nothing was saved" in response.text
    assert _stored(tmp_path) == []


def test_a_disguised_text_file_is_refused_by_a_pdf_field(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path)) as client:
        response = client.post(
            "/papers", files={"documents": ("report.pdf", HTML_AS_PNG, "application/pdf")}
        )
    assert response.status_code == 422
    assert "a text/html file; accepted: PDF" in response.text


def test_storage_default_is_a_filesystem_storage_in_media_dir(tmp_path: Path) -> None:
    app = _app(tmp_path)
    app.build()
    storage = app.get_module(Forms).storage
    assert isinstance(storage, FileSystemStorage)
    assert storage.root == tmp_path / "media"
    with io.BytesIO(b"x") as content:
        del content  # the storage itself is tested in test_storage.py
