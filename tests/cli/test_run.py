"""``carboy run``: friendly errors before serving, and real servers for new projects."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from carboy import Carboy
from carboy.cli import cli

from .conftest import Invoke, WriteFile

PRODUCTION_APP = """
from carboy import Carboy

app = Carboy()


@app.get("/")
async def home() -> str:
    return "hi"
"""


# -- failing fast, in-process ------------------------------------------------------
def test_no_app(invoke: Invoke, project: Path) -> None:
    result = invoke("run")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: No carboy app found in {project}: looked for ")
    assert "Traceback" not in result.stderr


def test_production_without_a_secret_key(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", PRODUCTION_APP)
    result = invoke("run")
    assert result.exit_code == 1
    assert result.stdout == ""  # no banner: the server never starts
    assert result.stderr.startswith(
        "Error: carboy refuses to start in production without a secret key (debug is off). "
        "Set CARBOY_SECRET_KEY in the environment or in the .env file"
    )
    assert "For local development, set CARBOY_DEBUG=1 instead." in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [["run", "--traceback"], ["--traceback", "run"], ["--traceback", "run", "app:app"]]
)
def test_traceback_on_request(invoke: Invoke, write: WriteFile, args: list[str]) -> None:
    write("app.py", PRODUCTION_APP)
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert "carboy.exceptions.ConfigurationError: carboy refuses to start" in result.stderr
    assert "CARBOY_SECRET_KEY" in result.stderr


def test_reload_and_workers_do_not_mix(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("run", "--reload", "--workers", "2")
    assert result.exit_code == 2
    assert "--reload runs one worker; drop --workers or --reload." in result.output


def test_app_argument_overrides_discovery(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("run", "elsewhere:app")
    assert result.exit_code == 1
    assert "--app 'elsewhere:app': no module named 'elsewhere'" in result.stderr


def test_granian_not_installed(
    invoke: Invoke, hello_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "granian", None)  # makes it unimportable
    result = invoke("run", "--server", "granian")
    assert result.exit_code == 1
    assert "granian is not installed. Install it with: pip install 'carboy[granian]'" in (
        result.stderr
    )


def test_an_app_object_cannot_reload(project: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--reload"], obj=Carboy(debug=True), catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "the server cannot import it again" in result.stderr


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_bad_port(invoke: Invoke, port: str) -> None:
    result = invoke("run", "--port", port)
    assert result.exit_code == 2
    assert "Invalid value for '--port' / '-p'" in result.output


# -- real servers ------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CARBOY_", "PYTEST_"))}


def _carboy(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carboy", *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def _serving(folder: Path, *args: str) -> Iterator[str]:
    """Run ``carboy run --port N ARGS`` in ``folder``; yield its URL once it answers."""
    port = _free_port()
    log = folder.parent / f"server-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "carboy", "run", "--port", str(port), *args],
            cwd=folder,
            env=_clean_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    pytest.fail(f"carboy run exited with {process.returncode}:\n{log.read_text()}")
                try:
                    httpx.get(url + "/", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"carboy run did not answer in 20s:\n{log.read_text()}")
                    time.sleep(0.1)
            yield url
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert process.returncode == 0, log.read_text()
    banner = log.read_text()
    assert f"url     http://127.0.0.1:{port}" in banner
    assert "debug   on" in banner


@pytest.mark.slow
def test_new_project_runs_and_its_tests_pass(tmp_path: Path) -> None:
    created = _carboy("new", "mysite", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    folder = tmp_path / "mysite"
    with _serving(folder) as url:
        home = httpx.get(url + "/")
        css = httpx.get(url + "/static/css/site.css")
        htmx = httpx.get(url + "/static/carboy/htmx.min.js")
        greeting = httpx.get(url + "/greeting", headers={"HX-Request": "true"})
    assert home.status_code == 200
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Welcome to mysite</h1>" in home.text
    assert '<link rel="stylesheet" href="/static/css/site.css">' in home.text
    assert css.status_code == 200
    assert "main {" in css.text
    assert htmx.status_code == 200
    assert greeting.text == "<p>Hello from the server!</p>"

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


@pytest.mark.slow
@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_new_single_file_app_runs_and_its_tests_pass(tmp_path: Path, server: str) -> None:
    if server == "granian":
        pytest.importorskip("granian")
    created = _carboy("new", "app", "--single-file", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    folder = tmp_path / "app"
    with _serving(folder, "--server", server) as url:
        home = httpx.get(url + "/")
        hello = httpx.get(url + "/api/hello", params={"name": "carboy"})
    assert home.status_code == 200
    assert "<h1>Welcome to app</h1>" in home.text
    if server == "uvicorn":  # carboy run turns uvicorn's own Server header off
        assert "server" not in home.headers
    assert hello.status_code == 200
    assert hello.json() == {"message": "Hello, carboy!"}

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


@pytest.mark.slow
def test_a_project_without_its_env_file_explains_the_secret_key(tmp_path: Path) -> None:
    assert _carboy("new", "mysite", cwd=tmp_path).returncode == 0
    folder = tmp_path / "mysite"
    (folder / ".env").unlink()
    result = _carboy("run", "--port", str(_free_port()), cwd=folder)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "carboy refuses to start in production without a secret key" in result.stderr
    assert "CARBOY_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_worker_log_marker_does_not_outlive_the_run(
    invoke: Invoke, hello_app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: `carboy run` set CARBOY_RUN_LOG_LEVEL for its workers and left it
    # in os.environ, so every app built later in the same process reconfigured
    # carboy's loggers (a test suite driving `carboy run` in-process saw that).
    import uvicorn

    from carboy.log import RUN_LOG_LEVEL_ENV

    monkeypatch.delenv(RUN_LOG_LEVEL_ENV, raising=False)
    seen: list[str | None] = []
    monkeypatch.setattr(
        uvicorn, "run", lambda *args, **kwargs: seen.append(os.environ.get(RUN_LOG_LEVEL_ENV))
    )
    result = invoke("run", "--log-level", "warning")
    assert result.exit_code == 0, result.output
    assert seen == ["warning"]  # the workers see it...
    assert RUN_LOG_LEVEL_ENV not in os.environ  # ...and it is gone afterwards


@pytest.mark.parametrize(
    ("args", "reloads"),
    [([], True), (["--no-reload"], False), (["--reload"], True), (["--workers", "2"], False)],
)
def test_debug_mode_reloads_by_default(
    invoke: Invoke,
    hello_app: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    reloads: bool,
) -> None:
    import uvicorn

    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    result = invoke("run", *args)
    assert result.exit_code == 0, result.output
    [(app, options)] = calls
    assert bool(options.get("reload")) is reloads
    assert ("reload on code changes" in result.output) is reloads
    if reloads:
        assert app == "app:app"  # the reloader imports it again in its child process
        assert options["reload_dirs"] == [str(hello_app.parent)]


def test_production_does_not_reload_by_default(
    invoke: Invoke, write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    write(
        "app.py",
        """
        from carboy import Carboy

        app = Carboy(secret_key="k" * 50)
        """,
    )
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    result = invoke("run")
    assert result.exit_code == 0, result.output
    assert "reload" not in calls[0]


# -- the interface granian speaks ----------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [([], "RSGI"), (["--interface", "rsgi"], "RSGI"), (["--interface", "asgi"], "ASGI")],
)
def test_granian_serves_over_rsgi_unless_asked_for_asgi(
    invoke: Invoke,
    hello_app: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    expected: str,
) -> None:
    granian = pytest.importorskip("granian")
    from granian.constants import Interfaces

    calls: list[dict[str, object]] = []

    class Recorder:
        def __init__(self, target: str, **options: object) -> None:
            calls.append({"target": target, **options})

        def serve(self) -> None:
            pass

    monkeypatch.setattr(granian, "Granian", Recorder)
    result = invoke("run", "--server", "granian", "--no-reload", *args)
    assert result.exit_code == 0, result.output
    [options] = calls
    assert options["target"] == "app:app"
    assert options["interface"] is Interfaces[expected]
    assert f"granian ({expected}), 1 worker" in result.output


def test_uvicorn_speaks_asgi_only(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("run", "--interface", "rsgi")
    assert result.exit_code == 2
    assert "--interface rsgi needs --server granian (uvicorn speaks ASGI)." in result.output
