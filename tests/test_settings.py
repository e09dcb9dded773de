"""Settings: defaults, environment, .env, precedence, validation and deploy checks."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest

from carboy import Carboy, Request, TemplateResponse, render
from carboy.exceptions import ConfigurationError
from carboy.settings import MIN_SECRET_KEY_LENGTH, Settings
from carboy.testing import TestClient

GOOD_KEY = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test runs in an empty folder with no CARBOY_* variables set."""
    for name in list(os.environ):
        if name.upper().startswith("CARBOY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_env(folder: Path, text: str) -> None:
    (folder / ".env").write_text(text, encoding="utf-8")


# -- defaults and sources -------------------------------------------------
def test_defaults() -> None:
    s = Settings()
    assert s.debug is False
    assert s.secret_key is None
    assert s.secret_key_fallbacks == []
    assert s.allowed_hosts == ["localhost", "127.0.0.1", "[::1]"]
    assert s.max_body_size == 10 * 1024 * 1024
    assert (s.templates_dir, s.static_dir, s.static_url) == ("templates", "static", "/static")
    assert s.https_redirect is False
    assert s.database_url is None
    assert s.server_header is None


def test_default_hosts_are_not_shared_between_instances() -> None:
    a = Settings()
    a.allowed_hosts.append("evil.com")
    assert Settings().allowed_hosts == ["localhost", "127.0.0.1", "[::1]"]


def test_every_field_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_DEBUG", "1")
    monkeypatch.setenv("CARBOY_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("CARBOY_MAX_BODY_SIZE", "2048")
    monkeypatch.setenv("CARBOY_STATIC_URL", "/assets/")
    monkeypatch.setenv("CARBOY_DATABASE_URL", "sqlite+aiosqlite:///app.db")
    s = Settings()
    assert s.debug is True
    assert s.secret_key is not None
    assert s.secret_key.get_secret_value() == GOOD_KEY
    assert s.max_body_size == 2048
    assert s.static_url == "/assets"
    assert s.database_url == "sqlite+aiosqlite:///app.db"


def test_environment_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("carboy_debug", "true")
    assert Settings().debug is True


def test_dotenv_file(clean_env: Path) -> None:
    write_env(
        clean_env,
        "# comment\nCARBOY_DEBUG=true\nCARBOY_SERVER_HEADER=carboy\nUNRELATED=1\n"
        'CARBOY_ALLOWED_HOSTS="example.com,.example.org"\n',
    )
    s = Settings()
    assert s.debug is True
    assert s.server_header == "carboy"
    assert s.allowed_hosts == ["example.com", ".example.org"]


def test_dotenv_file_is_utf8(clean_env: Path) -> None:
    write_env(clean_env, "CARBOY_SERVER_HEADER=café ☕\n")
    assert Settings().server_header == "café ☕"


def test_precedence_arguments_then_environment_then_dotenv_then_default(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(clean_env, "CARBOY_SERVER_HEADER=dotenv\nCARBOY_STATIC_DIR=from-dotenv\n")
    monkeypatch.setenv("CARBOY_SERVER_HEADER", "environment")
    monkeypatch.setenv("CARBOY_TEMPLATES_DIR", "from-env")
    s = Settings(templates_dir="from-argument")
    assert s.templates_dir == "from-argument"  # argument beats environment
    assert s.server_header == "environment"  # environment beats .env
    assert s.static_dir == "from-dotenv"  # .env beats default
    assert s.static_url == "/static"  # default


def test_env_file_can_be_chosen(clean_env: Path) -> None:
    (clean_env / "prod.env").write_text("CARBOY_SERVER_HEADER=prod\n", encoding="utf-8")
    assert Settings(_env_file="prod.env").server_header == "prod"


# -- allowed_hosts forms -----------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["a.com", ".b.com"]', ["a.com", ".b.com"]),
        ("a.com,.b.com", ["a.com", ".b.com"]),
        (" a.com , .B.com ,", ["a.com", ".b.com"]),
        ("*", ["*"]),
        ("solo.example", ["solo.example"]),
        ("", []),
        ("[]", []),
    ],
)
def test_allowed_hosts_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("CARBOY_ALLOWED_HOSTS", raw)
    assert Settings().allowed_hosts == expected


def test_allowed_hosts_as_argument_list_or_string() -> None:
    assert Settings(allowed_hosts=["A.com"]).allowed_hosts == ["a.com"]
    assert Settings(allowed_hosts="a.com,b.com").allowed_hosts == ["a.com", "b.com"]


def test_allowed_hosts_malformed_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_ALLOWED_HOSTS", '["a.com"')
    with pytest.raises(ConfigurationError) as info:
        Settings()
    message = str(info.value)
    assert "allowed_hosts (environment variable CARBOY_ALLOWED_HOSTS)" in message
    assert "not valid JSON" in message
    assert "example.com,.example.org" in message


def test_allowed_hosts_json_of_wrong_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_ALLOWED_HOSTS", "[1, 2]")
    with pytest.raises(ConfigurationError) as info:
        Settings()
    assert "allowed_hosts.0 (environment variable CARBOY_ALLOWED_HOSTS)" in str(info.value)
    assert "valid string" in str(info.value)


# -- bad values ---------------------------------------------------------------
def test_bad_integer_from_environment_names_field_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CARBOY_MAX_BODY_SIZE", "abc")
    with pytest.raises(ConfigurationError) as info:
        Settings()
    assert str(info.value) == (
        "1 setting is invalid in Settings:\n"
        "  max_body_size (environment variable CARBOY_MAX_BODY_SIZE): Input should be a "
        "valid integer, unable to parse string as an integer; got 'abc'"
    )


def test_every_bad_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_MAX_BODY_SIZE", "0")
    monkeypatch.setenv("CARBOY_DEBUG", "perhaps")
    with pytest.raises(ConfigurationError) as info:
        Settings()
    message = str(info.value)
    assert message.startswith("2 settings are invalid in Settings:\n")
    assert "CARBOY_MAX_BODY_SIZE): Input should be greater than 0; got '0'" in message
    assert "CARBOY_DEBUG): Input should be a valid boolean" in message


@pytest.mark.parametrize("url", ["static", "https://cdn.example.com/s", "//cdn.example.com"])
def test_static_url_must_be_a_path(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"static_url .*must be a path starting"):
        Settings(static_url=url)


def test_static_url_root_is_kept() -> None:
    assert Settings(static_url="/").static_url == "/"


def test_bad_secret_value_is_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings(secret_key=12345678901234567890)
    assert "secret_key" in str(info.value)
    assert "12345678901234567890" not in str(info.value)
    assert info.value.__cause__ is None


# -- subclassing --------------------------------------------------------------
class ShopSettings(Settings):
    shop_name: str = "Shop"
    items_per_page: int = 20


def test_subclass_fields_load_from_environment(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("CARBOY_SHOP_NAME", "Cheese")
    write_env(clean_env, "CARBOY_ITEMS_PER_PAGE=50\nCARBOY_DEBUG=1\n")
    s = ShopSettings()
    assert (s.shop_name, s.items_per_page, s.debug) == ("Cheese", 50, True)


def test_subclass_errors_name_the_subclass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_ITEMS_PER_PAGE", "many")
    with pytest.raises(ConfigurationError, match=r"invalid in ShopSettings:\n  items_per_page"):
        ShopSettings()


def test_subclass_can_change_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import SettingsConfigDict

    class AppSettings(Settings):
        model_config = SettingsConfigDict(env_prefix="MYAPP_")
        color: str = "blue"

    monkeypatch.setenv("MYAPP_COLOR", "red")
    monkeypatch.setenv("MYAPP_MAX_BODY_SIZE", "nope")
    with pytest.raises(ConfigurationError, match="environment variable MYAPP_MAX_BODY_SIZE"):
        AppSettings()
    monkeypatch.setenv("MYAPP_MAX_BODY_SIZE", "5")
    s = AppSettings()
    assert (s.color, s.max_body_size) == ("red", 5)


def test_nested_model_fields_use_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import BaseModel

    class Mail(BaseModel):
        host: str = "localhost"
        port: int = 25

    class MailSettings(Settings):
        mail: Mail = Mail()

    monkeypatch.setenv("CARBOY_MAIL__HOST", "smtp.example.com")
    monkeypatch.setenv("CARBOY_MAIL__PORT", "587")
    assert MailSettings().mail == Mail(host="smtp.example.com", port=587)
    monkeypatch.setenv("CARBOY_MAIL__PORT", "x")
    with pytest.raises(
        ConfigurationError, match=r"mail\.port \(environment variable CARBOY_MAIL__PORT\)"
    ):
        MailSettings()


def test_complex_field_with_bad_json_gives_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FlagSettings(Settings):
        flags: dict[str, bool] = {}

    monkeypatch.setenv("CARBOY_FLAGS", "{not json")
    with pytest.raises(ConfigurationError, match=r"flags.*must be JSON"):
        FlagSettings()


# -- secrets stay secret --------------------------------------------------------
def test_secret_never_in_repr_or_str() -> None:
    s = Settings(secret_key=GOOD_KEY, database_url="postgresql://app:hunter2@db:5432/shop")
    for text in (repr(s), str(s), repr(s.secret_key), str(s.secret_key)):
        assert GOOD_KEY not in text
        assert "hunter2" not in text
    assert "postgresql://app:***@db:5432/shop" in repr(s)


def test_database_url_without_password_is_shown() -> None:
    assert "sqlite:///app.db" in repr(Settings(database_url="sqlite:///app.db"))


# -- require_secret_key / validate_for_startup --------------------------------
def test_require_secret_key_returns_it() -> None:
    assert Settings(secret_key=GOOD_KEY).require_secret_key() == GOOD_KEY


@pytest.mark.parametrize("key", [None, ""])
def test_require_secret_key_says_what_to_do(key: str | None) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings(secret_key=key).require_secret_key()
    message = str(info.value)
    assert "CARBOY_SECRET_KEY" in message
    assert ".env" in message
    assert "secret_key=..." in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(50))"' in message


def test_production_refuses_to_start_without_secret() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings().validate_for_startup()
    message = str(info.value)
    assert message.startswith("carboy refuses to start in production without a secret key")
    assert "CARBOY_SECRET_KEY" in message
    assert "secrets.token_urlsafe(50)" in message


def test_production_refuses_short_secret() -> None:
    short = "x" * (MIN_SECRET_KEY_LENGTH - 1)
    with pytest.raises(ConfigurationError) as info:
        Settings(secret_key=short).validate_for_startup()
    message = str(info.value)
    assert f"secret key of {MIN_SECRET_KEY_LENGTH - 1} characters" in message
    assert f"at least {MIN_SECRET_KEY_LENGTH} characters" in message
    assert short not in message


def test_production_accepts_long_secret() -> None:
    Settings(secret_key="y" * MIN_SECRET_KEY_LENGTH).validate_for_startup()


def test_debug_starts_without_secret() -> None:
    Settings(debug=True).validate_for_startup()
    Settings(debug=True, secret_key="short").validate_for_startup()


# -- deploy warnings ------------------------------------------------------------
def ids(settings: Settings) -> list[str]:
    return [check_id for check_id, _ in settings.deploy_warnings()]


def test_good_production_settings_have_no_warnings() -> None:
    s = Settings(
        secret_key=GOOD_KEY,
        allowed_hosts=["example.com"],
        https_redirect=True,
    )
    assert s.deploy_warnings() == []


def test_default_settings_warnings() -> None:
    assert ids(Settings()) == ["security.W003", "security.E004", "security.W006"]


def test_everything_wrong() -> None:
    s = Settings(debug=True, allowed_hosts=["*"], secret_key="x" * 30 + "changeme" + "y" * 30)
    assert ids(s) == [
        "security.E001",
        "security.E002",
        "security.E003",
        "security.E004",
    ]
    messages = dict(s.deploy_warnings())
    assert "CARBOY_DEBUG=0" in messages["security.E001"]
    assert "'*'" in messages["security.E002"]
    assert "contains 'changeme'" in messages["security.E003"]
    assert "xxxx" not in messages["security.E003"]
    assert "CARBOY_HTTPS_REDIRECT=1" in messages["security.E004"]
    assert "secret_key is not set" in dict(Settings().deploy_warnings())["security.W003"]


@pytest.mark.parametrize("word", ["insecure", "dev", "demo", "example", "changeme"])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_development_words_anywhere_in_the_key_are_errors(word: str, where: str) -> None:
    random = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"
    for case in (word, word.upper(), word.title()):
        key = {"start": case + random, "middle": random[:20] + case + random[20:]}.get(
            where, random + case
        )
        s = Settings(secret_key=key, allowed_hosts=["example.com"], https_redirect=True)
        assert ids(s) == ["security.E003"]


def test_https_redirect_off_is_an_error_without_trusted_proxies() -> None:
    base = Settings(secret_key=GOOD_KEY, allowed_hosts=["example.com"])
    assert ids(base) == ["security.E004"]
    assert ids(base.replace(trusted_proxies=["10.0.0.0/8"])) == ["security.W004"]
    assert ids(base.replace(https_redirect=True)) == []


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("secret" + "a1b2c3d4e5" * 6, "development key"),
        ("a1b2c3d4e5" * 4, "weak"),
        ("ab" * 40, "weak"),
    ],
)
def test_weak_secret_key_warning(key: str, words: str) -> None:
    s = Settings(secret_key=key, allowed_hosts=["example.com"], https_redirect=True)
    warnings = s.deploy_warnings()
    assert [check_id for check_id, _ in warnings] == ["security.W003"]
    assert words in warnings[0][1]
    assert key not in warnings[0][1]


def test_session_cookie_secure_is_gone() -> None:
    # The auth battery owns session settings; a leftover CARBOY_ variable is ignored.
    assert "session_cookie_secure" not in Settings.model_fields


def test_local_and_empty_hosts_warn() -> None:
    assert "security.W006" in ids(Settings(allowed_hosts=[]))
    assert "security.W006" in ids(Settings(allowed_hosts=["localhost"]))
    assert "security.W006" not in ids(Settings(allowed_hosts=["localhost", "example.com"]))


# -- replace ------------------------------------------------------------------------
def test_replace_validates_and_converts(monkeypatch: pytest.MonkeyPatch) -> None:
    base = ShopSettings(shop_name="Cheese", allowed_hosts=["example.com"])
    monkeypatch.setenv("CARBOY_SHOP_NAME", "from env")  # not re-read by replace()
    changed = base.replace(debug=True, secret_key=GOOD_KEY, allowed_hosts="a.com,b.com")
    assert type(changed) is ShopSettings
    assert changed.shop_name == "Cheese"
    assert changed.debug is True
    assert changed.allowed_hosts == ["a.com", "b.com"]
    assert changed.require_secret_key() == GOOD_KEY
    assert base.debug is False
    assert base.secret_key is None


def test_replace_rejects_bad_values() -> None:
    with pytest.raises(ConfigurationError, match=r"max_body_size .*greater than 0"):
        Settings().replace(max_body_size=-1)


# -- every field changes what the app does -----------------------------------------
def _client(base_url: str = "http://example.com", **values: Any) -> TestClient:
    settings = Settings(secret_key=GOOD_KEY, allowed_hosts=["example.com"]).replace(**values)
    app = Carboy(settings, root=Path.cwd())

    @app.get("/")
    async def home() -> str:
        return "home"

    @app.get("/page")
    async def page() -> TemplateResponse:
        return render("page.html")

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("kaboom")

    @app.post("/form")
    async def form(request: Request) -> dict[str, int]:
        return {"fields": len((await request.form()).multi_items())}

    return TestClient(app, base_url, raise_server_exceptions=False, follow_redirects=False)


def test_field_debug() -> None:
    assert "kaboom" not in _client().get("/boom").text
    debug = _client(debug=True).get("/boom")
    assert (debug.status_code, "kaboom" in debug.text) == (500, True)


def test_field_secret_key() -> None:
    with pytest.raises(ConfigurationError, match="without a secret key"):
        Settings(allowed_hosts=["example.com"]).validate_for_startup()
    Settings(secret_key=GOOD_KEY).validate_for_startup()


def test_field_secret_key_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    from carboy.auth import BadSignature, Signer

    old_key = "old-" + GOOD_KEY
    token = Signer.from_settings(Settings(secret_key=old_key), salt="test").dumps({"n": 1})
    rotated = Settings(secret_key=GOOD_KEY)
    with pytest.raises(BadSignature):
        Signer.from_settings(rotated, salt="test").loads(token)
    monkeypatch.setenv("CARBOY_SECRET_KEY_FALLBACKS", f'["{old_key}"]')
    rotated = Settings(secret_key=GOOD_KEY)
    assert Signer.from_settings(rotated, salt="test").loads(token) == {"n": 1}
    assert rotated.signing_keys() == [old_key, GOOD_KEY]
    assert old_key not in repr(rotated)
    # Only the current key signs: the old one alone cannot read what is signed now.
    fresh = Signer.from_settings(rotated, salt="test").dumps({"n": 2})
    with pytest.raises(BadSignature):
        Signer.from_settings(Settings(secret_key=old_key), salt="test").loads(fresh)
    # Newest first: the order of several fallbacks is kept, oldest verified too.
    many = Settings(secret_key=GOOD_KEY, secret_key_fallbacks=["b" * 40, "a" * 40])
    assert many.signing_keys() == ["a" * 40, "b" * 40, GOOD_KEY]


def test_debug_without_a_key_signs_with_one_random_key_per_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from carboy import settings as settings_module

    settings_module._dev_key.clear()
    first = Settings(debug=True).signing_keys()
    again = Settings(debug=True, secret_key_fallbacks=["old"]).signing_keys()
    assert len(first) == 1 and len(first[0]) >= 50
    assert again == ["old", first[0]]  # the same key, for every signer of the process
    (record,) = [r for r in caplog.records if r.name == "carboy"]
    assert "signing with a random key made for this process" in record.getMessage()
    assert "CARBOY_SECRET_KEY" in record.getMessage()
    with pytest.raises(ConfigurationError, match="No secret key is set"):
        Settings(debug=False).signing_keys()
    assert Settings(debug=True, secret_key=GOOD_KEY).signing_keys() == [GOOD_KEY]


def test_short_fallback_keys_refuse_production() -> None:
    with pytest.raises(ConfigurationError, match=r"secret_key_fallbacks\[1\] of 5 characters"):
        Settings(
            secret_key=GOOD_KEY, secret_key_fallbacks=[GOOD_KEY, "short"]
        ).validate_for_startup()
    Settings(debug=True, secret_key="x", secret_key_fallbacks=["short"]).validate_for_startup()


def test_field_allowed_hosts() -> None:
    assert _client("http://other.com").get("/").status_code == 400
    assert _client("http://other.com", allowed_hosts=["other.com"]).get("/").status_code == 200


def test_field_max_body_size() -> None:
    assert _client().post("/form", content=b"a=1&b=2").status_code == 200
    assert _client(max_body_size=4).post("/form", content=b"a=1&b=2").status_code == 413


def test_field_templates_dir(clean_env: Path) -> None:
    (clean_env / "pages").mkdir()
    (clean_env / "pages" / "page.html").write_text("from pages", encoding="utf-8")
    assert _client().get("/page").status_code == 500  # no templates/page.html
    assert _client(templates_dir="pages").get("/page").text == "from pages"


def test_field_static_dir(clean_env: Path) -> None:
    (clean_env / "assets").mkdir()
    (clean_env / "assets" / "app.css").write_text("body{}", encoding="utf-8")
    assert _client().get("/static/app.css").status_code == 404
    assert _client(static_dir="assets").get("/static/app.css").text == "body{}"


def test_field_static_url(clean_env: Path) -> None:
    (clean_env / "static").mkdir()
    (clean_env / "static" / "app.css").write_text("body{}", encoding="utf-8")
    assert _client().get("/static/app.css").status_code == 200
    moved = _client(static_url="/assets")
    assert moved.get("/static/app.css").status_code == 404
    assert moved.get("/assets/app.css").text == "body{}"


def test_field_https_redirect() -> None:
    assert _client().get("/?a=1").status_code == 200
    response = _client(https_redirect=True).get("/?a=1")
    assert (response.status_code, response.headers["location"]) == (
        308,
        "https://example.com/?a=1",
    )


def test_field_database_url(clean_env: Path) -> None:
    from carboy.db import Database

    settings = Settings(secret_key=GOOD_KEY, database_url="sqlite:///other.db")
    for url, expected in ((None, "app.db"), ("sqlite:///other.db", "other.db")):
        app = Carboy(settings.replace(database_url=url), root=clean_env)
        db = Database()
        app.install(db)
        app.build()
        assert db.url.database == str(clean_env / expected)


def test_field_server_header() -> None:
    assert "server" not in _client().get("/").headers
    response = _client(server_header="carboy").get("/")
    assert response.headers.get_list("server") == ["carboy"]
    # Also on the answers that do not reach a handler, and over HTTPS.
    assert _client(server_header="carboy").get("/missing").headers["server"] == "carboy"
    assert _client("https://example.com", server_header="x").get("/").headers["server"] == "x"


@pytest.mark.parametrize("value", ["bad\r\nx-injected: 1", "snowman ☃"])
def test_field_server_header_bad_values_stop_start_up(value: str) -> None:
    app = Carboy(Settings(secret_key=GOOD_KEY, server_header=value))
    with pytest.raises(ConfigurationError, match="server_header"):
        app.build()


def test_field_form_max_fields() -> None:
    assert _client().post("/form", data={"a": "1", "b": "2"}).status_code == 200
    assert _client(form_max_fields=1).post("/form", data={"a": "1", "b": "2"}).status_code == 413


def test_field_form_max_files() -> None:
    files = {"a": ("a.txt", b"a"), "b": ("b.txt", b"b")}
    assert _client().post("/form", files=files).status_code == 200
    assert _client(form_max_files=1).post("/form", files=files).status_code == 413


def test_field_form_max_field_size() -> None:
    assert _client().post("/form", data={"a": "x" * 20}).status_code == 200
    assert _client(form_max_field_size=10).post("/form", data={"a": "x" * 20}).status_code == 413


def test_field_trusted_proxies() -> None:
    def proxied(**values: Any) -> str:
        client = _client(**values)
        inner = client._server.app

        async def from_proxy(scope: Any, receive: Any, send: Any) -> None:
            scope["client"] = ("10.1.1.1", 1)
            await inner(scope, receive, send)

        client._server.app = from_proxy
        return client.get("/", headers={"x-forwarded-proto": "https"}).headers.get(
            "strict-transport-security", "none"
        )

    assert proxied() == "none"
    assert proxied(trusted_proxies=["10.0.0.0/8"]).startswith("max-age=")


def test_field_log_format() -> None:
    import io
    import logging

    from carboy import configure_logging

    logger = logging.getLogger("carboy")
    saved = list(logger.handlers), logger.level
    try:
        lines = []
        for fmt in ("text", "json"):
            out = io.StringIO()
            configure_logging(Settings(log_format=fmt), stream=out)
            logging.getLogger("carboy.db").warning("down")
            lines.append(out.getvalue())
    finally:
        logger.handlers[:], logger.level = saved[0], saved[1]
    assert lines[0].rstrip().endswith("WARNING carboy.db: down")
    assert lines[1].startswith("{") and '"message": "down"' in lines[1]


def test_field_access_log(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="carboy.request"):
        _client().get("/")
        assert not [r for r in caplog.records if r.name == "carboy.request"]
        _client(access_log=True).get("/")
    lines = [r.getMessage() for r in caplog.records if r.name == "carboy.request"]
    assert len(lines) == 1
    assert lines[0].startswith("GET / 200 ")


#: The test that proves each field of Settings does something (here, or "module:test").
FIELD_TESTS: dict[str, Any] = {
    "debug": test_field_debug,
    "secret_key": test_field_secret_key,
    "secret_key_fallbacks": test_field_secret_key_fallbacks,
    "allowed_hosts": test_field_allowed_hosts,
    "trusted_proxies": test_field_trusted_proxies,
    "max_body_size": test_field_max_body_size,
    "templates_dir": test_field_templates_dir,
    "static_dir": test_field_static_dir,
    "static_url": test_field_static_url,
    "https_redirect": test_field_https_redirect,
    "database_url": test_field_database_url,
    "cache_url": "tests.cache.test_cache:test_cache_url_setting",
    "tasks_url": "tests.tasks.test_backends:test_the_tasks_url_setting_picks_the_backend",
    "tasks_result_url": (
        "tests.tasks.test_celery:test_a_worker_runs_tasks_and_any_process_reads_the_results"
    ),
    "channels_url": "tests.channels.test_channels:test_channels_url_setting",
    "sessions_url": "tests.auth.test_stores:test_sessions_url_setting_picks_the_store",
    "api_docs": "tests.api.test_module:test_docs_on_in_debug_a_setting_in_production",
    "api_max_page_size": "tests.api.test_resources:test_the_page_size_is_capped_by_the_setting",
    "server_header": test_field_server_header,
    "gc_freeze": "tests.test_lifespan:test_gc_freeze_off_leaves_the_heap_alone",
    "log_format": test_field_log_format,
    "access_log": test_field_access_log,
    "media_dir": "tests.forms.test_module:test_the_media_dir_setting_is_where_uploads_go",
    "media_url": "tests.forms.test_module:test_the_media_url_setting_is_where_uploads_are_served",
    "form_max_fields": test_field_form_max_fields,
    "form_max_files": test_field_form_max_files,
    "form_max_field_size": test_field_form_max_field_size,
    "csrf_trusted_origins": (
        "tests.auth.test_csrf:test_the_trusted_origins_setting_changes_what_may_post"
    ),
    "websocket_allowed_origins": (
        "tests.middleware.test_origins:test_websocket_allowed_origins_setting"
    ),
    "websocket_max_message_size": "tests.test_websockets:test_message_size_limit_closes_with_1009",
    "websocket_max_messages_per_second": (
        "tests.test_websockets:test_message_rate_limit_closes_with_1008"
    ),
}


def test_every_field_has_a_test_that_it_changes_behaviour() -> None:
    assert sorted(FIELD_TESTS) == sorted(Settings.model_fields)
    for test in FIELD_TESTS.values():
        if isinstance(test, str):
            module, _, name = test.partition(":")
            test = getattr(importlib.import_module(module), name)
        assert callable(test), test
