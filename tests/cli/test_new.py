"""``carboy new``: the conventional layout and the single-file start."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import carboy
from carboy.cli import discover_app
from carboy.settings import Settings
from carboy.testing import TestClient

from .conftest import Invoke

PROJECT_FILES = {
    ".env",
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "mysite/__init__.py",
    "mysite/app.py",
    "mysite/settings.py",
    "mysite/pages/__init__.py",
    "mysite/templates/base.html",
    "mysite/templates/pages/home.html",
    "mysite/static/css/site.css",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/test_pages.py",
}
API_FILES = {
    ".env",
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "shop/__init__.py",
    "shop/app.py",
    "shop/settings.py",
    "shop/api/__init__.py",
    "shop/api/models.py",
    "shop/migrations/20261202_1734_58ae98be7c23_add_notes.py",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/test_api.py",
}
SINGLE_FILES = {".env", ".gitignore", "app.py", "test_app.py"}


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _env(folder: Path) -> dict[str, str]:
    lines = (folder / ".env").read_text().splitlines()
    pairs = (line.partition("=") for line in lines if line and not line.startswith("#"))
    return {key: value for key, _, value in pairs}


def test_the_conventional_layout(invoke: Invoke, project: Path) -> None:
    result = invoke("new", "mysite")
    assert result.exit_code == 0, result.output
    target = project / "mysite"
    assert _files(target) == PROJECT_FILES
    assert f"Created the carboy project mysite in {target}" in result.output
    assert "Next steps:\n  cd mysite\n  carboy run" in result.output

    pyproject = tomllib.loads((target / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "mysite"
    assert pyproject["project"]["dependencies"] == [f"carboy>={carboy.__version__}"]
    assert pyproject["tool"]["pytest"]["ini_options"]["pythonpath"] == ["."]
    assert ".env" in (target / ".gitignore").read_text().splitlines()
    home = (target / "mysite/templates/pages/home.html").read_text()
    assert '{% extends "base.html" %}' in home
    base = (target / "mysite/templates/base.html").read_text()
    assert "{{ static('css/site.css') }}" in base
    assert "{{ static('carboy/htmx.min.js') }}" in base
    assert "from mysite.pages import pages" in (target / "mysite/app.py").read_text()


def test_every_file_is_filled_in_and_python_compiles(invoke: Invoke, project: Path) -> None:
    assert invoke("new", "mysite").exit_code == 0
    for path in (project / "mysite").rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text()
        assert "${" not in text and "project_name" not in text, path
        if path.suffix == ".py":
            compile(text, str(path), "exec")


def test_the_env_file_has_debug_and_a_strong_fresh_key(invoke: Invoke, project: Path) -> None:
    assert invoke("new", "one").exit_code == 0
    assert invoke("new", "two").exit_code == 0
    first, second = _env(project / "one"), _env(project / "two")
    assert first["CARBOY_DEBUG"] == "true"
    key = first["CARBOY_SECRET_KEY"]
    assert len(key) >= 60
    assert key != second["CARBOY_SECRET_KEY"]
    settings = Settings(secret_key=key)
    found = {check_id for check_id, _ in settings.deploy_warnings()}
    assert not found & {"security.W003", "security.E003"}


def test_the_generated_project_serves_its_home_page_in_process(
    invoke: Invoke, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("new", "mysite").exit_code == 0
    monkeypatch.chdir(project / "mysite")  # where its .env is read
    found = discover_app()
    assert found.import_string == "mysite.app:app"
    with TestClient(found.app) as client:
        home = client.get("/")
        css = client.get("/static/css/site.css")
        greeting = client.get("/greeting")
    assert home.status_code == 200
    assert "<h1>Welcome to mysite</h1>" in home.text
    assert '<script src="/static/carboy/htmx.min.js" defer></script>' in home.text
    assert '<button hx-get="/greeting" hx-target="#greeting">' in home.text
    assert css.status_code == 200
    assert greeting.text == "<p>Hello from the server!</p>"
    assert found.app.debug is True
    # A strict Content-Security-Policy, with a fresh nonce each request.
    policy = home.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "object-src 'none'" in policy
    assert policy != greeting.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "<style" not in home.text and "<script>" not in home.text  # nothing inline
    assert '"includeIndicatorStyles": false' in home.text  # htmx adds no inline <style>


def test_the_readme_installs_with_the_pip_of_a_fresh_venv(invoke: Invoke, project: Path) -> None:
    # ``pip install --group`` needs pip 25.1; Python 3.11's venv ships an older pip.
    assert invoke("new", "mysite").exit_code == 0
    readme = (project / "mysite/README.md").read_text()
    assert "pip install -e '.[dev]'" in readme
    assert "--group" not in readme
    pyproject = tomllib.loads((project / "mysite/pyproject.toml").read_text())
    assert "dependency-groups" not in pyproject
    dev = pyproject["project"]["optional-dependencies"]["dev"]
    assert any(req.startswith("pytest") for req in dev)
    assert any(req.startswith("carboy[testing]") for req in dev)


#: Run in the generated project (a process of its own: its models stay out of this one's).
API_CHECK = """
import json
from openapi_spec_validator import validate
from carboy.testing import TestClient
from shop.app import app

with TestClient(app) as client:
    document = client.get("/openapi.json")
    validate(document.json())
    docs = client.get("/docs")
    created = client.post("/notes", json={"title": "First"})
    listed = client.get("/notes")
    hello = client.get("/hello", params={"name": "Ada"})
    bad = client.get("/hello", params={"name": ""})
    home = client.get("/")
print(json.dumps({
    "paths": sorted(document.json()["paths"]),
    "docs": [docs.status_code, docs.headers["content-type"]],
    "created": [created.status_code, created.json()],
    "listed": listed.json(),
    "hello": hello.json(),
    "bad": [bad.status_code, bad.headers["content-type"]],
    "home": [home.status_code, home.headers["content-type"]],
    "csp": hello.headers["content-security-policy"],
}))
"""


def test_api_project(invoke: Invoke, project: Path) -> None:
    result = invoke("new", "shop", "--api")
    assert result.exit_code == 0, result.output
    target = project / "shop"
    assert _files(target) == API_FILES
    assert "Created the carboy API project shop" in result.output
    readme = (target / "README.md").read_text()
    assert "api/             a module: the API (carboy.api)" in readme
    assert "templates" not in readme and "htmx" not in readme
    for path in target.rglob("*.py"):
        text = path.read_text()
        assert "${" not in text and "project_name" not in text, path
        assert "htmx" not in text and "render(" not in text, path
    assert _env(target)["CARBOY_DATABASE_URL"] == "sqlite:///./shop.db"
    pyproject = tomllib.loads((target / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"] == [f"carboy[api]>={carboy.__version__}"]
    carboy_cli = [sys.executable, "-m", "carboy"]
    migrated = _run([*carboy_cli, "migrate"], target)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Applied 1 migration" in migrated.stdout
    # The migration shipped is what makemigrations makes of the models: nothing to add.
    again = _run([*carboy_cli, "makemigrations"], target)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes detected" in again.stdout
    assert _files(target) - API_FILES == {"shop/shop.db"}
    checked = _run([sys.executable, "-c", API_CHECK], target)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = json.loads(checked.stdout.splitlines()[-1])
    assert found["paths"] == ["/hello", "/notes", "/notes/{id}"]
    assert found["docs"] == [200, "text/html; charset=utf-8"]
    assert found["created"][0] == 201 and found["created"][1]["title"] == "First"
    assert [row["title"] for row in found["listed"]["items"]] == ["First"]
    assert found["hello"] == {"message": "Hello, Ada!", "service": "shop"}
    assert found["bad"] == [422, "application/problem+json"]
    assert found["home"][0] == 404
    assert found["csp"] == "default-src 'none'; frame-ancestors 'none'"
    # The project's own tests, on a test database of their own (shop.db keeps its row).
    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], target)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout


def test_api_and_single_file_do_not_mix(invoke: Invoke, project: Path) -> None:
    result = invoke("new", "shop", "--api", "--single-file")
    assert result.exit_code == 1
    assert "Choose one of --api and --single-file" in result.output
    assert not (project / "shop").exists()


def test_single_file(invoke: Invoke, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("new", "blog", "--single-file")
    assert result.exit_code == 0, result.output
    target = project / "blog"
    assert _files(target) == SINGLE_FILES
    assert "Created the carboy single-file app blog" in result.output
    monkeypatch.chdir(target)
    found = discover_app()
    assert found.import_string == "app:app"
    with TestClient(found.app) as client:
        home = client.get("/")
        hello = client.get("/api/hello", params={"name": "you"})
    assert home.status_code == 200
    assert "<h1>Welcome to blog</h1>" in home.text
    assert hello.json() == {"message": "Hello, you!"}
    assert "script-src 'self' 'nonce-" in home.headers["content-security-policy"]


DEPLOY_FILES = {".dockerignore", "deploy/Dockerfile", "deploy/docker-compose.yml",
                "deploy/nginx.conf", "tests/test_health.py"}  # fmt: skip
DOCS_DEPLOY = Path(carboy.__file__).resolve().parents[1] / "docs" / "deploy"


@pytest.mark.parametrize(("name", "extra", "files"), [
    ("mysite", [], PROJECT_FILES), ("shop", ["--api"], API_FILES),
])  # fmt: skip
def test_deploy_writes_the_multi_machine_layout_and_wires_the_batteries(
    invoke: Invoke, project: Path, name: str, extra: list[str], files: set[str]
) -> None:
    import yaml

    result = invoke("new", name, "--deploy", *extra)
    assert result.exit_code == 0, result.output
    target = project / name
    assert (
        _files(target)
        == {f.replace("mysite", name).replace("shop", name) for f in files} | DEPLOY_FILES
    )
    assert "docker compose -f deploy/docker-compose.yml up --build --scale web=2" in result.output
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert (
                "${" not in text.replace("${CARBOY_SECRET_KEY", "") and "project_name" not in text
            ), path
    compose = yaml.safe_load((target / "deploy/docker-compose.yml").read_text())
    assert set(compose["services"]) == {
        "migrate", "web", "worker", "beat", "lb", "postgres", "redis", "rabbitmq"
    }  # fmt: skip
    env = compose["x-carboy"]["environment"]
    assert env["CARBOY_DATABASE_URL"] == f"postgresql://{name}:{name}@postgres:5432/{name}"
    assert env["CARBOY_SECRET_KEY"] == "${CARBOY_SECRET_KEY:?set CARBOY_SECRET_KEY}"
    assert {"CARBOY_CACHE_URL", "CARBOY_CHANNELS_URL", "CARBOY_TASKS_URL"} <= set(env)
    assert f"ENV CARBOY_APP={name}.app:app" in (target / "deploy/Dockerfile").read_text()
    assert "$connection_upgrade" in (target / "deploy/nginx.conf").read_text()
    assert ".env" in (target / ".dockerignore").read_text().splitlines()
    pyproject = tomllib.loads((target / "pyproject.toml").read_text())
    extras = "api,postgres,redis,celery" if extra == ["--api"] else "postgres,redis,celery"
    deps = [f"carboy[{extras}]>={carboy.__version__}"]
    assert pyproject["project"]["dependencies"] == deps
    assert _env(target)["CARBOY_DATABASE_URL"] == f"sqlite:///./{name}.db"
    # The project's own tests (its health checks included) pass, with and without its .env.
    for keep_env in (True, False):
        if not keep_env:
            (target / ".env").unlink()
        tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], target)
        assert tests.returncode == 0, tests.stdout + tests.stderr


def test_docs_deploy_is_what_carboy_new_deploy_writes(invoke: Invoke, project: Path) -> None:
    """docs/deploy/ shows the files for a project named mysite, never out of step."""
    assert invoke("new", "mysite", "--deploy").exit_code == 0
    for name in ("Dockerfile", "docker-compose.yml", "nginx.conf"):
        written = (project / "mysite" / "deploy" / name).read_text()
        assert (DOCS_DEPLOY / name).read_text() == written, name


def test_deploy_and_single_file_do_not_mix(invoke: Invoke, project: Path) -> None:
    result = invoke("new", "blog", "--deploy", "--single-file")
    assert result.exit_code == 1
    assert "Choose one of --deploy and --single-file" in result.output
    assert not (project / "blog").exists()


def test_directory_option(invoke: Invoke, project: Path) -> None:
    result = invoke("new", "mysite", "--directory", "somewhere/else")
    assert result.exit_code == 0, result.output
    assert _files(project / "somewhere/else") == PROJECT_FILES
    assert "cd somewhere/else" in result.output


def test_an_empty_existing_folder_is_fine(invoke: Invoke, project: Path) -> None:
    (project / "mysite").mkdir()
    assert invoke("new", "mysite").exit_code == 0
    assert _files(project / "mysite") == PROJECT_FILES


def test_refuses_a_folder_that_is_not_empty(invoke: Invoke, project: Path) -> None:
    (project / "mysite").mkdir()
    (project / "mysite" / "notes.txt").write_text("keep me")
    result = invoke("new", "mysite")
    assert result.exit_code == 1
    assert "already exists and is not empty; carboy new never overwrites files" in result.stderr
    assert _files(project / "mysite") == {"notes.txt"}
    assert (project / "mysite" / "notes.txt").read_text() == "keep me"


def test_refuses_a_file_in_the_way(invoke: Invoke, project: Path) -> None:
    (project / "mysite").write_text("")
    result = invoke("new", "mysite")
    assert result.exit_code == 1
    assert "mysite exists and is a file" in result.stderr


@pytest.mark.parametrize(
    ("name", "problem", "suggestion"),
    [
        ("my-site", "is not a valid Python package name", "my_site"),
        ("My Site!", "is not a valid Python package name", "my_site"),
        ("1st", "is not a valid Python package name", "site_1st"),
        ("café", "is not a valid Python package name", "cafe"),
        ("@@", "is not a valid Python package name", "mysite"),
        ("class", "is a Python keyword", "class_site"),
        ("json", "is taken", "json_site"),
        ("carboy", "is taken", "carboy_site"),
        ("tests", "is taken", "tests_site"),
    ],
)
def test_invalid_names_get_a_suggestion(
    invoke: Invoke, project: Path, name: str, problem: str, suggestion: str
) -> None:
    result = invoke("new", name)
    assert result.exit_code == 1
    assert f"Error: {name!r} {problem}" in result.stderr
    assert result.stderr.rstrip().endswith(f"Try: carboy new {suggestion}")
    assert list(project.iterdir()) == []


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARBOY_", "PYTEST_"))}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slow
def test_new_projects_install_by_their_readme_and_pass_their_tests(tmp_path: Path) -> None:
    """In a fresh venv (its own old pip) with carboy installed editable, as a user would."""
    repo = Path(carboy.__file__).resolve().parents[1]
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = str(venv / "bin" / "python")
    installed = _run([python, "-m", "pip", "install", "-q", "-e", str(repo)], tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    for name, extra, passed in [("mysite", [], "3 passed"), ("shop", ["--api"], "4 passed")]:
        created = _run([python, "-m", "carboy", "new", name, *extra], tmp_path)
        assert created.returncode == 0, created.stdout + created.stderr
        folder = tmp_path / name
        readme = (folder / "README.md").read_text()
        [install] = [line for line in readme.splitlines() if line.startswith("$ pip install")]
        command = [python, "-m", *shlex.split(install.removeprefix("$ ").split("#")[0])]
        done = _run(command, folder)
        assert done.returncode == 0, done.stdout + done.stderr

        tests = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], folder)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert passed in tests.stdout
        # Neither carboy's tests/ and bench/ nor the project's tests/ leak onto the
        # path through an editable install: `import tests` means the folder you are in.
        found = _run([python, "-c", "import tests, sys; print(tests.__file__)"], folder)
        assert found.stdout.strip() == str(folder / "tests" / "__init__.py"), found.stderr
        elsewhere = _run([python, "-c", "import tests"], tmp_path)
        assert "No module named 'tests'" in elsewhere.stderr
