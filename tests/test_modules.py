"""Tests for carboy.modules: what app.install(module) brings, and start-up checks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import click
import pytest

from carboy import Carboy, CheckLevel, CheckMessage, Depends, HTTPException, Module, Request
from carboy.exceptions import ConfigurationError, SetupError
from carboy.testing import TestClient


class Greeter:
    def __init__(self, word: str) -> None:
        self.word = word


class ModuleError(Exception):
    pass


def make_shop(tmp_path: Path) -> Module:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "shop.html").write_text("<h1>{{ title }} {{ extra }}</h1>")
    (tmp_path / "templates" / "shared.html").write_text("from the module")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "shop.css").write_text("body{}")
    shop = Module("shop", prefix="/shop", templates="templates", static="static", root=tmp_path)
    shop.provide(Greeter, Greeter("hello"))

    @shop.get("/")
    async def index(request: Request, greeter: Greeter) -> str:
        html = await request.app.templates.render(
            "shop.html", {"title": greeter.word}, request=request
        )
        return html

    @shop.get("/fail")
    async def fail() -> None:
        raise ModuleError("module failure")

    @shop.exception_handler(ModuleError)
    async def handle(request: Request, exc: ModuleError) -> tuple[str, int]:
        return "handled by the module", 409

    @shop.context_processor
    def extra(request: Request) -> dict[str, str]:
        return {"extra": "ctx"}

    @shop.command("restock")
    def restock() -> None:  # pragma: no cover
        click.echo("done")

    return shop


def test_install_brings_everything(tmp_path: Path) -> None:
    shop = make_shop(tmp_path)
    app = Carboy(debug=True, root=tmp_path / "app")
    log: list[str] = []
    shop.on_startup(lambda: log.append("shop up"))
    app.install(shop)
    assert app.install(shop) is None  # installing twice is a no-op
    with TestClient(app) as client:
        assert log == ["shop up"]
        assert client.get("/shop/").text == "<h1>hello ctx</h1>"
        response = client.get("/shop/fail")
        assert (response.status_code, response.text) == (409, "handled by the module")
        response = client.get("/static/shop.css")
        assert (response.status_code, response.text) == (200, "body{}")
    assert app.url_path_for("shop.index") == "/shop/"
    assert [c.name for c in shop.commands] == ["restock"]
    assert shop.templates_dir == tmp_path / "templates"
    assert shop.static_dir == tmp_path / "static"
    assert Greeter in app.providers_by_type


def test_the_app_overrides_its_modules(tmp_path: Path) -> None:
    shop = make_shop(tmp_path)
    app_root = tmp_path / "app"
    (app_root / "templates").mkdir(parents=True)
    (app_root / "templates" / "shared.html").write_text("from the app")
    app = Carboy(debug=True, root=app_root)
    app.provide(Greeter, Greeter("app wins"))

    @app.exception_handler(ModuleError)
    async def app_handler(request: Request, exc: ModuleError) -> tuple[str, int]:
        return "handled by the app", 400

    app.install(shop)
    with TestClient(app) as client:
        assert client.get("/shop/").text == "<h1>app wins ctx</h1>"
        assert client.get("/shop/fail").text == "handled by the app"
    assert app.templates.render_sync("shared.html") == "from the app"


def test_setup_is_called_once_with_the_app() -> None:
    calls: list[Any] = []

    class Battery(Module):
        def setup(self, app: Carboy) -> None:
            calls.append(app)
            self.provide(Greeter, Greeter(app.app_name))

    battery = Battery("battery")
    app = Carboy(debug=True, name="site")
    app.install(battery)

    @app.get("/")
    async def index(greeter: Greeter) -> str:
        return greeter.word

    with TestClient(app) as client:
        assert client.get("/").text == "site"
    assert calls == [app]


def test_a_module_may_install_modules_during_setup() -> None:
    class Needed(Module):
        pass

    needed = Needed("needed")

    @needed.get("/n")
    async def n() -> str:
        return "needed"

    class Battery(Module):
        def setup(self, app: Carboy) -> None:
            self.install(needed)

    app = Carboy(debug=True)
    app.install(Battery("battery"))
    with TestClient(app) as client:
        assert client.get("/n").text == "needed"
    assert app.url_path_for("battery.needed.n") == "/n"


def test_install_refuses_other_objects() -> None:
    app = Carboy(debug=True)
    with pytest.raises(ConfigurationError, match="install\\(\\) takes a carboy Module"):
        app.install(object())  # type: ignore[arg-type]


# -- checks -------------------------------------------------------------------------
def test_check_messages() -> None:
    error = CheckMessage(
        "shop.E001",
        "No payment provider",
        hint="Set SHOP_PROVIDER",
        obj="shop",
        level=CheckLevel.ERROR,
    )
    warning = CheckMessage("shop.W001", "Slow", level=CheckLevel.WARNING)
    assert error.is_error and not warning.is_error
    assert str(error) == "shop.E001 shop: No payment provider\n\tHINT: Set SHOP_PROVIDER"
    assert str(warning) == "shop.W001 Slow"


def test_an_error_check_stops_the_build() -> None:
    shop = Module("shop")

    @shop.check
    def needs_provider(app: Carboy) -> list[CheckMessage]:
        return [
            CheckMessage(
                "shop.E001", "No payment provider configured", obj="shop", level=CheckLevel.ERROR
            ),
            CheckMessage("shop.W001", "Just a warning", level=CheckLevel.WARNING),
        ]

    app = Carboy(debug=True)
    app.install(shop)
    with pytest.raises(ConfigurationError) as info:
        app.build()
    message = str(info.value)
    assert "checks failed" in message
    assert "shop.E001 shop: No payment provider configured" in message
    assert "shop.W001" not in message


def test_warnings_alone_do_not_stop_the_build() -> None:
    app = Carboy(debug=True)
    app.check(lambda a: [CheckMessage("app.W001", "careful", level=CheckLevel.WARNING)])
    app.build()
    assert [m.id for m in app.run_checks()] == ["app.W001"]


def test_checks_see_the_app() -> None:
    seen: list[Carboy] = []
    app = Carboy(debug=True)

    @app.check
    def record(a: Carboy) -> list[CheckMessage]:
        seen.append(a)
        return []

    app.build()
    assert seen == [app]


def test_module_name_and_prefix_rules() -> None:
    with pytest.raises(ConfigurationError):
        Module("a.b")
    with pytest.raises(ConfigurationError):
        Module("x", prefix="/x/")


def test_http_exception_handlers_from_a_module() -> None:
    module = Module("m")

    @module.exception_handler(404)
    def not_found(request: Request, exc: HTTPException) -> str:
        return "<p>custom 404</p>"

    app = Carboy(debug=True)
    app.install(module)
    with TestClient(app) as client:
        response = client.get("/nowhere")
    assert (response.status_code, response.text) == (404, "<p>custom 404</p>")
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_command_factories_run_only_when_commands_are_read() -> None:

    calls: list[str] = []

    def make() -> list[click.Command]:
        calls.append("made")
        return [click.Command("late")]

    shop = Module("shop")
    shop.add_command(click.Command("early"))
    shop.add_commands(make)
    assert calls == []
    assert [c.name for c in shop.commands] == ["early", "late"]
    assert [c.name for c in shop.commands] == ["early", "late"]  # made once
    assert calls == ["made"]


def test_command_factories_are_refused_after_start_up() -> None:
    app = Carboy(debug=True)
    app.build()
    with pytest.raises(SetupError, match="add commands"):
        app.add_commands(list)


def test_a_deploy_only_error_does_not_stop_the_build() -> None:
    app = Carboy(debug=True)
    app.check(lambda a: [CheckMessage("app.E001", "no CDN", level=CheckLevel.ERROR, deploy=True)])
    app.build()
    assert [m.deploy for m in app.run_checks()] == [True]


def test_check_levels_order_and_decide_errors() -> None:
    levels = sorted(CheckLevel, reverse=True)
    assert [level.name for level in levels] == ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
    assert [CheckMessage("a.X1", "m", level=lv).is_error for lv in levels] == [
        True,
        True,
        False,
        False,
        False,
    ]


# -- looking modules up ---------------------------------------------------------------
def test_get_module_finds_an_installed_module_at_any_depth() -> None:
    class Payments(Module):
        pass

    app = Carboy(debug=True)
    shop = Module("shop")
    payments = Payments("payments")
    shop.install(payments)
    app.install(shop)
    assert app.get_module(Payments) is payments
    assert shop.get_module(Payments) is payments
    with pytest.raises(ConfigurationError) as info:
        payments.get_module(Carboy)
    assert str(info.value) == (
        "No Carboy module is installed on module 'payments': add app.install(Carboy(...))"
    )


def test_shell_context_is_empty_by_default() -> None:
    assert Module("plain").shell_context() == {}


# -- provide(sync_factory=...) ------------------------------------------------------
class Handle:
    """A per-request value with a record of where it was made and closed."""

    def __init__(self, made_by: str) -> None:
        self.made_by = made_by
        self.closed_in: int | None = None


async def _handle_async() -> Any:
    handle = Handle("factory")
    yield handle
    handle.closed_in = threading.get_ident()


def _handle_sync() -> Any:
    handle = Handle("sync_factory")
    yield handle
    handle.closed_in = threading.get_ident()


async def _async_user_of_handle(handle: Handle) -> Handle:
    return handle


def test_sync_factory_serves_def_handlers_and_factory_the_rest() -> None:
    app = Carboy(debug=True)
    app.provide(Handle, factory=_handle_async, sync_factory=_handle_sync)
    seen: dict[str, Any] = {}

    @app.get("/def")
    def in_def(handle: Handle) -> str:
        seen["def"] = (handle, threading.get_ident())
        return handle.made_by

    @app.get("/async")
    async def in_async(handle: Handle) -> str:
        return handle.made_by

    @app.get("/shared")
    def shared(handle: Handle, other: Annotated[Handle, Depends(_async_user_of_handle)]) -> bool:
        # The async dependency ran first and made the one value of the request.
        return handle is other and handle.made_by == "factory"

    with TestClient(app) as client:
        assert client.get("/def").text == "sync_factory"
        assert client.get("/async").text == "factory"
        assert client.get("/shared").json() is True
    handle, thread = seen["def"]
    assert handle.closed_in == thread  # cleaned up in the handler's own thread


def test_sync_factory_must_be_sync_and_come_with_a_factory() -> None:
    app = Carboy(debug=True)
    with pytest.raises(ConfigurationError, match="sync_factory"):
        app.provide(Handle, factory=_handle_async, sync_factory=_handle_async)
    with pytest.raises(ConfigurationError, match="sync_factory"):
        app.provide(Handle, Handle("value"), sync_factory=_handle_sync)


# -- one module object on several apps (a factory such as the demo's create_app) ------------
def _api_battery() -> Module:
    from carboy.api import API, CORS

    api = API(prefix="/api", throttle="5/minute", cors=CORS.first_party(["https://a.example"]))

    @api.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    return api


def _auth_battery() -> Module:
    from carboy.auth import Auth, MemoryUserStore, PagesConfig

    return Auth(users=MemoryUserStore(), pages=PagesConfig(signup=True))


def _auth_on_redis_battery() -> Module:
    from carboy.auth import Auth, MemoryUserStore, RedisStore, SessionConfig

    store = RedisStore(url="redis://127.0.0.1:6379/15")  # not reached: the app only builds
    return Auth(users=MemoryUserStore(), pages=None, sessions=SessionConfig(store=store))


def _other_batteries() -> Module:
    """Every other battery on one module (each installed once, and set up per app)."""
    from carboy.cache import Caching
    from carboy.channels import Channels
    from carboy.db import Database
    from carboy.forms import Forms
    from carboy.health import Health
    from carboy.mail import Mail
    from carboy.tasks import Tasks

    site = Module("site")
    batteries = (Caching(), Channels(), Database("sqlite://"), Forms(), Health(), Mail(), Tasks())
    for battery in batteries:
        site.install(battery)
    return site


def _wiring(app: Carboy) -> tuple[int, int, list[str]]:
    """What modules wired into an app: its middleware, route middleware and modules."""
    return (
        len(app.user_middleware),
        len(app.route_middleware),
        sorted(type(module).__name__ for module in app.walk()),
    )


@pytest.mark.parametrize(
    ("make", "needs_cache"),
    [
        (_api_battery, True),
        (_auth_battery, False),
        (_auth_on_redis_battery, False),
        (_other_batteries, False),
    ],
    ids=["api", "auth", "auth-on-redis", "the-others"],
)
def test_one_battery_object_wires_every_app_it_is_installed_on(
    make: Any, needs_cache: bool
) -> None:
    """A module's setup runs once per app: what it adds to the app, it adds to each."""
    from carboy.cache import Caching

    battery = make()
    apps = []
    for _ in range(3):
        app = Carboy(debug=True, secret_key="s" * 40)
        if needs_cache:
            app.install(Caching())
        app.install(battery)
        app.build()
        apps.append(app)
    first = _wiring(apps[0])
    assert [_wiring(app) for app in apps[1:]] == [first, first]
    apps[1].get_module(type(battery)).setup(apps[1])  # setup run again on one app: no twice
    assert _wiring(apps[1]) == first


def test_a_second_app_of_one_api_is_throttled_and_cors_wrapped_too() -> None:
    api = _api_battery()
    from carboy.cache import Caching

    for _ in range(2):
        app = Carboy(debug=True)
        app.install(Caching())
        app.install(api)
        with TestClient(app, base_url="http://localhost") as client:
            answer = client.get("/api/ping", headers={"Origin": "https://a.example"})
            assert answer.headers["ratelimit-policy"] == '"api";q=5;w=60'
            assert answer.headers["access-control-allow-origin"] == "https://a.example"
