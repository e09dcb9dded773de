"""``carboy new``: start a project in the conventional layout, or as one file.

The files are package data under ``carboy/cli/project_template/``: ``common/``
goes into every project; a package project adds ``package/`` (pyproject,
README, settings, test fixtures) and then ``project/`` (a site: pages,
templates, static files, htmx) or ``api/`` (a JSON API); a single-file app
adds ``single/``. In their paths,
``project_name`` becomes the project's name, a ``dot-`` prefix becomes ``.``
and the ``.tmpl`` suffix is dropped; in their text, ``${name}``,
``${secret_key}``, ``${carboy_version}``, ``${kind}`` and ``${tree}`` are filled in
(:class:`string.Template`, so ``$$`` is a literal ``$``).
"""

from __future__ import annotations

import keyword
import re
import secrets
import shlex
import string
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

import click
from pydantic import SecretStr
from rich.text import Text

import carboy
from carboy.cli._console import CliError, make_console
from carboy.settings import Settings

_TEMPLATE_DIR = "project_template"
_NAME_PLACEHOLDER = "project_name"
# Names a project must not take: its package would hide the module of that name.
_TAKEN_NAMES = frozenset({"carboy", "tests", "test"}) | frozenset(sys.stdlib_module_names)


@click.command("new")
@click.argument("name")
@click.option(
    "--single-file",
    is_flag=True,
    help="Make one app.py (with its test and .env): the smallest start.",
)
@click.option(
    "--api",
    "api",
    is_flag=True,
    help="Make a JSON-API project: no templates, static files or htmx.",
)
@click.option(
    "--deploy",
    is_flag=True,
    help="Also make deploy/ (Dockerfile, docker-compose.yml with PostgreSQL, Redis, RabbitMQ, "
    "Celery workers and a load balancer) and install the database, cache, channels, tasks "
    "and health batteries.",
)
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to create (default: ./NAME). It must not exist or be empty.",
)
def new(name: str, single_file: bool, api: bool, deploy: bool, directory: Path | None) -> None:
    """Create a new project NAME: a package with a first module and tests.

    \b
      carboy new mysite                 the conventional layout: a site
      carboy new shop --api             the conventional layout: a JSON API
      carboy new blog --single-file     one app.py, the smallest start
      carboy new mysite --deploy        a site ready for many processes and machines
    """
    _check_name(name)
    if api and single_file:
        raise CliError("Choose one of --api and --single-file: an API project is a package.")
    if deploy and single_file:
        raise CliError("Choose one of --deploy and --single-file: a deployed project is a package.")
    layout = _SINGLE if single_file else _API if api else _SITE
    target = directory if directory is not None else Path(name)
    if target.exists():
        if not target.is_dir():
            raise CliError(f"{target} exists and is a file; choose another NAME or --directory.")
        if any(target.iterdir()):
            raise CliError(
                f"The folder {target} already exists and is not empty; carboy new never "
                "overwrites files. Choose another NAME, or --directory for a new folder."
            )
    files = _render(name, layout, deploy=deploy)
    for relative, text in files.items():
        path = target.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    console = make_console()
    kind = layout.kind
    console.print(
        Text.assemble(
            "Created the carboy ", kind, " ", (name, "bold"), " in ", str(target.resolve())
        )
    )
    for relative in sorted(files, key=lambda p: (len(p.parts) > 1, str(p))):
        console.print(Text(f"  {relative}", style="dim"))
    console.print()
    console.print("Next steps:", style="bold")
    console.print(Text(f"  cd {shlex.quote(str(target))}"))
    if layout is _API:
        console.print(Text("  carboy migrate        # create the database's tables"))
        console.print(Text("  carboy run            # then open http://127.0.0.1:8000/docs"))
    else:
        console.print(Text("  carboy run            # then open http://127.0.0.1:8000"))
    console.print(Text("  python -m pytest      # run its tests"))
    if deploy:
        console.print(
            Text("  docker compose -f deploy/docker-compose.yml up --build --scale web=2")
        )


def _check_name(name: str) -> None:
    problem = ""
    if not (name.isascii() and name.isidentifier()):
        problem = (
            "is not a valid Python package name: use letters, digits and underscores, "
            "not starting with a digit"
        )
    elif keyword.iskeyword(name):
        problem = "is a Python keyword"
    elif name in _TAKEN_NAMES:
        problem = "is taken: the project's package would hide the module of that name"
    if problem:
        raise CliError(f"{name!r} {problem}. Try: carboy new {_suggest_name(name)}")


def _suggest_name(name: str) -> str:
    """A valid project name close to ``name`` (``my-site`` -> ``my_site``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    suggestion = re.sub(r"[^0-9a-zA-Z]+", "_", ascii_name).strip("_").lower() or "mysite"
    if suggestion[0].isdigit():
        suggestion = "site_" + suggestion
    if keyword.iskeyword(suggestion) or suggestion in _TAKEN_NAMES:
        suggestion += "_site"
    return suggestion


@dataclass(frozen=True)
class _Layout:
    """One kind of new project: the template folders it is made of, in order."""

    kind: str
    folders: tuple[str, ...]
    #: The "Find your way" tree of its README (``${name}`` is filled in later).
    tree: str = ""


_SITE = _Layout(
    "project",
    ("common", "package", "project"),
    """\
${name}/
  app.py           the app: settings, modules, middleware, wired in one place
  settings.py      the project's settings (CARBOY_* environment variables, .env)
  pages/           a module: the site's pages (one module per feature area)
  templates/       Jinja2 templates, a folder per module
  static/          CSS, images, scripts, served under /static
tests/             the tests (carboy.testing.TestClient)""",
)
_API = _Layout(
    "API project",
    ("common", "package", "api"),
    """\
${name}/
  app.py           the app: settings, modules, middleware, wired in one place
  settings.py      the project's settings (CARBOY_* environment variables, .env)
  api/             a module: the API (carboy.api): a model resource, a typed endpoint
  api/models.py    its tables (carboy.db models)
  migrations/      the database's history (carboy makemigrations, carboy migrate)
tests/             the tests (carboy.testing.TestClient), on a migrated test database
/docs              the API's docs page, /openapi.json its OpenAPI document (in debug)""",
)
_SINGLE = _Layout("single-file app", ("common", "single"))


#: What ``--deploy`` adds to app.py: the batteries whose backends the settings pick
#: (SQLite and in-process in development, PostgreSQL, Redis and Celery in deploy/).
_DEPLOY_IMPORTS = """\
from carboy.cache import Caching
from carboy.channels import Channels
from carboy.db import Database
from carboy.health import Health
from carboy.tasks import Tasks
"""
_DEPLOY_BATTERIES = """
# Each battery's backend comes from the settings: SQLite, memory and in-process in
# development (.env), PostgreSQL, Redis and Celery in deploy/docker-compose.yml.
app.install(Database())
app.install(Caching())
app.install(Channels())
app.install(Tasks())
app.install(Health())  # /healthz and /readyz, for the load balancer
"""
_DEPLOY_ENV = "CARBOY_DATABASE_URL=sqlite:///./${name}.db\n"
_DEPLOY_CONFTEST = 'os.environ.setdefault("CARBOY_DATABASE_URL", "sqlite:///./{name}.db")\n'
#: An API project's tests run on a database of their own, migrated once per run.
_API_CONFTEST = """\
_TEST_DB = os.path.join(tempfile.mkdtemp(prefix="carboy-tests-"), "test.db")
os.environ["CARBOY_DATABASE_URL"] = f"sqlite:///{_TEST_DB}"
"""
_API_FIXTURES = """

@pytest.fixture(scope="session", autouse=True)
def database() -> None:
    \"\"\"The test database, brought up to date by the project's migrations.\"\"\"
    from carboy.db import Database

    app.build()
    app.get_module(Database).migrations.migrate()
"""


def _render(name: str, layout: _Layout, *, deploy: bool = False) -> dict[PurePosixPath, str]:
    """Every file of the new project: its path in the project and its text."""
    api = layout is _API
    imports, batteries = _DEPLOY_IMPORTS, _DEPLOY_BATTERIES
    if api:  # an API project installs its Database itself
        imports = imports.replace("from carboy.db import Database\n", "")
        batteries = batteries.replace("app.install(Database())\n", "")
    env_extra = string.Template(_DEPLOY_ENV).substitute(name=name) if deploy or api else ""
    values = {
        "name": name,
        "secret_key": _new_secret_key(),
        "carboy_version": carboy.__version__,
        "kind": layout.kind,
        "battery_imports": imports if deploy else "",
        "batteries": batteries if deploy else "",
        "env_extra": env_extra,
        # carboy.api (and carboy.db) for an API; the backends deploy/ uses: PostgreSQL
        # (and SQLite), Redis, Celery.
        "carboy_extras": _extras(api=api, deploy=deploy),
        "conftest_extra": _API_CONFTEST
        if api
        else _DEPLOY_CONFTEST.format(name=name)
        if deploy
        else "",
        "conftest_fixtures": _API_FIXTURES if api else "",
        "conftest_imports": "import tempfile\n" if api else "",
        "migrate_step": "$ carboy migrate                  # the database's tables\n"
        if api
        else "",
    }
    values["tree"] = string.Template(layout.tree).substitute(values)
    root = resources.files("carboy.cli").joinpath(_TEMPLATE_DIR)
    files: dict[PurePosixPath, str] = {}
    for folder in (*layout.folders, "deploy") if deploy else layout.folders:
        for parts, source in _walk(root.joinpath(folder)):
            target = PurePosixPath(*(_target_part(part, name) for part in parts))
            text = source.read_text(encoding="utf-8")
            files[target] = string.Template(text).substitute(values)
    return files


def _extras(*, api: bool, deploy: bool) -> str:
    """The extras of the project's carboy requirement: ``[api,postgres,redis,celery]``..."""
    names = (["api"] if api else []) + (["postgres", "redis", "celery"] if deploy else [])
    return f"[{','.join(names)}]" if names else ""


def _walk(
    folder: Traversable, parts: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _walk(entry, (*parts, entry.name))
        elif entry.name.endswith(".tmpl"):
            yield (*parts, entry.name), entry


def _target_part(part: str, name: str) -> str:
    part = part.removesuffix(".tmpl")
    if part == _NAME_PLACEHOLDER:
        return name
    if part.startswith("dot-"):
        return "." + part.removeprefix("dot-")
    return part


def _new_secret_key() -> str:
    """A random key that ``carboy check --deploy`` finds strong."""
    while True:
        key = secrets.token_urlsafe(50)
        settings = Settings.model_construct(secret_key=SecretStr(key))
        found = {check_id for check_id, _ in settings.deploy_warnings()}
        if not found & {"security.W003", "security.E003"}:
            return key
