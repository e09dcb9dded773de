"""StaticFiles: an ASGI app that serves files from directories, safely."""

from __future__ import annotations

import enum
import importlib.util
import os
import stat
from collections.abc import Sequence
from urllib.parse import quote

from carboy.concurrency import run_sync
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from carboy.types import Receive, Scope, Send

StrPath = str | os.PathLike[str]


class _Hit(enum.Enum):
    FILE = enum.auto()  # the file asked for
    INDEX = enum.auto()  # a directory's index.html (html mode)
    ADD_SLASH = enum.auto()  # a directory asked for without its trailing slash (html mode)
    NOT_FOUND_PAGE = enum.auto()  # 404.html (html mode)


def _safe_segments(path: str) -> list[str] | None:
    """The path's segments, or ``None`` if it could point outside the directory.

    ``path`` is already percent-decoded by the server and is never decoded
    again, so ``%2e%2e`` here is a literal name, not ``..``.
    """
    if "\x00" in path or "\\" in path:
        return None
    relative = path.removeprefix("/").removesuffix("/")
    if not relative:
        return []
    segments = relative.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            return None
        if os.path.splitdrive(segment)[0] or (os.name == "nt" and ":" in segment):
            return None  # Windows drives and alternate data streams
    return segments


def _inside(root: str, real_path: str) -> bool:
    return real_path == root or real_path.startswith(root.rstrip(os.sep) + os.sep)


def _package_directory(package: str | tuple[str, str]) -> str:
    name, subdirectory = (package, "static") if isinstance(package, str) else package
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"StaticFiles(packages=[{package!r}]): {name!r} is not an importable package"
        )
    for location in spec.submodule_search_locations:
        candidate = os.path.join(location, subdirectory)
        if os.path.isdir(candidate):
            return candidate
    raise ConfigurationError(
        f"StaticFiles(packages=[{package!r}]): package {name!r} has no {subdirectory!r} "
        "directory on disk"
    )


class StaticFiles:
    """An ASGI app serving the files under one or more directories.

    Mount it under a prefix; the file path is the request path after the
    mount's prefix. Directories are searched in the order given, so the
    app's own ``static/`` can override a file a module ships.

    Every way out of the directories gets a 404, the same as a missing file:
    ``..`` and ``.`` segments, empty segments (``//``), backslashes, NUL
    bytes, drive letters, and symlinks that resolve outside the directory
    (unless ``follow_symlinks=True``). Special files (sockets, FIFOs) are not
    served. Other methods than GET and HEAD get a 405.

    Files are sent with :class:`~carboy.responses.FileResponse`, so ETag,
    Last-Modified, 304s and byte ranges work, plus ``Cache-Control: public,
    max-age=<cache_max_age>``.

    Args:
        directory: A directory, or a list of them searched in order.
        packages: Packages whose bundled directory is searched after
            ``directory``: ``"mypkg"`` means ``mypkg/static``, and
            ``("mypkg", "assets")`` means ``mypkg/assets``.
        html: Serve ``index.html`` for a directory (redirecting ``/docs`` to
            ``/docs/``) and ``404.html`` (with status 404) for a miss.
        follow_symlinks: Serve symlinks that point outside the directories.
        cache_max_age: Seconds for ``Cache-Control: public, max-age=...``;
            ``None`` sends no Cache-Control.
        check_dir: Raise at construction if a directory does not exist.

    Raises:
        ConfigurationError: No directory was given, a directory does not
            exist (with ``check_dir``), or a package has no such directory.

    Example:
        >>> app.mount("/static", StaticFiles(directory="static"), name="static")
    """

    def __init__(
        self,
        directory: StrPath | Sequence[StrPath] | None = None,
        *,
        packages: Sequence[str | tuple[str, str]] | None = None,
        html: bool = False,
        follow_symlinks: bool = False,
        cache_max_age: int | None = 3600,
        check_dir: bool = True,
    ) -> None:
        given: list[str] = []
        if isinstance(directory, str | os.PathLike):
            given.append(os.fspath(directory))
        elif directory is not None:
            given.extend(os.fspath(d) for d in directory)
        given.extend(_package_directory(p) for p in packages or ())
        if not given:
            raise ConfigurationError(
                "StaticFiles needs a directory: StaticFiles(directory='static') "
                "or StaticFiles(packages=['mypackage'])"
            )
        if check_dir:
            for d in given:
                if not os.path.isdir(d):
                    raise ConfigurationError(
                        f"StaticFiles directory {d!r} does not exist or is not a directory "
                        f"(resolved from {os.getcwd()!r}); create it, fix the path, "
                        "or pass check_dir=False"
                    )
        #: The directories searched, in order, with symlinks resolved.
        self.directories = [os.path.realpath(d) for d in given]
        self.html = html
        self.follow_symlinks = follow_symlinks
        self._file_headers = (
            {"cache-control": f"public, max-age={int(cache_max_age)}"}
            if cache_max_age is not None
            else {}
        )

    def lookup(self, path: str) -> tuple[str, os.stat_result] | None:
        """The first regular file at ``path`` in the directories, with its stat.

        ``path`` is relative to the directories (a leading ``/`` is allowed);
        unsafe paths and directories give ``None``. This touches the disk:
        call it at start-up or from the thread pool, not on the event loop.

        Example:
            >>> found = StaticFiles(directory="static").lookup("css/site.css")
            >>> if found:
            ...     full_path, stat_result = found
        """
        segments = _safe_segments(path)
        return None if segments is None else self._lookup_segments(segments)

    def _lookup_segments(self, segments: list[str]) -> tuple[str, os.stat_result] | None:
        for root in self.directories:
            full = os.path.join(root, *segments)
            try:
                st = os.stat(full)
            except (OSError, ValueError):
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if not self.follow_symlinks and not _inside(root, os.path.realpath(full)):
                continue  # a symlink out of the directory: as good as absent
            return full, st
        return None

    def _find(self, path: str) -> tuple[_Hit, str, os.stat_result] | None:
        segments = _safe_segments(path)
        if segments is not None:
            if not path.endswith("/") and (found := self._lookup_segments(segments)):
                return (_Hit.FILE, *found)
            if self.html and (found := self._lookup_segments([*segments, "index.html"])):
                return (_Hit.INDEX if path.endswith("/") else _Hit.ADD_SLASH, *found)
        if self.html and (found := self._lookup_segments(["404.html"])):
            return (_Hit.NOT_FOUND_PAGE, *found)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (the ASGI interface)."""
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # refuse the handshake
                await send({"type": "websocket.close", "code": 1000})
                return
            raise RuntimeError(f"StaticFiles serves HTTP requests, not {scope['type']!r}")
        response = await self._respond(scope)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope) -> Response:
        # Inside a carboy app, errors go through the app's error handling (JSON or
        # HTML by Accept, custom 404 pages); served alone, they are plain text.
        in_app = "app" in scope
        if scope["method"] not in ("GET", "HEAD"):
            if in_app:
                raise HTTPException(405, headers={"allow": "GET, HEAD"})
            return PlainTextResponse("Method Not Allowed", 405, headers={"allow": "GET, HEAD"})
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        # carboy's mount (like ASGI servers and Starlette >= 0.33) keeps the full
        # path in scope["path"] and puts the mount prefix in scope["root_path"];
        # a mount that strips the prefix from scope["path"] works too.
        mounted = path.startswith(root_path)
        relative = path[len(root_path) :] if mounted else path
        found = await run_sync(self._find, relative)
        if found is None:
            if in_app:
                raise HTTPException(404)
            return PlainTextResponse("Not Found", 404)
        hit, full_path, stat_result = found
        if hit is _Hit.ADD_SLASH:
            full_url_path = "/" + (path if mounted else root_path + path).lstrip("/") + "/"
            location = quote(full_url_path, safe="/!$&'()*+,;=:@~")
            if scope.get("query_string"):
                location += "?" + scope["query_string"].decode("latin-1")
            return RedirectResponse(location, status_code=307)
        if hit is _Hit.NOT_FOUND_PAGE:
            return FileResponse(full_path, status_code=404, stat_result=stat_result)
        return FileResponse(full_path, headers=self._file_headers, stat_result=stat_result)

    def __repr__(self) -> str:
        return f"StaticFiles(directory={self.directories!r}, html={self.html!r})"
