"""Real servers and a real browser for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    args: list[str], cwd: Path, port: int, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it answers on ``port``."""
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"server exited early ({process.returncode}):\n{output}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(f"server on port {port} did not answer within 30s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process, killing it if it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo project served by uvicorn on a free port, with a fresh SQLite file."""
    port = free_port()
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    demo = ROOT / "examples" / "demo"
    env = {"CARBOY_DATABASE_URL": f"sqlite:///{db}"}
    for command in (["migrate"], ["loaddata", "demo/fixtures/posts.json"]):
        subprocess.run(
            [sys.executable, "-m", "carboy", *command],
            cwd=demo,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
    process = start_server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "demo.app:app",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
        ],
        demo,
        port,
        env,
    )
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright.

    Module-scoped: Playwright's sync API runs an event loop in the main thread
    while it is open, which would break later tests that start their own loop.
    """
    if not shutil.which(CHROMIUM):
        # Under CI=true this skip fails the run (tests/conftest.py).
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
