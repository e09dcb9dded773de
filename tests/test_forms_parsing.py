"""Tests for carboy._forms: urlencoded and multipart parsing with limits."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator

import pytest

from carboy._forms import FormLimits, parse_multipart, parse_urlencoded
from carboy.datastructures import FormData, UploadFile
from carboy.exceptions import HTTPException

CTYPE = b"multipart/form-data; boundary=XyZ"


def part(
    name: str, value: bytes, *, filename: str | None = None, ctype: str | None = None
) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"--XyZ\r\nContent-Disposition: {disposition}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


END = b"--XyZ--\r\n"


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def urlencoded(body: bytes, limits: FormLimits | None = None, size: int = 7) -> FormData:
    return await parse_urlencoded(chunks(body, size), limits or FormLimits())


@pytest.mark.anyio
@pytest.mark.parametrize("size", [1, 3, 7, 1000])
async def test_parse_urlencoded(size: int) -> None:
    form = await urlencoded(b"a=1&a=2&b=%C3%A9&c=&d+e=f+g&&k&=v&x==y", size=size)
    assert form.multi_items() == [
        ("a", "1"),
        ("a", "2"),
        ("b", "é"),
        ("c", ""),
        ("d e", "f g"),
        ("k", ""),
        ("", "v"),
        ("x", "=y"),
    ]
    assert (await urlencoded(b"")).multi_items() == []
    with pytest.raises(HTTPException) as info:
        await urlencoded(b"a=\xff")
    assert (info.value.status_code, info.value.detail) == (400, "Form body is not valid UTF-8")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "limits", "detail"),
    [
        (b"a=1&b=2&c=3", FormLimits(max_fields=2), "Too many fields (limit 2)"),
        (b"a=" + b"x" * 20, FormLimits(max_field_size=10), "Form field exceeds 10 bytes"),
        (b"n" * 20 + b"=1", FormLimits(max_field_size=10), "Form field exceeds 10 bytes"),
        (b"n" * 20, FormLimits(max_field_size=10), "Form field exceeds 10 bytes"),
    ],
)
async def test_urlencoded_limits(body: bytes, limits: FormLimits, detail: str) -> None:
    with pytest.raises(HTTPException) as info:
        await urlencoded(body, limits)
    assert (info.value.status_code, info.value.detail) == (413, detail)


@pytest.mark.anyio
async def test_urlencoded_field_bomb_fails_fast() -> None:
    # The review's shape: millions of empty fields in one body, in one message.
    bomb = b"a=&" * 3_000_000
    read = 0

    async def one_message() -> AsyncIterator[bytes]:
        nonlocal read
        for start in range(0, len(bomb), 1024 * 1024):
            read += 1
            yield bomb[start : start + 1024 * 1024]

    with pytest.raises(HTTPException) as info:
        await parse_urlencoded(one_message(), FormLimits())
    assert (info.value.status_code, info.value.detail) == (413, "Too many fields (limit 1000)")
    assert read == 1  # refused within the first chunk, the rest never read


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
async def test_one_big_chunk_lets_the_loop_run(kind: str) -> None:
    # With limits raised by the app, a long parse still yields to other tasks.
    if kind == "urlencoded":
        body = b"a=1&" * 100_000
    else:
        body = b"".join(part(f"f{i}", b"v") for i in range(5_000)) + END
    limits = FormLimits(max_fields=10**6)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    if kind == "urlencoded":
        form = await parse_urlencoded(chunks(body, len(body)), limits)
    else:
        form = await parse_multipart(CTYPE, chunks(body, len(body)), limits)
    during = ticks - before
    task.cancel()
    assert len(form.multi_items()) == (100_000 if kind == "urlencoded" else 5_000)
    assert during >= len(body) // (64 * 1024)


@pytest.mark.anyio
async def test_fields_and_files_in_small_chunks() -> None:
    body = (
        part("title", "héllo".encode())
        + part("doc", b"line1\r\nline2", filename="a.txt", ctype="text/plain")
        + part("tag", b"a")
        + part("tag", b"b")
        + END
    )
    form = await parse_multipart(CTYPE, chunks(body), FormLimits())
    try:
        assert form["title"] == "héllo"
        assert form.getlist("tag") == ["a", "b"]
        doc = form["doc"]
        assert isinstance(doc, UploadFile)
        assert (doc.filename, doc.content_type, doc.size) == ("a.txt", "text/plain", 12)
        assert doc.headers["content-type"] == "text/plain"
        assert await doc.read() == b"line1\r\nline2"
    finally:
        await form.close()


@pytest.mark.anyio
async def test_file_without_content_type_defaults() -> None:
    form = await parse_multipart(CTYPE, chunks(part("f", b"x", filename="") + END), FormLimits())
    upload = form["f"]
    assert isinstance(upload, UploadFile)
    assert (upload.filename, upload.content_type) == ("", "text/plain")
    await form.close()


@pytest.mark.anyio
async def test_spool_threshold() -> None:
    body = part("f", b"x" * 100, filename="f") + END
    form = await parse_multipart(CTYPE, chunks(body, 30), FormLimits(spool_threshold=50))
    upload = form["f"]
    assert isinstance(upload, UploadFile) and not upload.in_memory
    await form.close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "limits", "status", "detail"),
    [
        (
            part("a", b"1") + part("b", b"2") + END,
            FormLimits(max_fields=1),
            413,
            "Too many fields (limit 1)",
        ),
        (
            part("a", b"1", filename="x") + part("b", b"2", filename="y") + END,
            FormLimits(max_files=1),
            413,
            "Too many files (limit 1)",
        ),
        (
            part("a", b"x" * 20) + END,
            FormLimits(max_field_size=10),
            413,
            "Form field exceeds 10 bytes",
        ),
        (part("a", b"\xff") + END, FormLimits(), 400, "Form field 'a' is not valid UTF-8"),
        (
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n" + END,
            FormLimits(),
            400,
            "Multipart part has no name",
        ),
        (
            part("a", b"1"),
            FormLimits(),
            400,
            "Malformed multipart body: it ends before its closing boundary",
        ),
        (
            part("f", b"partial", filename="f")[:-2],
            FormLimits(),
            400,
            "Malformed multipart body: it ends before its closing boundary",
        ),
    ],
)
async def test_bad_bodies(body: bytes, limits: FormLimits, status: int, detail: str) -> None:
    with pytest.raises(HTTPException) as info:
        await parse_multipart(CTYPE, chunks(body), limits)
    assert (info.value.status_code, info.value.detail) == (status, detail)


@pytest.mark.anyio
async def test_garbage_is_400() -> None:
    with pytest.raises(HTTPException) as info:
        await parse_multipart(CTYPE, chunks(b"\x00\x01garbage\r\n\r\n" * 5), FormLimits())
    assert info.value.status_code == 400
    assert str(info.value.detail).startswith("Malformed multipart body")


@pytest.mark.anyio
async def test_no_boundary() -> None:
    with pytest.raises(HTTPException) as info:
        await parse_multipart(b"multipart/form-data", chunks(b""), FormLimits())
    assert info.value.detail == "Multipart body has no boundary in its Content-Type"


@pytest.mark.anyio
@pytest.mark.parametrize("length", [257, 1000, 70_000])
async def test_overlong_boundary_is_400(length: int) -> None:
    ctype = b"multipart/form-data; boundary=" + b"b" * length
    with pytest.raises(HTTPException) as info:
        await parse_multipart(ctype, chunks(b"--" + b"b" * length + b"--\r\n"), FormLimits())
    assert info.value.status_code == 400
    assert str(info.value.detail).startswith("Malformed multipart Content-Type: Boundary length")


@pytest.mark.anyio
async def test_multipart_field_limit_counts_fields_not_files() -> None:
    body = part("f", b"x", filename="a") + part("g", b"y", filename="b") + part("a", b"1") + END
    form = await parse_multipart(CTYPE, chunks(body), FormLimits(max_fields=1))
    await form.close()
    assert [k for k, _ in form.multi_items()] == ["f", "g", "a"]


@pytest.mark.anyio
async def test_error_from_the_stream_closes_files() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield part("f", b"data", filename="f")[:-4]
        raise HTTPException(413, "too big")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(HTTPException) as info:
            await parse_multipart(CTYPE, failing(), FormLimits())
        gc.collect()
    assert info.value.status_code == 413
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.anyio
async def test_truncated_upload_is_closed() -> None:
    body = part("f", b"data", filename="f")[:-4]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(HTTPException):
            await parse_multipart(CTYPE, chunks(body), FormLimits())
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
