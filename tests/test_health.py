"""/healthz and /readyz, with the batteries' readiness checks against real services."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from carboy import Carboy, Module
from carboy.auth import Auth, MemoryUserStore, RedisStore, SessionConfig
from carboy.cache import Cache, Caching, RedisBackend
from carboy.channels import Channels, RedisChannels
from carboy.db import Database
from carboy.health import Health
from carboy.settings import Settings
from carboy.tasks import CeleryBackend, Tasks
from carboy.testing import TestClient


def _auth(redis_url: str) -> Auth:
    """Auth with its sessions in Redis (a server-side store /readyz must reach)."""
    store = RedisStore(redis_url)
    return Auth(users=MemoryUserStore(), sessions=SessionConfig(store=store), pages=None)


def test_live_and_ready_with_nothing_to_check(tmp_path: Path) -> None:
    app = Carboy(debug=True, root=tmp_path)
    app.install(Health())
    with TestClient(app) as client:
        live = client.get("/healthz")
        assert (live.status_code, live.json()) == (200, {"status": "ok"})
        assert live.headers["cache-control"] == "no-store"
        assert client.get("/readyz").json() == {"status": "ok", "checks": {}}
    assert all(not r.include_in_schema for r in app.routes_info() if r.path.endswith("z"))


def test_a_failing_or_slow_check_makes_it_503_without_leaking_details(tmp_path: Path) -> None:
    shop = Module("shop")

    def broken() -> None:
        raise ConnectionError("payments.internal:8443 refused")

    async def slow() -> None:
        await asyncio.sleep(5)

    shop.add_readiness_check("payments", broken)
    shop.add_readiness_check("search", slow)
    shop.add_readiness_check("ok", lambda: None)
    app = Carboy(debug=True, root=tmp_path)
    app.install(shop)
    app.install(Health(timeout=0.2, ready="/ready"))
    with TestClient(app) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "shop.payments": "failed: ConnectionError",
            "shop.search": "timed out after 0.2s",
            "shop.ok": "ok",
        },
    }
    assert "8443" not in response.text


def test_every_battery_checks_its_service(tmp_path: Path) -> None:
    from tests.db.conftest import POSTGRES_URL, require_postgres

    require_postgres()
    app = Carboy(Settings(debug=True), root=tmp_path)
    app.install(Database(POSTGRES_URL))
    app.install(Caching(Cache(backend=RedisBackend("redis://127.0.0.1:6379/12"))))
    app.install(Channels(backend=RedisChannels("redis://127.0.0.1:6379/12")))
    app.install(Tasks(backend=CeleryBackend("amqp://guest:guest@127.0.0.1:5672//")))
    app.install(_auth("redis://127.0.0.1:6379/12"))
    app.install(Health())
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.json() == {
        "status": "ok",
        "checks": {
            "db.database": "ok",
            "cache.cache": "ok",
            "channels.channels": "ok",
            "tasks.broker": "ok",
            "auth.sessions": "ok",
        },
    }


def test_unreachable_services_are_reported(tmp_path: Path) -> None:
    app = Carboy(Settings(debug=True), root=tmp_path)
    app.install(Database("postgresql://nobody@127.0.0.1:1/none"))
    app.install(Caching(Cache(backend=RedisBackend("redis://127.0.0.1:1/0", socket_timeout=0.5))))
    app.install(Channels(backend=RedisChannels("redis://127.0.0.1:1/0")))
    app.install(Tasks(backend=CeleryBackend("amqp://guest:guest@127.0.0.1:1//")))
    app.install(_auth("redis://127.0.0.1:1/0"))
    app.install(Health(timeout=3.0))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert all(value != "ok" for value in checks.values()), checks
    assert set(checks) == {
        "db.database", "cache.cache", "channels.channels", "tasks.broker", "auth.sessions"
    }  # fmt: skip


def test_readiness_checks_are_frozen_after_start(tmp_path: Path) -> None:
    from carboy.exceptions import SetupError

    app = Carboy(debug=True, root=tmp_path)
    app.build()
    with pytest.raises(SetupError):
        app.add_readiness_check("late", lambda: None)
