"""The connection limits ``carboy run`` passes to uvicorn and granian.

The slow tests start ``carboy run`` for real and talk to it over a raw
socket: an oversized head, too many headers and a client that sends its
head a byte at a time must each be refused or cut off.
"""

from __future__ import annotations

import pickle
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from carboy.cli._limits import ServerLimits

from .conftest import Invoke, WriteFile
from .test_run import _serving

SERVERS = ["uvicorn", "granian"]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _exchange(url: str, data: bytes, timeout: float = 5) -> bytes:
    """Send ``data`` on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:  # the server may close while we are still sending
            pass
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError:
            pass
        return received


def _status(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


@pytest.fixture
def limits_app(write: WriteFile) -> Path:
    return write(
        "app.py",
        """
        import asyncio

        from carboy import Carboy

        app = Carboy(debug=True)


        @app.get("/")
        async def home() -> str:
            return "hi"


        @app.get("/slow")
        async def slow() -> str:
            await asyncio.sleep(1.5)
            return "slow"
        """,
    )


def _server(server: str) -> None:
    if server == "granian":
        pytest.importorskip("granian")


# -- in-process -------------------------------------------------------------------------


def test_uvicorn_options_survive_pickling_for_worker_processes() -> None:
    options = ServerLimits(header_timeout=3, max_headers=7).uvicorn_options()
    copy = pickle.loads(pickle.dumps(options))
    assert copy["http"].keywords == {
        "header_timeout": 3,
        "max_headers": 7,
        "max_header_size": 16 * 1024,
    }
    assert copy["h11_max_incomplete_event_size"] == 16 * 1024
    assert (copy["timeout_keep_alive"], copy["limit_concurrency"]) == (5, 1000)


def test_granian_options() -> None:
    pytest.importorskip("granian")
    options = ServerLimits(max_header_size=9000, header_timeout=2.5).granian_options()
    assert options["http1_settings"].header_read_timeout == 2500
    assert options["http1_settings"].max_buffer_size == 9000
    assert options["backpressure"] == 1000


@pytest.mark.parametrize(
    ("flag", "error"),
    [
        (["--max-headers", "50"], "--max-headers is fixed at 100 under granian"),
        (["--keep-alive-timeout", "9"], "--keep-alive-timeout is uvicorn's"),
    ],
)
def test_granian_refuses_what_it_cannot_do(
    invoke: Invoke, hello_app: Path, flag: list[str], error: str
) -> None:
    result = invoke("run", "--server", "granian", *flag)
    assert result.exit_code == 2
    assert error in result.output


def test_header_size_below_what_hyper_accepts_is_refused(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("run", "--max-header-size", "100")
    assert result.exit_code == 2
    assert "100 is not in the range x>=8192" in result.output


# -- real servers -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_oversized_head_is_refused(limits_app: Path, server: str) -> None:
    # The review's finding: uvicorn with httptools took a 64 MiB header.
    _server(server)
    with _serving(limits_app.parent, "--server", server) as url:
        ok = _exchange(
            url,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
            + b"a" * 12_000
            + b"\r\n\r\n",
        )
        big = _exchange(
            url,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
            + b"a" * 64_000
            + b"\r\n\r\n",
        )
        long_line = _exchange(url, b"GET /" + b"a" * 64_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _status(ok) == 200
    assert _status(big) == 431
    assert _status(long_line) in (414, 431)


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_too_many_headers_are_refused(limits_app: Path, server: str) -> None:
    # The review's finding: 500,000 headers were accepted.
    _server(server)
    many = b"".join(b"x-%d: 1\r\n" % i for i in range(1000))  # under the size limit
    few = b"".join(b"x-%d: 1\r\n" % i for i in range(90))
    with _serving(limits_app.parent, "--server", server) as url:
        refused = _exchange(url, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        passed = _exchange(
            url, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + few + b"\r\n"
        )
    assert _status(refused) == 431
    assert _status(passed) == 200


@pytest.mark.slow
def test_max_headers_flag_changes_the_limit(limits_app: Path) -> None:
    # uvicorn only: under granian the count is hyper's fixed 100 (the flag is refused).
    headers = b"".join(b"x-%d: 1\r\n" % i for i in range(20))
    with _serving(limits_app.parent, "--max-headers", "10") as url:
        refused = _exchange(url, b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert _status(refused) == 431


@pytest.mark.slow
@pytest.mark.parametrize(
    ("server", "kind"),
    [
        ("uvicorn", "trickle"),
        ("uvicorn", "silent"),
        ("uvicorn", "second request"),
        ("granian", "trickle"),
        # Not ("granian", "silent"): hyper starts its header timer at the first
        # byte, so granian keeps a connection that sends nothing (docs/cli.md).
        ("granian", "second request"),
    ],
)
def test_slow_head_is_cut_off(limits_app: Path, server: str, kind: str) -> None:
    _server(server)
    with (
        _serving(limits_app.parent, "--server", server, "--header-timeout", "1") as url,
        socket.create_connection(("127.0.0.1", _port(url)), timeout=10) as sock,
    ):
        if kind == "second request":
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        closed_after: float | None = None
        try:
            if kind != "silent":
                sock.sendall(b"GET / HTTP/1.1\r\n")
            while time.monotonic() - started < 8:
                if kind != "silent":
                    sock.sendall(b"X")  # one byte of a header name, now and then
                sock.settimeout(0.25)
                try:
                    if sock.recv(65536) == b"":
                        closed_after = time.monotonic() - started
                        break
                except TimeoutError:
                    pass
        except OSError:  # reset by the server
            closed_after = time.monotonic() - started
    assert closed_after is not None, "the slow client was never disconnected"
    assert closed_after < 4


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_normal_clients_are_unaffected(limits_app: Path, server: str) -> None:
    _server(server)
    with (
        _serving(limits_app.parent, "--server", server, "--header-timeout", "1") as url,
        httpx.Client() as client,
    ):
        first = client.get(url + "/")
        time.sleep(1.5)  # idle longer than the header timeout, shorter than keep-alive
        second = client.get(url + "/")
    assert (first.text, second.text) == ("hi", "hi")


@pytest.mark.slow
def test_uvicorn_concurrency_cap_answers_503(limits_app: Path) -> None:
    # uvicorn counts open connections too: 2 lets one slow request through.
    with _serving(limits_app.parent, "--limit-concurrency", "2") as url:
        results: list[int] = []
        slow = threading.Thread(
            target=lambda: results.append(httpx.get(url + "/slow", timeout=10).status_code)
        )
        slow.start()
        time.sleep(0.5)
        busy = httpx.get(url + "/", timeout=10)
        slow.join()
    assert busy.status_code == 503
    assert results == [200]
