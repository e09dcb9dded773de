"""Form body parsing: urlencoded and multipart (python-multipart underneath)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from carboy.datastructures import FormData, Headers, UploadFile
from carboy.exceptions import HTTPException


class FormLimits:
    """Bounds on what a form body may hold (beyond the request body limit)."""

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


def parse_urlencoded(body: bytes) -> FormData:
    """Parse an ``application/x-www-form-urlencoded`` body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "Form body is not valid UTF-8") from None
    return FormData(parse_qsl(text, keep_blank_values=True))


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
        nonlocal files, error
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
        elif len(items) >= limits.max_fields:
            error = error or HTTPException(413, f"Too many fields (limit {limits.max_fields})")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal error
        upload = current.get("file")
        if isinstance(upload, UploadFile):
            upload.write_sync(data[start:end])
        else:
            field_data.extend(data[start:end])
            if len(field_data) > limits.max_field_size:
                error = error or HTTPException(
                    413, f"Form field exceeds {limits.max_field_size} bytes"
                )

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

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_end": on_end,
        },
    )

    async def discard() -> None:
        # The files parsed so far, and the one cut off mid-way (not in items yet).
        partial = current.get("file")
        if isinstance(partial, UploadFile) and not any(v is partial for _, v in items):
            await partial.close()
        await FormData(items).close()

    try:
        async for chunk in stream:
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
