"""Where uploaded files go: the :class:`Storage` protocol and the local-disk default."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import quote

from carboy.concurrency import run_sync


class UnsafeFileName(ValueError):
    """A storage was given a name that could leave its folder (``../``, an absolute path, NUL)."""


@runtime_checkable
class Storage(Protocol):
    """Stores files by name: the local disk by default, any object store by implementing this.

    Names are relative, ``/``-separated paths (``avatars/3f9c...e1.png``).
    :meth:`save` may store under another name when the one asked for is taken
    and returns the name it used.

    Example:
        >>> class Bucket:  # an S3-like store of your own
        ...     async def save(self, name: str, content: BinaryIO) -> str: ...
        ...     async def open(self, name: str) -> BinaryIO: ...
        ...     async def delete(self, name: str) -> None: ...
        ...     async def exists(self, name: str) -> bool: ...
        ...     def url(self, name: str) -> str: ...
        >>> app.install(Forms(storage=Bucket()))  # doctest: +SKIP
    """

    async def save(self, name: str, content: BinaryIO) -> str:
        """Write ``content`` (read from its current position) as ``name``; the name used."""
        ...

    async def open(self, name: str) -> BinaryIO:
        """The stored file for reading (the caller closes it); ``FileNotFoundError`` if none."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the file; nothing happens when there is none."""
        ...

    async def exists(self, name: str) -> bool:
        """Whether a file is stored as ``name``."""
        ...

    def url(self, name: str) -> str:
        """The URL the file is served at."""
        ...


def check_name(name: str) -> list[str]:
    """The segments of a storage name, or :class:`UnsafeFileName` when it could leave the folder.

    Example:
        >>> check_name("avatars/a1.png")
        ['avatars', 'a1.png']
    """
    if not isinstance(name, str) or not name:
        raise UnsafeFileName(f"A file name must be a non-empty string, got {name!r}")
    if "\x00" in name or "\\" in name or any(ord(ch) < 32 for ch in name):
        raise UnsafeFileName(f"File name {name!r} has a NUL, a backslash or a control character")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeFileName(f"File name {name!r} is absolute; storage names are relative")
    segments = name.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise UnsafeFileName(f"File name {name!r} has an empty, '.' or '..' segment")
    return segments


class FileSystemStorage:
    """Files in a folder on the local disk, served under ``base_url``.

    The default storage of :class:`~carboy.forms.Forms`: the folder is the
    ``media_dir`` setting (relative to the app's folder) and the URL the
    ``media_url`` setting. Every name is checked (:func:`check_name`) and the
    resolved path must stay inside the folder, symlinks included. Files are
    created exclusively: an existing file is never overwritten, the new one
    gets a name with a random suffix.

    Args:
        root: The folder (made on the first save).
        base_url: The URL prefix files are served under (``/media``).

    Example:
        >>> storage = FileSystemStorage("media", base_url="/media")
        >>> storage.url("avatars/a1.png")
        '/media/avatars/a1.png'
    """

    def __init__(self, root: str | os.PathLike[str], *, base_url: str = "/media") -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")

    def path(self, name: str) -> Path:
        """The file's path on disk; :class:`UnsafeFileName` when it would leave the folder."""
        segments = check_name(name)
        root = self.root.resolve()
        path = root.joinpath(*segments)
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            raise UnsafeFileName(f"File name {name!r} resolves outside the storage folder")
        return path

    async def save(self, name: str, content: BinaryIO) -> str:
        """Write ``content`` to a new file ``name`` (or a free variant of it); the name used."""
        return await run_sync(self._save, name, content)

    def _save(self, name: str, content: BinaryIO) -> str:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path(name)  # the folders made may not be symlinks that lead out
        candidate, used = path, name
        for _ in range(10):
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
                used = f"{stem}_{secrets.token_hex(4)}{dot}{ext}"
                candidate = self.path(used)
                continue
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(content, out, 1024 * 1024)
            except BaseException:
                candidate.unlink(missing_ok=True)
                raise
            return used
        raise FileExistsError(f"No free file name near {name!r} in {self.root}")

    async def open(self, name: str) -> BinaryIO:
        """The stored file for reading."""
        return await run_sync(self._open, name)

    def _open(self, name: str) -> BinaryIO:
        return self.path(name).open("rb")

    async def delete(self, name: str) -> None:
        """Remove the file, if there is one."""
        await run_sync(self.path(name).unlink, missing_ok=True)

    async def exists(self, name: str) -> bool:
        """Whether the file exists."""
        return await run_sync(self.path(name).is_file)

    def url(self, name: str) -> str:
        """``base_url`` + the name, percent-encoded."""
        check_name(name)
        return f"{self.base_url}/{quote(name)}"

    def __repr__(self) -> str:
        return f"FileSystemStorage({str(self.root)!r}, base_url={self.base_url!r})"
