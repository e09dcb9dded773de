"""FileResponse: a file from disk, with validators, conditional GET and byte ranges."""

from __future__ import annotations

import asyncio
import calendar
import errno
import functools
import itertools
import mimetypes
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Mapping
from email.utils import formatdate, parsedate_tz
from typing import BinaryIO
from urllib.parse import quote

from carboy.concurrency import run_sync
from carboy.responses._base import Response
from carboy.types import RawHeaders, Receive, Scope, Send

#: Bytes read from disk per thread-pool hop and per ``http.response.body`` message.
CHUNK_SIZE = 64 * 1024

# More ranges than this in one request is abuse, not a download manager; the
# header is then ignored and the whole file sent (RFC 9110 lets a server do so).
_MAX_RANGES = 100

# Larger than any file; stands in for range numbers too long to be meaningful
# (and too long for ``int()``'s digit limit).
_HUGE = 2**63

# Python's built-in table, minus anything the host's /etc/mime.types says, plus
# the web's current types: the same file gets the same type on every machine.
_WEB_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".md": "text/markdown",
}

# ``x.tar.gz`` is a gzip file on the wire, not a tar file with a Content-Encoding.
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}

_DEFAULT_MEDIA_TYPE = "application/octet-stream"

# A disposition type is an HTTP token (RFC 9110 section 5.6.2).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Characters RFC 5987 lets through unencoded in ``filename*`` (besides letters,
# digits and ``_.-~``, which ``quote`` always keeps).
_ATTR_CHAR_SAFE = "!#$&+^`|"
# One entity tag: optional weak prefix, then a quoted opaque string.
_ETAG = re.compile(r'(?:W/)?"[^"]*"')
_DIGITS = re.compile(r"[0-9]+")

# Headers about the body that a 304 or a 416 must not carry over from the 200.
_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"content-disposition"})


@functools.cache
def _mime_table() -> mimetypes.MimeTypes:
    table = mimetypes.MimeTypes()
    for ext, media_type in _WEB_TYPES.items():
        table.add_type(media_type, ext)
    return table


def _guess_media_type(filename: str | os.PathLike[str]) -> str:
    """The media type for a file name, ``application/octet-stream`` when unknown.

    The answer does not depend on the host's ``/etc/mime.types``; compressed
    files (``.gz``, ``.br``...) get their archive type.

    Example:
        >>> _guess_media_type("site.css")
        'text/css'
        >>> _guess_media_type("backup.tar.gz")
        'application/gzip'
    """
    # The leading "/" stops ``guess_type`` from reading "data:x.css" as a URL scheme.
    name = "/" + os.path.basename(os.fspath(filename))
    media_type, encoding = _mime_table().guess_type(name, strict=False)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, _DEFAULT_MEDIA_TYPE)
    return media_type or _DEFAULT_MEDIA_TYPE


def _content_disposition(disposition_type: str, filename: str) -> str:
    """A ``Content-Disposition`` value for ``filename`` (RFC 6266 and RFC 5987).

    A plain ASCII name goes in a quoted ``filename``; any other name also gets
    ``filename*=utf-8''...`` with an ASCII look-alike as the fallback, so
    control characters can never break out of the header.

    Example:
        >>> _content_disposition("attachment", "report.pdf")
        'attachment; filename="report.pdf"'
        >>> _content_disposition("attachment", "résumé.pdf")
        'attachment; filename="resume.pdf"; filename*=utf-8\\'\\'r%C3%A9sum%C3%A9.pdf'
    """
    if not _TOKEN.fullmatch(disposition_type):
        raise ValueError(
            f"content_disposition_type {disposition_type!r} is not an HTTP token; "
            "use 'attachment' or 'inline'"
        )
    if all(" " <= c < "\x7f" for c in filename):
        return f'{disposition_type}; filename="{_quoted(filename)}"'
    fallback = "".join(
        c if " " <= c < "\x7f" else "_"
        for c in unicodedata.normalize("NFKD", filename)
        if not unicodedata.combining(c)
    )
    encoded = quote(filename, safe=_ATTR_CHAR_SAFE, encoding="utf-8")
    return f"{disposition_type}; filename=\"{_quoted(fallback)}\"; filename*=utf-8''{encoded}"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an HTTP date, or ``None`` if it is not one."""
    parts = parsedate_tz(value)
    if parts is None:
        return None
    try:
        return calendar.timegm(parts[:9]) - (parts[9] or 0)
    except (ValueError, OverflowError):
        return None


def _opaque_tag(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def _parse_ranges(value: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable ``(first, last)`` byte ranges of a ``Range`` header.

    ``None`` means "ignore the header" (malformed, another unit, too many
    ranges); an empty list means "nothing satisfiable" (416). Overlapping
    ranges are merged so a client cannot ask for the same bytes many times.
    """
    unit, equals, specs = value.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    ranges: list[tuple[int, int]] = []
    count = 0
    for raw_spec in specs.split(","):
        spec = raw_spec.strip(" \t")
        if not spec:
            continue  # empty list elements are allowed and ignored
        count += 1
        if count > _MAX_RANGES:
            return None
        first, dash, last = spec.partition("-")
        if not dash or (first and not _DIGITS.fullmatch(first)):
            return None
        if last and not _DIGITS.fullmatch(last):
            return None
        if not first:  # suffix range: the last N bytes
            if not last:
                return None
            length = _to_int(last)
            if length:
                ranges.append((max(size - length, 0), size - 1))
            continue
        start = _to_int(first)
        end = _to_int(last) if last else _HUGE
        if end < start:
            return None
        if start < size:
            ranges.append((start, min(end, size - 1)))
    if not count:
        return None
    return _coalesce(ranges)


def _to_int(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else _HUGE


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching ranges; keep the client's order when none do."""
    ordered = sorted(ranges)
    if all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ordered)):
        return ranges
    merged = [ordered[0]]
    for start, end in ordered[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end + 1:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _read_span(path: str, start: int, length: int) -> bytes:
    with open(path, "rb") as file:
        file.seek(start)
        return file.read(length)


def _read_at(file: BinaryIO, start: int, length: int) -> bytes:
    file.seek(start)
    return file.read(length)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class FileResponse(Response):
    """A file from disk, sent in chunks from the thread pool, never read whole.

    The response carries ``ETag``, ``Last-Modified`` and ``Accept-Ranges``, and
    answers conditional and range requests itself: ``If-None-Match`` and
    ``If-Modified-Since`` give a 304, ``Range`` gives a 206 (one range) or a
    ``multipart/byteranges`` 206 (several), an unsatisfiable range a 416, and
    ``If-Range`` that no longer matches the whole file. A malformed ``Range``
    is ignored. Conditionals and ranges apply to 200 responses to GET (and
    HEAD, for conditionals) only.

    Args:
        path: The file to send. It is stat'ed once, when the response is
            sent, unless ``stat_result`` is given.
        status_code: The status when the whole file is sent.
        headers: Extra headers. An ``ETag`` or ``Last-Modified`` given here
            replaces the one carboy derives from the file.
        media_type: The ``Content-Type``; guessed from ``filename`` or
            ``path`` when left out (``text/*`` types get ``charset=utf-8``).
        filename: Sets ``Content-Disposition`` so the browser saves the file
            under this name (non-ASCII names are encoded per RFC 5987).
        content_disposition_type: ``"attachment"`` (download) or ``"inline"``.
        stat_result: The file's ``os.stat`` result, if already known.
        chunk_size: Bytes per read and per body message.

    Raises:
        FileNotFoundError: When sent, if there is no file at ``path``.
        IsADirectoryError: When sent, if ``path`` is a directory.

    Example:
        >>> @app.get("/report")
        ... async def report() -> FileResponse:
        ...     return FileResponse("reports/2024.pdf", filename="Report 2024.pdf")
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        filename: str | None = None,
        content_disposition_type: str = "attachment",
        stat_result: os.stat_result | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size}")
        self.path = os.fspath(path)
        self.filename = filename
        self.chunk_size = chunk_size
        if media_type is None:
            media_type = _guess_media_type(filename or self.path)
        super().__init__(None, status_code, headers, media_type)
        # The length depends on the request (ranges, 304), so it is set when sending.
        self.raw_headers[:] = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        if filename is not None and b"content-disposition" not in self._names():
            value = _content_disposition(content_disposition_type, filename)
            self.raw_headers.append((b"content-disposition", value.encode("ascii")))
        self.stat_result = stat_result
        if stat_result is not None:
            self._add_validators(stat_result)

    def _names(self) -> set[bytes]:
        return {k for k, _ in self.raw_headers}

    def _header(self, name: bytes) -> str | None:
        for k, v in self.raw_headers:
            if k == name:
                return v.decode("latin-1")
        return None

    def _add_validators(self, st: os.stat_result) -> None:
        names = self._names()
        if b"etag" not in names:
            self.raw_headers.append((b"etag", f'"{st.st_mtime_ns:x}-{st.st_size:x}"'.encode()))
        if b"last-modified" not in names:
            modified = formatdate(st.st_mtime, usegmt=True)
            self.raw_headers.append((b"last-modified", modified.encode()))
        if b"accept-ranges" not in names:
            self.raw_headers.append((b"accept-ranges", b"bytes"))

    def _stat(self) -> os.stat_result:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise FileNotFoundError(
                errno.ENOENT, "FileResponse has no file to send at", self.path
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(
                errno.EISDIR, "FileResponse was given a directory, not a file", self.path
            )
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "FileResponse can only send a regular file", self.path)
        return st

    # -- conditional requests (RFC 9110 section 13) ------------------------------------

    def _not_modified(self, request: dict[bytes, str]) -> bool:
        if_none_match = request.get(b"if-none-match")
        if if_none_match is not None:  # takes precedence over If-Modified-Since
            etag = self._header(b"etag")
            if etag is None:
                return False
            if if_none_match.strip() == "*":
                return True
            wanted = _opaque_tag(etag)
            return any(_opaque_tag(tag) == wanted for tag in _ETAG.findall(if_none_match))
        if_modified_since = request.get(b"if-modified-since")
        last_modified = self._header(b"last-modified")
        if if_modified_since is None or last_modified is None:
            return False
        since = _parse_http_date(if_modified_since)
        modified = _parse_http_date(last_modified)
        return since is not None and modified is not None and modified <= since

    def _if_range_matches(self, if_range: str) -> bool:
        value = if_range.strip()
        if value.startswith(('"', "W/")):  # an entity tag: strong comparison only
            etag = self._header(b"etag")
            return etag is not None and not etag.startswith("W/") and value == etag
        last_modified = self._header(b"last-modified")
        if last_modified is None:
            return False
        when = _parse_http_date(value)
        return when is not None and when == _parse_http_date(last_modified)

    def _ranges(self, request: dict[bytes, str], size: int) -> list[tuple[int, int]] | None:
        header = request.get(b"range")
        if header is None or size == 0:
            return None
        if_range = request.get(b"if-range")
        if if_range is not None and not self._if_range_matches(if_range):
            return None
        return _parse_ranges(header, size)

    # -- sending ---------------------------------------------------------------------

    def _start(
        self, scope: Scope, status: int, extra: RawHeaders, drop: frozenset[bytes] = frozenset()
    ) -> dict[str, object]:
        headers = self._final_headers(scope)
        if drop:
            headers = [h for h in headers if h[0] not in drop]
        return {"type": "http.response.start", "status": status, "headers": headers + extra}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        st = self.stat_result
        if st is None:
            st = self.stat_result = await run_sync(self._stat)
            self._add_validators(st)
        size = st.st_size
        method = scope.get("method", "GET")
        ranges: list[tuple[int, int]] | None = None
        if self.status_code == 200 and method in ("GET", "HEAD"):
            wanted = (b"if-none-match", b"if-modified-since", b"range", b"if-range")
            request: dict[bytes, str] = {}
            for name, value in scope.get("headers", ()):
                if name in wanted:
                    text = value.decode("latin-1")
                    request[name] = f"{request[name]}, {text}" if name in request else text
            if self._not_modified(request):
                await send(self._start(scope, 304, [], _BODY_HEADERS))
                await send({"type": "http.response.body", "body": b""})
                return
            if method == "GET":  # range handling is defined for GET only
                ranges = self._ranges(request, size)

        if ranges is None:
            length = str(size).encode()
            start = self._start(scope, self.status_code, [(b"content-length", length)])
            if method == "HEAD":
                await send(start)
                await send({"type": "http.response.body", "body": b""})
            elif "http.response.pathsend" in (scope.get("extensions") or {}):
                await send(start)
                await send({"type": "http.response.pathsend", "path": self._absolute_path()})
            else:
                await self._send_spans(send, receive, start, [(0, size - 1)] if size else [])
        elif not ranges:
            extra = [(b"content-range", f"bytes */{size}".encode()), (b"content-length", b"0")]
            await send(self._start(scope, 416, extra, _BODY_HEADERS))
            await send({"type": "http.response.body", "body": b""})
        elif len(ranges) == 1:
            first, last = ranges[0]
            extra = [
                (b"content-range", f"bytes {first}-{last}/{size}".encode()),
                (b"content-length", str(last - first + 1).encode()),
            ]
            await self._send_spans(send, receive, self._start(scope, 206, extra), ranges)
        else:
            await self._send_multipart(scope, receive, send, ranges, size)

    async def _send_multipart(
        self, scope: Scope, receive: Receive, send: Send, ranges: list[tuple[int, int]], size: int
    ) -> None:
        boundary = secrets.token_hex(16)
        part_type = self._header(b"content-type") or _DEFAULT_MEDIA_TYPE
        # Each part's head carries the CRLF that ends the previous part's data.
        heads = [
            (b"" if i == 0 else b"\r\n")
            + (
                f"--{boundary}\r\n"
                f"Content-Type: {part_type}\r\n"
                f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n"
            ).encode("latin-1")
            for i, (first, last) in enumerate(ranges)
        ]
        tail = f"\r\n--{boundary}--\r\n".encode()
        length = sum(map(len, heads)) + len(tail) + sum(b - a + 1 for a, b in ranges)
        extra = [
            (b"content-type", f"multipart/byteranges; boundary={boundary}".encode()),
            (b"content-length", str(length).encode()),
        ]
        start = self._start(scope, 206, extra, frozenset({b"content-type"}))
        await self._send_spans(send, receive, start, ranges, heads, tail)

    async def _send_spans(
        self,
        send: Send,
        receive: Receive,
        start: dict[str, object],
        spans: list[tuple[int, int]],
        heads: list[bytes] | None = None,
        tail: bytes = b"",
    ) -> None:
        """Send ``start``, then the bytes of each inclusive span (each after its head)."""
        if not heads and len(spans) <= 1:
            first, last = spans[0] if spans else (0, -1)
            if last - first < self.chunk_size:  # the common small file: one hop, read and close
                body = await run_sync(_read_span, self.path, first, last - first + 1)
                self._check_length(body, last - first + 1)
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
        # Opened before the start is sent, so a vanished file fails cleanly.
        file: BinaryIO = await run_sync(open, self.path, "rb")
        watcher = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await send(start)
            for i, (first, last) in enumerate(spans):
                if heads:
                    await send({"type": "http.response.body", "body": heads[i], "more_body": True})
                position = first
                while position <= last:
                    if watcher.done():  # the client left: stop reading the file
                        return
                    wanted = min(self.chunk_size, last - position + 1)
                    chunk = await run_sync(_read_at, file, position, wanted)
                    self._check_length(chunk, wanted)
                    position += wanted
                    final = not tail and position > last and i == len(spans) - 1
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": not final}
                    )
            if tail:
                await send({"type": "http.response.body", "body": tail})
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await run_sync(file.close)

    def _absolute_path(self) -> str:
        # ASGI's pathsend extension wants an absolute path; getcwd() is a cheap syscall.
        return os.path.abspath(self.path)

    def _check_length(self, data: bytes, wanted: int) -> None:
        if len(data) != wanted:
            raise RuntimeError(
                f"FileResponse: {self.path!r} became shorter while it was being sent "
                f"(read {len(data)} of {wanted} bytes)"
            )

    def __repr__(self) -> str:
        return f"<FileResponse {self.status_code} {self.path!r}>"
