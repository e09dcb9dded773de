"""Form body parsing: urlencoded and multipart (python-multipart underneath)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from carboy.datastructures import FormData, Headers, UploadFile
from carboy.exceptions import HTTPException

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks, QuerystringCallbacks


class FormLimits:
    """Bounds on what a form body may hold (beyond the request body limit).

    The same bounds apply to urlencoded and multipart bodies, checked while the
    body streams in: the request fails with 413 the moment one is passed.

    Args:
        max_fields: Most non-file fields a form may have.
        max_files: Most files a multipart form may carry.
        max_field_size: Largest non-file field value in bytes (for urlencoded
            bodies, as sent, percent-escapes and all; its name is bounded the same).
        spool_threshold: Bytes of an upload kept in memory before it moves to disk.

    Example:
        >>> await request.form(limits=FormLimits(max_fields=20))  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        max_fields: int = 1000,
        max_files: int = 100,
        max_field_size: int = 1024 * 1024,
        spool_threshold: int = 1024 * 1024,
    ) -> None:
        self.max_fields = max_fields
        self.max_files = max_files
        self.max_field_size = max_field_size
        self.spool_threshold = spool_threshold

    def _values(self) -> tuple[int, int, int, int]:
        return (self.max_fields, self.max_files, self.max_field_size, self.spool_threshold)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FormLimits):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable: equal by value, never a dict key

    def __repr__(self) -> str:
        return (
            f"FormLimits(max_fields={self.max_fields}, max_files={self.max_files}, "
            f"max_field_size={self.max_field_size}, spool_threshold={self.spool_threshold})"
        )


def check_form(form: FormData, limits: FormLimits) -> None:
    """Check a form parsed earlier (within other limits) against ``limits``: 413 past one.

    For a form middleware parsed before the handler asked for it with limits
    of its own. Field sizes are measured decoded here (a fresh urlencoded parse
    measures them as sent, percent-escapes and all, which is never less).
    """
    fields = files = 0
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            files += 1
            if files > limits.max_files:
                raise HTTPException(413, f"Too many files (limit {limits.max_files})")
            continue
        fields += 1
        if fields > limits.max_fields:
            raise _too_many_fields(limits)
        if len(value.encode()) > limits.max_field_size or (
            len(name.encode()) > limits.max_field_size
        ):
            raise _field_too_big(limits)


#: A chunk bigger than this is parsed in slices, with the event loop let run
#: between them: one large body in one ASGI message never holds the loop for
#: the whole parse.
_SLICE = 16 * 1024


async def _slices(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in stream:
        if len(chunk) <= _SLICE:
            yield chunk
            continue
        for start in range(0, len(chunk), _SLICE):
            if start:
                await asyncio.sleep(0)
            yield chunk[start : start + _SLICE]


def _too_many_fields(limits: FormLimits) -> HTTPException:
    return HTTPException(413, f"Too many fields (limit {limits.max_fields})")


def _field_too_big(limits: FormLimits) -> HTTPException:
    return HTTPException(413, f"Form field exceeds {limits.max_field_size} bytes")


async def parse_urlencoded(stream: AsyncIterator[bytes], limits: FormLimits) -> FormData:
    """Parse an ``application/x-www-form-urlencoded`` body from ``stream``.

    Fields are counted and measured as they arrive, so a body with too many
    fields or a too-big field fails with 413 without being parsed to its end;
    a body that is not UTF-8 gets 400.
    """
    from python_multipart.multipart import QuerystringParser

    items: list[tuple[str, str | UploadFile]] = []
    field = bytearray()  # "name=value" as sent; "=" marks where the value starts
    value_at = -1

    def on_field_start() -> None:
        nonlocal value_at
        field.clear()
        value_at = -1

    def on_field_name(data: bytes, start: int, end: int) -> None:
        field.extend(data[start:end])
        if len(field) > limits.max_field_size:
            raise _field_too_big(limits)

    def on_field_data(data: bytes, start: int, end: int) -> None:
        nonlocal value_at
        if value_at < 0:
            value_at = len(field)
        field.extend(data[start:end])
        if len(field) - value_at > limits.max_field_size:
            raise _field_too_big(limits)

    def on_field_end() -> None:
        if len(items) >= limits.max_fields:
            raise _too_many_fields(limits)
        split = len(field) if value_at < 0 else value_at
        try:
            name = field[:split].decode("utf-8")
            value = field[split:].decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "Form body is not valid UTF-8") from None
        items.append((unquote_plus(name), unquote_plus(value)))

    callbacks: QuerystringCallbacks = {
        "on_field_start": on_field_start,
        "on_field_name": on_field_name,
        "on_field_data": on_field_data,
        "on_field_end": on_field_end,
    }
    parser = QuerystringParser(callbacks)
    async for chunk in _slices(stream):
        parser.write(chunk)
    parser.finalize()
    return FormData(items)


async def parse_multipart(
    content_type: bytes, stream: AsyncIterator[bytes], limits: FormLimits
) -> FormData:
    """Parse a ``multipart/form-data`` body from ``stream``; 400 if it is malformed."""
    # Imported on first use: an app that takes no uploads does not load the parser.
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "Multipart body has no boundary in its Content-Type")

    items: list[tuple[str, str | UploadFile]] = []
    header_field = bytearray()
    header_value = bytearray()
    part_headers: list[tuple[bytes, bytes]] = []
    current: dict[str, object] = {}
    field_data = bytearray()
    finished = False
    files = 0
    fields = 0
    error: HTTPException | None = None

    def on_part_begin() -> None:
        part_headers.clear()
        current.clear()
        field_data.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        part_headers.append((bytes(header_field).lower(), bytes(header_value)))
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal files, fields, error
        disposition = b""
        ctype = b"text/plain"
        for k, v in part_headers:
            if k == b"content-disposition":
                disposition = v
            elif k == b"content-type":
                ctype = v
        _, opts = parse_options_header(disposition)
        name = opts.get(b"name")
        if name is None:
            error = error or HTTPException(400, "Multipart part has no name")
            return
        current["name"] = name.decode("utf-8", "replace")
        if b"filename" in opts:
            files += 1
            if files > limits.max_files:
                error = error or HTTPException(413, f"Too many files (limit {limits.max_files})")
                return
            current["file"] = UploadFile(
                opts[b"filename"].decode("utf-8", "replace"),
                content_type=ctype.decode("latin-1"),
                headers=Headers(raw=list(part_headers)),
                max_memory=limits.spool_threshold,
            )
        else:
            fields += 1
            if fields > limits.max_fields:
                error = error or _too_many_fields(limits)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal error
        upload = current.get("file")
        if isinstance(upload, UploadFile):
            upload.write_sync(data[start:end])
        else:
            field_data.extend(data[start:end])
            if len(field_data) > limits.max_field_size:
                error = error or _field_too_big(limits)

    def on_part_end() -> None:
        name = current.get("name")
        if not isinstance(name, str):
            return
        upload = current.get("file")
        if isinstance(upload, UploadFile):
            upload.file.seek(0)
            items.append((name, upload))
        else:
            try:
                items.append((name, field_data.decode("utf-8")))
            except UnicodeDecodeError:
                nonlocal error
                error = error or HTTPException(400, f"Form field {name!r} is not valid UTF-8")

    def on_end() -> None:
        nonlocal finished
        finished = True

    callbacks: MultipartCallbacks = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_end": on_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
    except Exception as exc:  # a boundary the parser refuses (over 256 characters...)
        raise HTTPException(400, f"Malformed multipart Content-Type: {exc}") from None

    async def discard() -> None:
        # The files parsed so far, and the one cut off mid-way (not in items yet).
        partial = current.get("file")
        if isinstance(partial, UploadFile) and not any(v is partial for _, v in items):
            await partial.close()
        await FormData(items).close()

    try:
        async for chunk in _slices(stream):
            parser.write(chunk)
            if error is not None:
                break
        if error is None:
            parser.finalize()
    except HTTPException:
        await discard()
        raise
    except Exception as exc:  # python-multipart raises its own errors on bad framing
        await discard()
        raise HTTPException(400, f"Malformed multipart body: {exc}") from None
    if error is not None:
        await discard()
        raise error
    if not finished:
        await discard()
        raise HTTPException(400, "Malformed multipart body: it ends before its closing boundary")
    return FormData(items)
