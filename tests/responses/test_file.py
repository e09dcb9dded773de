"""FileResponse: content types, validators, conditional GET, ranges, streaming."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from carboy.responses._file import FileResponse
from carboy.types import Message, Receive, Scope, Send

CONTENT = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable


def file_app(make: Callable[[], FileResponse]) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await make()(scope, receive, send)

    return app


def client_for(make: Callable[[], FileResponse]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=file_app(make))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def drive(
    response: FileResponse,
    *,
    method: str = "GET",
    headers: Iterable[tuple[bytes, bytes]] = (),
    disconnect: bool = False,
    scope_extra: dict[str, Any] | None = None,
) -> list[Message]:
    """Run the response as an ASGI app and return every message it sent."""
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": "/",
        "headers": list(headers),
        **(scope_extra or {}),
    }
    sent: list[Message] = []
    idle = asyncio.Event()

    async def receive() -> Message:
        if disconnect:
            return {"type": "http.disconnect"}
        await idle.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await response(scope, receive, send)
    return sent


def bodies(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m["type"] == "http.response.body"]


def header_names(message: Message) -> list[bytes]:
    return [k for k, _ in message["headers"]]


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def etag_of(path: Path) -> str:
    st = path.stat()
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def mtime_of(path: Path) -> float:
    return path.stat().st_mtime


def stat_of(path: Path) -> os.stat_result:
    return path.stat()


def last_modified_of(path: Path) -> str:
    return formatdate(path.stat().st_mtime, usegmt=True)


# -- content types and headers -----------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text/plain; charset=utf-8"),
        ("site.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("module.mjs", "text/javascript; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
        ("data.json", "application/json"),
        ("logo.png", "image/png"),
        ("logo.svg", "image/svg+xml"),
        ("photo.webp", "image/webp"),
        ("font.woff2", "font/woff2"),
        ("app.wasm", "application/wasm"),
        ("UPPER.CSS", "text/css; charset=utf-8"),
        ("backup.tar.gz", "application/gzip"),
        ("mystery.zzqx", "application/octet-stream"),
        ("no_extension", "application/octet-stream"),
        ("data:x.css", "text/css; charset=utf-8"),
    ],
)
async def test_content_type_is_guessed_from_the_name(
    tmp_path: Path, name: str, content_type: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    async with client_for(lambda: FileResponse(path)) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == b"x"


@pytest.mark.anyio
async def test_media_type_argument_and_filename_beat_the_path(data_file: Path) -> None:
    async with client_for(lambda: FileResponse(data_file, media_type="image/png")) as client:
        assert (await client.get("/")).headers["content-type"] == "image/png"
    async with client_for(lambda: FileResponse(data_file, filename="report.pdf")) as client:
        assert (await client.get("/")).headers["content-type"] == "application/pdf"


@pytest.mark.anyio
async def test_full_response_headers(data_file: Path) -> None:
    async with client_for(lambda: FileResponse(str(data_file))) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-length"] == "1024"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == etag_of(data_file)
    assert response.headers["last-modified"] == last_modified_of(data_file)
    assert "content-disposition" not in response.headers


@pytest.mark.anyio
async def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    async with client_for(lambda: FileResponse(path)) as client:
        response = await client.get("/")
        ranged = await client.get("/", headers={"range": "bytes=0-10"})
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-length"] == "0"
    # Nothing to take a range of: the whole (empty) file is the answer.
    assert (ranged.status_code, ranged.content) == (200, b"")


@pytest.mark.anyio
async def test_app_default_headers_are_appended_to_every_kind_of_answer(data_file: Path) -> None:
    defaults = [(b"x-frame-options", b"DENY")]
    etag = etag_of(data_file).encode()
    cases: list[tuple[list[tuple[bytes, bytes]], int]] = [
        ([], 200),
        ([(b"if-none-match", etag)], 304),
        ([(b"range", b"bytes=0-1")], 206),
        ([(b"range", b"bytes=0-1,5-6")], 206),
        ([(b"range", b"bytes=5000-")], 416),
    ]
    for headers, status in cases:
        messages = await drive(
            FileResponse(data_file), headers=headers, scope_extra={"carboy.headers": defaults}
        )
        assert messages[0]["status"] == status
        assert (b"x-frame-options", b"DENY") in messages[0]["headers"]


@pytest.mark.anyio
async def test_given_stat_result_means_no_stat_at_send_time(data_file: Path) -> None:
    response = FileResponse(data_file, stat_result=stat_of(data_file))
    assert response.headers["etag"] == etag_of(data_file)  # known before sending
    messages = await drive(response)
    assert b"".join(m["body"] for m in bodies(messages)) == CONTENT


@pytest.mark.anyio
async def test_explicit_etag_header_is_used_for_comparisons(data_file: Path) -> None:
    make = lambda: FileResponse(data_file, headers={"ETag": '"v7"'})  # noqa: E731
    async with client_for(make) as client:
        plain = await client.get("/")
        cached = await client.get("/", headers={"if-none-match": '"v7"'})
        derived = await client.get("/", headers={"if-none-match": etag_of(data_file)})
    assert plain.headers.get_list("etag") == ['"v7"']
    assert cached.status_code == 304
    assert derived.status_code == 200


# -- conditional GET ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_if_none_match(data_file: Path) -> None:
    etag = etag_of(data_file)
    async with client_for(lambda: FileResponse(data_file)) as client:
        hit = await client.get("/", headers={"if-none-match": etag})
        miss = await client.get("/", headers={"if-none-match": '"something-else"'})
        listed = await client.get("/", headers={"if-none-match": f'"a", W/"b,c", {etag}'})
        star = await client.get("/", headers={"if-none-match": "*"})
        weak = await client.get("/", headers={"if-none-match": f"W/{etag}"})
        unquoted = await client.get("/", headers={"if-none-match": etag.strip('"')})
        head = await client.head("/", headers={"if-none-match": etag})
    for response in (hit, listed, star, weak, head):
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["last-modified"] == last_modified_of(data_file)
        assert "content-length" not in response.headers
        assert "content-type" not in response.headers
    assert (miss.status_code, miss.content) == (200, CONTENT)
    assert (unquoted.status_code, unquoted.content) == (200, CONTENT)


@pytest.mark.anyio
async def test_if_none_match_split_over_two_header_lines(data_file: Path) -> None:
    headers = [(b"if-none-match", b'"nope"'), (b"if-none-match", etag_of(data_file).encode())]
    messages = await drive(FileResponse(data_file), headers=headers)
    assert messages[0]["status"] == 304


@pytest.mark.anyio
async def test_if_modified_since(data_file: Path) -> None:
    mtime = int(mtime_of(data_file))
    exact = last_modified_of(data_file)
    later = formatdate(mtime + 60, usegmt=True)
    earlier = formatdate(mtime - 60, usegmt=True)
    async with client_for(lambda: FileResponse(data_file)) as client:
        same = await client.get("/", headers={"if-modified-since": exact})
        after = await client.get("/", headers={"if-modified-since": later})
        before = await client.get("/", headers={"if-modified-since": earlier})
        garbage = await client.get("/", headers={"if-modified-since": "yesterday-ish"})
    assert (same.status_code, same.content) == (304, b"")
    assert after.status_code == 304
    assert (before.status_code, before.content) == (200, CONTENT)
    assert (garbage.status_code, garbage.content) == (200, CONTENT)


@pytest.mark.anyio
async def test_if_none_match_takes_precedence_over_if_modified_since(data_file: Path) -> None:
    mtime = int(mtime_of(data_file))
    later = formatdate(mtime + 60, usegmt=True)
    earlier = formatdate(mtime - 60, usegmt=True)
    async with client_for(lambda: FileResponse(data_file)) as client:
        # The tag does not match: the date (which alone would give a 304) is not looked at.
        changed = await client.get(
            "/", headers={"if-none-match": '"old"', "if-modified-since": later}
        )
        # The tag matches: 304 even though the date alone would say "modified".
        same = await client.get(
            "/", headers={"if-none-match": etag_of(data_file), "if-modified-since": earlier}
        )
    assert changed.status_code == 200
    assert same.status_code == 304


@pytest.mark.anyio
async def test_conditionals_do_not_apply_to_other_statuses_or_methods(data_file: Path) -> None:
    etag = etag_of(data_file).encode()
    not_found = await drive(
        FileResponse(data_file, status_code=404), headers=[(b"if-none-match", etag)]
    )
    assert not_found[0]["status"] == 404
    assert b"".join(m["body"] for m in bodies(not_found)) == CONTENT
    posted = await drive(FileResponse(data_file), method="POST", headers=[(b"if-none-match", etag)])
    assert posted[0]["status"] == 200


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        ("bytes=-500", 524, 1023),
        ("bytes=-5000", 0, 1023),
        ("bytes=500-", 500, 1023),
        ("bytes=1023-", 1023, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("BYTES=10-19", 10, 19),
        ("bytes= 10-19 ,", 10, 19),
        ("bytes=0-" + "9" * 5000, 0, 1023),
        ("bytes=0-10,5-20", 0, 20),  # overlapping ranges are merged into one
        ("bytes=0-1,5000-6000", 0, 1),  # unsatisfiable ranges are left out
    ],
)
async def test_single_range(data_file: Path, range_header: str, first: int, last: int) -> None:
    async with client_for(lambda: FileResponse(data_file)) as client:
        response = await client.get("/", headers={"range": range_header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/1024"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == CONTENT[first : last + 1]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "range_header",
    ["bytes=1024-", "bytes=2000-3000", "bytes=-0", "bytes=" + "9" * 5000 + "-", "bytes=1024-,-0"],
)
async def test_unsatisfiable_range_is_416(data_file: Path, range_header: str) -> None:
    async with client_for(lambda: FileResponse(data_file)) as client:
        response = await client.get("/", headers={"range": range_header})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */1024"
    assert response.headers["content-length"] == "0"
    assert "content-type" not in response.headers
    assert response.content == b""


@pytest.mark.anyio
@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=abc",
        "bytes=5-2",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=0-1-2",
        "bytes=--1",
        "bytes=1",
        "bytes=+1-2",
        "bytes=0x10-0x20",
        "bytes=\u0663-\u0664",  # Arabic-Indic digits are not ASCII digits
        "items=0-1",
        "0-1",
        "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 202, 2)),  # 101 ranges
    ],
)
async def test_malformed_range_is_ignored(data_file: Path, range_header: str) -> None:
    async with client_for(lambda: FileResponse(data_file)) as client:
        response = await client.get("/", headers={b"range": range_header.encode("utf-8")})
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert response.content == CONTENT


def parse_byteranges(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/byteranges body into (headers, data) parts, checking its framing."""
    match = re.fullmatch(
        r"multipart/byteranges; boundary=([0-9A-Za-z'()+_,\-./:=?]+)", content_type
    )
    assert match, content_type
    delimiter = b"--" + match.group(1).encode()
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for raw in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, blank, data = raw.partition(b"\r\n\r\n")
        assert blank
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        parts.append((headers, data))
    return parts


@pytest.mark.anyio
async def test_multiple_ranges_give_multipart_byteranges(data_file: Path) -> None:
    async with client_for(lambda: FileResponse(data_file, media_type="text/plain")) as client:
        response = await client.get("/", headers={"range": "bytes=500-509, 0-9,-5"})
    assert response.status_code == 206
    assert "content-range" not in response.headers
    assert response.headers["content-length"] == str(len(response.content))
    parts = parse_byteranges(response.headers["content-type"], response.content)
    # The client's order is kept when no ranges overlap.
    assert parts == [
        (
            {"Content-Type": "text/plain; charset=utf-8", "Content-Range": "bytes 500-509/1024"},
            CONTENT[500:510],
        ),
        (
            {"Content-Type": "text/plain; charset=utf-8", "Content-Range": "bytes 0-9/1024"},
            CONTENT[0:10],
        ),
        (
            {"Content-Type": "text/plain; charset=utf-8", "Content-Range": "bytes 1019-1023/1024"},
            CONTENT[1019:],
        ),
    ]


@pytest.mark.anyio
async def test_many_overlapping_ranges_are_merged(data_file: Path) -> None:
    header = "bytes=" + ",".join(["0-"] * 50 + ["10-20"])
    async with client_for(lambda: FileResponse(data_file)) as client:
        response = await client.get("/", headers={"range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 0-1023/1024"
    assert response.content == CONTENT


@pytest.mark.anyio
async def test_overlapping_and_separate_ranges(data_file: Path) -> None:
    async with client_for(lambda: FileResponse(data_file)) as client:
        response = await client.get("/", headers={"range": "bytes=100-110,0-10,5-20,21-30"})
    parts = parse_byteranges(response.headers["content-type"], response.content)
    # Once ranges are merged, the parts come in file order.
    assert [(h["Content-Range"], data) for h, data in parts] == [
        ("bytes 0-30/1024", CONTENT[0:31]),
        ("bytes 100-110/1024", CONTENT[100:111]),
    ]


@pytest.mark.anyio
async def test_multipart_ranges_larger_than_a_chunk(tmp_path: Path) -> None:
    content = os.urandom(10_000)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    messages = await drive(
        FileResponse(path, chunk_size=1000), headers=[(b"range", b"bytes=0-2499,7000-")]
    )
    start = dict(messages[0]["headers"])
    body = b"".join(m["body"] for m in bodies(messages))
    assert start[b"content-length"] == str(len(body)).encode()
    parts = parse_byteranges(start[b"content-type"].decode(), body)
    assert [data for _, data in parts] == [content[:2500], content[7000:]]
    assert all(len(m["body"]) <= 1000 or b"Content-Range" in m["body"] for m in bodies(messages))
    assert [m.get("more_body", False) for m in bodies(messages)][-2:] == [True, False]


@pytest.mark.anyio
async def test_if_range(data_file: Path) -> None:
    etag = etag_of(data_file)
    modified = last_modified_of(data_file)
    other_date = formatdate(mtime_of(data_file) - 3600, usegmt=True)
    cases = [
        (etag, 206),
        ('"another"', 200),
        (f"W/{etag}", 200),  # If-Range needs a strong match
        (modified, 206),
        (other_date, 200),
        ("not a date", 200),
    ]
    async with client_for(lambda: FileResponse(data_file)) as client:
        for if_range, status in cases:
            response = await client.get("/", headers={"range": "bytes=0-9", "if-range": if_range})
            assert response.status_code == status, if_range
            assert response.content == (CONTENT[:10] if status == 206 else CONTENT)


@pytest.mark.anyio
async def test_if_range_with_a_weak_etag_never_matches(data_file: Path) -> None:
    make = lambda: FileResponse(data_file, headers={"etag": 'W/"v1"'})  # noqa: E731
    async with client_for(make) as client:
        response = await client.get("/", headers={"range": "bytes=0-9", "if-range": 'W/"v1"'})
    assert response.status_code == 200


# -- HEAD --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_head_sends_headers_only(data_file: Path) -> None:
    messages = await drive(FileResponse(data_file), method="HEAD")
    start = dict(messages[0]["headers"])
    assert messages[0]["status"] == 200
    assert start[b"content-length"] == b"1024"
    assert start[b"etag"] == etag_of(data_file).encode()
    assert [m["body"] for m in bodies(messages)] == [b""]


@pytest.mark.anyio
async def test_head_ignores_range(data_file: Path) -> None:
    async with client_for(lambda: FileResponse(data_file)) as client:
        response = await client.head("/", headers={"range": "bytes=0-9"})
    assert response.status_code == 200
    assert response.headers["content-length"] == "1024"
    assert response.content == b""


# -- streaming -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_large_file_is_streamed_in_chunks(tmp_path: Path) -> None:
    content = os.urandom(1024 * 1024 + 10)
    path = tmp_path / "large.bin"
    path.write_bytes(content)
    messages = await drive(FileResponse(path))
    chunks = bodies(messages)
    assert len(chunks) == 17  # 16 full 64 KiB chunks and 10 bytes
    assert all(len(m["body"]) <= 64 * 1024 for m in chunks)
    assert [m["more_body"] for m in chunks] == [True] * 16 + [False]
    assert b"".join(m["body"] for m in chunks) == content
    assert dict(messages[0]["headers"])[b"content-length"] == str(len(content)).encode()


@pytest.mark.anyio
async def test_large_range_is_streamed_in_chunks(tmp_path: Path) -> None:
    content = os.urandom(5000)
    path = tmp_path / "f.bin"
    path.write_bytes(content)
    messages = await drive(FileResponse(path, chunk_size=1000), headers=[(b"range", b"bytes=100-")])
    chunks = bodies(messages)
    assert messages[0]["status"] == 206
    assert [len(m["body"]) for m in chunks] == [1000, 1000, 1000, 1000, 900]
    assert b"".join(m["body"] for m in chunks) == content[100:]


@pytest.mark.anyio
async def test_large_file_over_http(tmp_path: Path) -> None:
    content = os.urandom(300_000)
    path = tmp_path / "large.bin"
    path.write_bytes(content)
    async with client_for(lambda: FileResponse(path)) as client:
        response = await client.get("/")
    assert response.content == content


@pytest.mark.anyio
async def test_stops_reading_when_the_client_disconnects(tmp_path: Path) -> None:
    path = tmp_path / "large.bin"
    path.write_bytes(b"x" * 100_000)
    messages = await drive(FileResponse(path, chunk_size=1000), disconnect=True)
    chunks = bodies(messages)
    assert 0 < len(chunks) < 10
    assert all(m["more_body"] for m in chunks)


@pytest.mark.anyio
async def test_pathsend_extension_is_used_when_the_server_offers_it(
    data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_file.parent)
    messages = await drive(
        FileResponse("data.bin"), scope_extra={"extensions": {"http.response.pathsend": {}}}
    )
    assert messages[0]["status"] == 200
    assert messages[1] == {"type": "http.response.pathsend", "path": str(data_file)}


@pytest.mark.anyio
async def test_file_that_shrank_since_its_stat_is_an_error(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 5000)
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 10)
    with pytest.raises(RuntimeError, match=r"became shorter while it was being sent"):
        await drive(FileResponse(small, stat_result=stat_of(big)))
    with pytest.raises(RuntimeError, match=r"read 10 of 1000 bytes"):
        await drive(FileResponse(small, stat_result=stat_of(big), chunk_size=1000))


# -- Content-Disposition -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("filename", "kind", "expected"),
    [
        ("report.pdf", "attachment", 'attachment; filename="report.pdf"'),
        ("my report.pdf", "inline", 'inline; filename="my report.pdf"'),
        ('say "hi"\\.txt', "attachment", 'attachment; filename="say \\"hi\\"\\\\.txt"'),
        (
            "résumé 2024.pdf",
            "attachment",
            'attachment; filename="resume 2024.pdf"; '
            "filename*=utf-8''r%C3%A9sum%C3%A9%202024.pdf",
        ),
        (
            "日本語.txt",
            "attachment",
            "attachment; filename=\"___.txt\"; filename*=utf-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
        ),
        (
            "a\r\nSet-Cookie: x=1.txt",
            "attachment",
            'attachment; filename="a__Set-Cookie: x=1.txt"; '
            "filename*=utf-8''a%0D%0ASet-Cookie%3A%20x%3D1.txt",
        ),
    ],
)
async def test_content_disposition(
    data_file: Path, filename: str, kind: str, expected: str
) -> None:
    make = lambda: FileResponse(  # noqa: E731
        data_file, filename=filename, content_disposition_type=kind
    )
    async with client_for(make) as client:
        response = await client.get("/")
    assert response.headers["content-disposition"] == expected
    assert "set-cookie" not in response.headers


def test_bad_arguments_fail_at_construction(data_file: Path) -> None:
    with pytest.raises(ValueError, match="not an HTTP token"):
        FileResponse(data_file, filename="a.txt", content_disposition_type="attachment; x=1")
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        FileResponse(data_file, chunk_size=0)


# -- missing files -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_missing_file_is_a_clear_error_before_anything_is_sent(tmp_path: Path) -> None:
    missing = tmp_path / "gone.txt"
    response = FileResponse(missing)
    with pytest.raises(FileNotFoundError, match="FileResponse has no file to send") as info:
        await drive(response)
    assert info.value.filename == str(missing)


@pytest.mark.anyio
async def test_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="directory, not a file"):
        await drive(FileResponse(tmp_path))


@pytest.mark.anyio
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_special_file_is_a_clear_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="can only send a regular file"):
        await drive(FileResponse(tmp_path / "pipe"))


@pytest.mark.anyio
async def test_without_validators_requests_cannot_match(data_file: Path) -> None:
    mtime = int(mtime_of(data_file))
    for headers in (
        [(b"if-none-match", b"*")],
        [(b"if-modified-since", formatdate(mtime + 60, usegmt=True).encode())],
        [(b"range", b"bytes=0-1"), (b"if-range", formatdate(mtime, usegmt=True).encode())],
        [(b"range", b"bytes=0-1"), (b"if-range", b'"x"')],
    ):
        response = FileResponse(data_file, stat_result=stat_of(data_file))
        del response.headers["etag"]
        del response.headers["last-modified"]
        messages = await drive(response, headers=headers)
        assert messages[0]["status"] == 200, headers


@pytest.mark.anyio
async def test_file_removed_after_stat_fails_before_the_start_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "soon-gone.bin"
    path.write_bytes(b"x" * 100)
    st = stat_of(path)
    path.unlink()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with pytest.raises(FileNotFoundError):
        await FileResponse(path, stat_result=st)(scope, receive, send)
    with pytest.raises(FileNotFoundError):
        await FileResponse(path, stat_result=st, chunk_size=10)(scope, receive, send)
    assert sent == []


def test_repr(data_file: Path) -> None:
    assert repr(FileResponse(data_file)) == f"<FileResponse 200 {str(data_file)!r}>"
