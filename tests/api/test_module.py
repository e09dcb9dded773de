"""The API module: the docs page and document on in debug, a setting in production."""

import hashlib
import re
from pathlib import Path

import pytest

import carboy.api
from carboy import Carboy
from carboy.api import API, DOCS_CSP, OpenAPIConfig
from carboy.settings import Settings
from carboy.testing import TestClient

KEY = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"
STATIC = Path(carboy.api.__file__).parent / "static" / "carboy" / "api"


def _app(settings: Settings, api: API) -> Carboy:
    app = Carboy(settings)

    @api.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    app.install(api)
    return app


def _served(app: Carboy, api: API) -> tuple[int, int]:
    with TestClient(app, base_url="http://localhost") as client:
        return (
            client.get(api.prefix + "/openapi.json").status_code,
            client.get(api.prefix + "/docs").status_code,
        )


@pytest.mark.parametrize(
    ("debug", "setting", "option", "expected"),
    [
        (True, None, None, (200, 200)),  # on by default in debug
        (False, None, None, (404, 404)),  # off by default in production
        (False, True, None, (200, 200)),  # the setting turns them on in production
        (True, False, None, (404, 404)),  # ... or off in debug
        (False, None, True, (200, 200)),  # the option wins over both
        (True, True, False, (404, 404)),
    ],
)
def test_docs_on_in_debug_a_setting_in_production(
    debug: bool, setting: bool | None, option: bool | None, expected: tuple[int, int]
) -> None:
    settings = Settings(debug=debug, secret_key=KEY, api_docs=setting)
    api = API(prefix="/api", docs=option)
    assert _served(_app(settings, api), api) == expected


def test_api_docs_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_API_DOCS", "true")
    monkeypatch.setenv("CARBOY_SECRET_KEY", KEY)
    monkeypatch.delenv("CARBOY_DEBUG", raising=False)
    api = API()
    assert _served(_app(Settings(), api), api) == (200, 200)
    monkeypatch.setenv("CARBOY_API_DOCS", "false")
    api = API()
    assert _served(_app(Settings(), api), api) == (404, 404)


def test_the_docs_page_loads_swagger_ui_from_files_under_a_strict_csp() -> None:
    api = API(prefix="/api", title="Notes <&>", version="1.2", openapi=OpenAPIConfig(home_url="/"))
    app = _app(Settings(debug=True), api)
    with TestClient(app) as client:
        page = client.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == DOCS_CSP
        assert page.headers["cache-control"] == "no-store"
        html = page.text
        assert "Notes &lt;&amp;&gt;" in html  # autoescaped
        assert 'data-openapi-url="/api/openapi.json"' in html
        # No inline script or style: every script has a src, no style attribute or element.
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts and all("src=" in tag for tag in scripts)
        assert "<style" not in html and "style=" not in html
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
            served = client.get(asset)
            assert served.status_code == 200, asset
        js = client.get("/static/carboy/api/docs.js").text
        assert "SwaggerUIBundle(" in js and "validatorUrl: null" in js


def test_docs_paths_are_configurable_and_names_are_namespaced() -> None:
    api = API(
        prefix="/v1",
        name="public",
        openapi=OpenAPIConfig(docs_url="/reference", openapi_url="/schema.json"),
    )
    app = _app(Settings(debug=True), api)
    with TestClient(app) as client:
        assert client.get("/v1/schema.json").status_code == 200
        page = client.get("/v1/reference")
        assert 'data-openapi-url="/v1/schema.json"' in page.text
    assert app.url_path_for("public.docs") == "/v1/reference"


def test_vendored_swagger_ui_matches_its_version_note() -> None:
    note = (STATIC / "VERSION").read_text(encoding="utf-8").splitlines()
    assert note[0].startswith("swagger-ui-dist 5.")
    for line in note:
        if line.startswith("sha256 "):
            name, digest = line.removeprefix("sha256 ").split(": ")
            assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (STATIC / "swagger-ui.LICENSE").read_text(encoding="utf-8")


@pytest.mark.parametrize("debug_first", [True, False])
def test_one_api_on_two_apps_serves_its_docs_as_each_app_decides(debug_first: bool) -> None:
    """The docs routes live on the API; whether they answer is each app's (its settings)."""
    api = API(prefix="/api")
    debug = Carboy(Settings(debug=True))
    production = Carboy(Settings(debug=False, secret_key=KEY, allowed_hosts=["localhost"]))

    @api.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    apps = [debug, production] if debug_first else [production, debug]
    for app in apps:
        app.install(api)
    assert _served(debug, api) == (200, 200)
    assert _served(production, api) == (404, 404)
    assert api.openapi(debug)["paths"].keys() == api.openapi(production)["paths"].keys()
