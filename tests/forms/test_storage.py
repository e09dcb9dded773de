"""FileSystemStorage: names that could leave the folder are refused, nothing is overwritten."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from carboy.forms import FileSystemStorage, Storage, UnsafeFileName


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(tmp_path / "media", base_url="/media/")


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_save_open_exists_delete_and_url(storage: FileSystemStorage) -> None:
    assert isinstance(storage, Storage)
    name = run(storage.save("avatars/a1.png", io.BytesIO(b"png bytes")))
    assert name == "avatars/a1.png"
    assert run(storage.exists(name)) is True
    with run(storage.open(name)) as file:  # type: ignore[attr-defined]
        assert file.read() == b"png bytes"
    assert storage.url("avatars/a b.png") == "/media/avatars/a%20b.png"
    run(storage.delete(name))
    assert run(storage.exists(name)) is False
    run(storage.delete(name))  # deleting what is gone is fine


def test_an_existing_file_is_never_overwritten(storage: FileSystemStorage) -> None:
    first = run(storage.save("doc.pdf", io.BytesIO(b"one")))
    second = run(storage.save("doc.pdf", io.BytesIO(b"two")))
    assert first == "doc.pdf" and second != first and str(second).endswith(".pdf")
    assert (storage.root / "doc.pdf").read_bytes() == b"one"
    assert (storage.root / str(second)).read_bytes() == b"two"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "avatars/../../outside.txt",
        "/etc/passwd",
        "C:/windows/win.ini",
        "a\\..\\b",
        "evil\x00.png",
        "new\nline",
        "",
        "a//b",
        "./a",
        ".",
    ],
)
def test_unsafe_names_are_refused_on_every_method(storage: FileSystemStorage, name: str) -> None:
    with pytest.raises(UnsafeFileName):
        run(storage.save(name, io.BytesIO(b"x")))
    with pytest.raises(UnsafeFileName):
        run(storage.open(name))
    with pytest.raises(UnsafeFileName):
        run(storage.delete(name))
    with pytest.raises(UnsafeFileName):
        run(storage.exists(name))
    with pytest.raises(UnsafeFileName):
        storage.url(name)
    assert not (storage.root.parent / "outside.txt").exists()


def test_a_symlink_that_leads_out_of_the_folder_is_refused(
    storage: FileSystemStorage, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    storage.root.mkdir()
    os.symlink(outside, storage.root / "link")
    with pytest.raises(UnsafeFileName, match="outside the storage folder"):
        run(storage.save("link/x.txt", io.BytesIO(b"x")))
    assert list(outside.iterdir()) == []


def test_unicode_names_are_stored_as_given(storage: FileSystemStorage) -> None:
    name = run(storage.save("résumé/日本.txt", io.BytesIO(b"x")))
    assert name == "résumé/日本.txt"
    assert storage.url(str(name)) == "/media/r%C3%A9sum%C3%A9/%E6%97%A5%E6%9C%AC.txt"
