"""What the harness measures: the frameworks, the tests and the servers, as data."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bench import checks
from bench.common import WSGI_THREADS

Interface = Literal["asgi", "wsgi", "rsgi"]

TFB_TESTS = ("plaintext", "json", "db", "queries", "fortunes", "updates")
#: A path parameter parsed as an int (issue 18): routing cost beside plaintext and JSON.
USERS_TEST = "users"
ALL_TESTS = (*TFB_TESTS, USERS_TEST, "page", "page_sync")
#: The tests every framework answers: TechEmpower's and ``/users/{id:int}``.
PEER_TESTS = (*TFB_TESTS, USERS_TEST)
#: With the full-stack page; ``page_sync`` (in ALL_TESTS) is carboy's page from a sync handler.
PAGE_TESTS = (*PEER_TESTS, "page")
#: The full-stack tests, served by a framework's page app when it has one.
PAGE_ONLY_TESTS = ("page", "page_sync")
#: Tests whose figures are also given as a ratio to the bare callables.
BASELINE_TESTS = ("plaintext", "json", USERS_TEST)
#: The bare callables: the plain one, and one sending carboy's default response headers.
BASELINES = ("bare", "bare_secure")
#: The bare RSGI callable, added with the others when a granian-rsgi run is asked for.
RSGI_BASELINE = "bare_rsgi"
#: The bare RSGI callables: the plain one, and one sending carboy's default response headers.
#: And one that also reads the scope as carboy's native path does (Host, method, scheme).
RSGI_BASELINES = (RSGI_BASELINE, "bare_secure_rsgi", "bare_scope_rsgi")


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
    #: An ASGI app that also serves RSGI (``app.__rsgi__``), so granian-rsgi runs it.
    rsgi: bool = False
    #: The package ``python -c "import X"`` times for the cold-start table (None: no framework).
    import_name: str | None = None
    #: The page tests run against ``bench.apps.<name>_page_app`` (carboy: the TechEmpower
    #: app has no sessions, the site with its auth battery is another app).
    page_app: bool = False
    #: The app module's name in ``bench.apps``; None for ``<name>_app``.
    app_module: str | None = None

    @property
    def module(self) -> str:
        return f"bench.apps.{self.app_module or self.name + '_app'}"

    def for_test(self, test: str) -> Framework:
        """This framework as it serves ``test``: its page app for the page tests."""
        if self.page_app and test in PAGE_ONLY_TESTS:
            return dataclasses.replace(self, app_module=f"{self.name}_page_app")
        return self

    @property
    def target(self) -> str:
        return f"{self.module}:app"


FRAMEWORKS: tuple[Framework, ...] = (
    Framework(
        "bare", "bare ASGI", "asgi", ("plaintext", "json", USERS_TEST), ("orjson",), peer=False
    ),
    Framework(
        "bare_rsgi",
        "bare RSGI",
        "rsgi",
        ("plaintext", "json", USERS_TEST),
        ("orjson",),
        peer=False,
    ),
    Framework(
        "bare_secure",
        "bare + carboy's headers",
        "asgi",
        ("plaintext", "json"),
        ("orjson",),
        peer=False,
    ),
    Framework(
        "bare_secure_rsgi",
        "bare RSGI + carboy's headers",
        "rsgi",
        ("plaintext", "json", USERS_TEST),
        ("orjson",),
        peer=False,
    ),
    Framework(
        "bare_scope_rsgi",
        "bare RSGI + headers + carboy's scope reads",
        "rsgi",
        ("plaintext", "json", USERS_TEST),
        ("orjson",),
        peer=False,
    ),
    Framework(
        "carboy",
        "carboy",
        "asgi",
        ALL_TESTS,
        ("carboy", "asyncpg", "jinja2"),
        peer=False,
        rsgi=True,
        import_name="carboy",
        page_app=True,
    ),
    Framework(
        "starlette",
        "Starlette",
        "asgi",
        PEER_TESTS,
        ("starlette", "asyncpg", "jinja2"),
        import_name="starlette.applications",
    ),
    Framework(
        "fastapi",
        "FastAPI",
        "asgi",
        PAGE_TESTS,
        ("fastapi", "pydantic", "asyncpg", "sqlalchemy", "itsdangerous"),
        import_name="fastapi",
    ),
    Framework(
        "litestar",
        "Litestar",
        "asgi",
        PAGE_TESTS,
        ("litestar", "msgspec", "asyncpg", "sqlalchemy", "cryptography"),
        import_name="litestar",
    ),
    Framework(
        "blacksheep",
        "BlackSheep",
        "asgi",
        PEER_TESTS,
        ("blacksheep", "asyncpg", "jinja2"),
        import_name="blacksheep",
    ),
    Framework(
        "django",
        "Django",
        "asgi",
        PAGE_TESTS,
        ("django", "psycopg", "psycopg-pool"),
        import_name="django.core.asgi",
    ),
    Framework(
        "flask",
        "Flask",
        "wsgi",
        PAGE_TESTS,
        ("flask", "werkzeug", "flask-login", "flask-sqlalchemy", "sqlalchemy", "psycopg"),
        import_name="flask",
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
            USERS_TEST,
            "Path parameter (int)",
            checks.USERS_PATH,
            checks.check_users,
            needs_db=False,
        ),
        Test(
            "page", "Full-stack page (session, user, query, template)", "/page", checks.check_page
        ),
        Test("page_sync", "Full-stack page, sync handler", "/page-sync", checks.check_page_sync),
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
        if "rsgi" in self.interfaces and framework.rsgi:
            return True
        return framework.interface in self.interfaces


def _uvicorn(framework: Framework, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", framework.target,
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _granian(framework: Framework, port: int, interface: Interface | None = None) -> list[str]:
    command = [
        sys.executable, "-m", "granian",
        "--interface", interface or framework.interface,
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--runtime-threads", "1",
        "--loop", "uvloop", "--no-ws",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    if framework.interface == "wsgi":
        # Granian's WSGI default is hundreds of threads; use gunicorn's count.
        command += ["--blocking-threads", str(WSGI_THREADS)]
    return [*command, framework.target]


def _granian_rsgi(framework: Framework, port: int) -> list[str]:
    """granian's RSGI interface, with the granian ASGI server's options (carboy: ``__rsgi__``)."""
    return _granian(framework, port, "rsgi")


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
        Server("granian-rsgi", ("rsgi",), _granian_rsgi, ("granian",)),
        Server("gunicorn", ("wsgi",), _gunicorn, ("gunicorn",)),
    )
}
