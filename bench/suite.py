"""What the harness measures: the frameworks, the tests and the servers, as data."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bench import checks
from bench.common import WSGI_THREADS

Interface = Literal["asgi", "wsgi"]

TFB_TESTS = ("plaintext", "json", "db", "queries", "fortunes", "updates")
ALL_TESTS = (*TFB_TESTS, "page")
#: Tests whose figures are also given as a ratio to the bare ASGI callable.
BASELINE_TESTS = ("plaintext", "json")
#: The bare callables: the plain one, and one sending carboy's default response headers.
BASELINES = ("bare", "bare_secure")


@dataclass(frozen=True)
class Framework:
    name: str
    label: str
    interface: Interface
    tests: tuple[str, ...]
    #: Distribution names whose versions the report lists for this framework.
    packages: tuple[str, ...] = ()
    #: A peer is a framework carboy is compared against (not the baseline, not carboy).
    peer: bool = True

    @property
    def module(self) -> str:
        return f"bench.apps.{self.name}_app"

    @property
    def target(self) -> str:
        return f"{self.module}:app"


FRAMEWORKS: tuple[Framework, ...] = (
    Framework("bare", "bare ASGI", "asgi", ("plaintext", "json"), ("orjson",), peer=False),
    Framework(
        "bare_secure",
        "bare + carboy's headers",
        "asgi",
        ("plaintext", "json"),
        ("orjson",),
        peer=False,
    ),
    Framework("carboy", "carboy", "asgi", ALL_TESTS, ("carboy", "asyncpg", "jinja2"), peer=False),
    Framework("starlette", "Starlette", "asgi", TFB_TESTS, ("starlette", "asyncpg", "jinja2")),
    Framework("fastapi", "FastAPI", "asgi", TFB_TESTS, ("fastapi", "pydantic", "asyncpg")),
    Framework("litestar", "Litestar", "asgi", TFB_TESTS, ("litestar", "msgspec", "asyncpg")),
    Framework("django", "Django", "asgi", ALL_TESTS, ("django", "psycopg", "psycopg-pool")),
    Framework(
        "flask",
        "Flask",
        "wsgi",
        ALL_TESTS,
        ("flask", "werkzeug", "flask-login", "flask-sqlalchemy", "sqlalchemy", "psycopg"),
    ),
)
FRAMEWORKS_BY_NAME = {framework.name: framework for framework in FRAMEWORKS}


@dataclass(frozen=True)
class Test:
    name: str
    title: str
    #: Path and query string wrk requests, with ``{queries}`` filled in.
    path: str
    check: checks.Check
    needs_db: bool = True

    def url_path(self, queries: int) -> str:
        return self.path.format(queries=queries)


TESTS: dict[str, Test] = {
    test.name: test
    for test in (
        Test("plaintext", "Plaintext", "/plaintext", checks.check_plaintext, needs_db=False),
        Test("json", "JSON serialization", "/json", checks.check_json, needs_db=False),
        Test("db", "Single query", "/db", checks.check_db),
        Test("queries", "Multiple queries", "/queries?queries={queries}", checks.check_queries),
        Test("fortunes", "Fortunes", "/fortunes", checks.check_fortunes),
        Test("updates", "Updates", "/updates?queries={queries}", checks.check_updates),
        Test(
            "page", "Full-stack page (session, user, query, template)", "/page", checks.check_page
        ),
    )
}


@dataclass(frozen=True)
class Server:
    name: str
    interfaces: tuple[Interface, ...]
    #: (framework, port) -> the command line, without CPU pinning.
    command: Callable[[Framework, int], list[str]]
    packages: tuple[str, ...]

    def serves(self, framework: Framework) -> bool:
        return framework.interface in self.interfaces


def _uvicorn(framework: Framework, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", framework.target,
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _granian(framework: Framework, port: int) -> list[str]:
    command = [
        sys.executable, "-m", "granian",
        "--interface", framework.interface,
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--runtime-threads", "1",
        "--loop", "uvloop", "--no-ws",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    if framework.interface == "wsgi":
        # Granian's WSGI default is hundreds of threads; use gunicorn's count.
        command += ["--blocking-threads", str(WSGI_THREADS)]
    return [*command, framework.target]


def _gunicorn(framework: Framework, port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", framework.target,
        "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--worker-class", "gthread", "--threads", str(WSGI_THREADS),
        "--log-level", "warning",
    ]  # fmt: skip


SERVERS: dict[str, Server] = {
    server.name: server
    for server in (
        Server("uvicorn", ("asgi",), _uvicorn, ("uvicorn", "uvloop", "httptools")),
        Server("granian", ("asgi", "wsgi"), _granian, ("granian",)),
        Server("gunicorn", ("wsgi",), _gunicorn, ("gunicorn",)),
    )
}
