"""Throttles on the cache: rates, fixed windows, Retry-After, the dependency, client keys.

Each test runs on memory and on real Redis (the cache tests' database, see
conftest). Time is a clock the test moves, never a long sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from carboy import Carboy, Depends, Request, Settings
from carboy.cache import (
    Cache,
    Caching,
    MemoryBackend,
    Rate,
    Throttle,
    Throttled,
    client_ip,
    wait_text,
)
from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError
from carboy.testing import TestClient
from carboy.types import ASGIApp, Receive, Scope, Send

#: A whole hour of Unix time: windows of a minute, an hour or a day start here.
START = 1_800_000_000.0 - 1_800_000_000.0 % 86400


class Clock:
    """Unix time that moves only when the test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def from_peer(app: ASGIApp, peer: str) -> ASGIApp:
    """``app`` as reached over a connection from ``peer`` (the server's client address)."""

    async def connection(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope["client"] = (peer, 40000)
        await app(scope, receive, send)

    return connection


# -- rates ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "limit", "seconds"),
    [("10/minute", 10, 60), ("10/min", 10, 60), ("10/m", 10, 60), ("3/second", 3, 1),
     ("100/hour", 100, 3600), ("1000/day", 1000, 86400), ("5/15m", 5, 900),
     ("5/15 minutes", 5, 900), (" 7 / 2h ", 7, 7200), ("1/S", 1, 1)],
)  # fmt: skip
def test_rates_parse(text: str, limit: int, seconds: int) -> None:
    assert Rate.parse(text) == Rate(limit, seconds)


@pytest.mark.parametrize("text", ["", "10", "10/", "ten/minute", "10/fortnight", "0/minute",
                                  "10/0m", "-1/minute", "10 per minute"])  # fmt: skip
def test_bad_rates_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"'10/minute'|at least 1"):
        Rate.parse(text)


def test_rates_print_as_they_are_written() -> None:
    assert [str(Rate.parse(t)) for t in ("10/minute", "5/15m", "2/day", "3/90s")] == [
        "10/minute",
        "5/15minute",
        "2/day",
        "3/90s",
    ]
    assert repr(Throttle("10/minute", scope="s")) == "Throttle('10/minute', scope='s')"


def test_wait_text_rounds_up() -> None:
    assert [wait_text(s) for s in (1, 42, 60, 61, 3540, 3565, 3600, 5400)] == [
        "1 second", "42 seconds", "1 minute", "2 minutes", "59 minutes", "1 hour", "1 hour",
        "2 hours",
    ]  # fmt: skip


# -- counting ------------------------------------------------------------------------------
def test_the_eleventh_hit_in_a_window_is_refused(cache: Cache) -> None:
    clock = Clock(START + 15)
    throttle = Throttle("10/minute", cache=cache, clock=clock)
    results = [throttle.hit("ann") for _ in range(11)]
    assert [r.allowed for r in results] == [True] * 10 + [False]
    assert [r.count for r in results] == list(range(1, 12))
    assert results[9].remaining == 0 and results[0].remaining == 9
    assert results[0].retry_after == 0
    # The window is the minute that started 15 s ago: 45 s to wait.
    assert results[10].retry_after == 45 and results[10].reset_after == pytest.approx(45)
    assert throttle.hit("bob").allowed  # another key counts alone


def test_retry_after_is_whole_seconds_up_to_the_window_end(cache: Cache) -> None:
    clock = Clock(START + 59.2)
    throttle = Throttle("1/minute", cache=cache, clock=clock)
    assert throttle.hit("k").allowed
    refused = throttle.hit("k")
    assert not refused.allowed and refused.retry_after == 1  # 0.8 s, rounded up


def test_a_new_window_starts_from_zero(cache: Cache) -> None:
    clock = Clock(START)
    throttle = Throttle("2/minute", cache=cache, clock=clock)
    assert [throttle.hit("k").allowed for _ in range(3)] == [True, True, False]
    clock.advance(59.9)
    assert not throttle.hit("k").allowed  # still the same minute
    clock.advance(0.1)
    assert throttle.hit("k").allowed and throttle.hit("k").count == 2


def test_windows_follow_the_rate(cache: Cache) -> None:
    clock = Clock(START + 600)
    throttle = Throttle("1/hour", cache=cache, clock=clock)
    throttle.hit("k")
    assert throttle.hit("k").retry_after == 3000


def test_peek_undo_and_reset(cache: Cache) -> None:
    throttle = Throttle("2/minute", cache=cache, clock=Clock())
    assert throttle.peek("k").count == 0 and throttle.peek("k").allowed
    first = throttle.hit("k")
    throttle.hit("k")
    looked = throttle.peek("k")
    assert looked.count == 2 and not looked.allowed  # one more would be refused
    throttle.undo(first)
    assert throttle.peek("k").count == 1
    throttle.reset("k")
    assert throttle.peek("k").count == 0


def test_undo_goes_to_the_window_of_the_hit(cache: Cache) -> None:
    clock = Clock(START + 59)
    throttle = Throttle("5/minute", cache=cache, clock=clock)
    hit = throttle.hit("k")
    clock.advance(2)  # the next minute
    throttle.hit("k")
    throttle.undo(hit)
    assert throttle.peek("k").count == 1


@pytest.mark.anyio
async def test_async_twins(acache: Cache) -> None:
    clock = Clock(START + 30)
    throttle = Throttle("2/minute", cache=acache, clock=clock)
    first = await throttle.ahit("k")
    await throttle.ahit("k")
    refused = await throttle.ahit("k")
    assert (first.allowed, refused.allowed, refused.retry_after) == (True, False, 30)
    assert (await throttle.apeek("k")).count == 3
    await throttle.aundo(refused)
    assert (await throttle.apeek("k")).count == 2
    await throttle.areset("k")
    assert (await throttle.apeek("k")).count == 0


@pytest.mark.anyio
async def test_concurrent_hits_are_counted_exactly(acache: Cache) -> None:
    throttle = Throttle("10/minute", cache=acache, clock=Clock())
    results = await asyncio.gather(*(throttle.ahit("k") for _ in range(25)))
    assert sum(r.allowed for r in results) == 10
    assert sorted(r.count for r in results) == list(range(1, 26))


def test_scopes_keep_counts_apart_and_a_shared_scope_shares(cache: Cache) -> None:
    clock = Clock()
    search = Throttle("2/minute", scope="search", cache=cache, clock=clock)
    upload = Throttle("2/minute", scope="upload", cache=cache, clock=clock)
    search_too = Throttle("2/minute", scope="search", cache=cache, clock=clock)
    search.hit("k")
    search.hit("k")
    assert upload.hit("k").allowed
    assert not search_too.hit("k").allowed


def test_keys_are_hashed_in_the_store() -> None:
    backend = MemoryBackend()
    throttle = Throttle("2/minute", cache=Cache(backend=backend), clock=Clock())
    throttle.hit("ann@example.com")
    [stored] = list(backend._data)
    assert "ann" not in stored and stored.startswith("carboy:1:throttle:default:60:")


def test_a_throttle_without_a_cache_says_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match=r"give it cache=\.\.\."):
        Throttle("1/minute").hit("k")
    with pytest.raises(ConfigurationError, match="give a function of the request"):
        Throttle("1/minute", key="ip")  # type: ignore[arg-type]


# -- as a dependency -----------------------------------------------------------------------
def throttled_app(throttle: Throttle, *, caching: bool = True, **settings: Any) -> Carboy:
    app = Carboy(Settings(debug=True, **settings))
    if caching:
        app.install(Caching(Cache(backend=MemoryBackend())))

    @app.get("/search", dependencies=[Depends(throttle)])
    async def search() -> dict[str, bool]:
        return {"ok": True}

    return app


def test_the_dependency_answers_429_json_with_retry_after() -> None:
    clock = Clock(START + 20)
    app = throttled_app(Throttle("2/minute", clock=clock))
    with TestClient(app) as client:
        assert [client.get("/search").status_code for _ in range(2)] == [200, 200]
        refused = client.get("/search")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "40"
        assert refused.json() == {
            "status": 429,
            "detail": "Too many requests: try again in 40 seconds.",
        }
        clock.advance(40)
        assert client.get("/search").status_code == 200


def test_the_dependency_answers_browsers_with_a_page() -> None:
    app = throttled_app(Throttle("1/minute", clock=Clock(START)))
    with TestClient(app, headers={"Accept": "text/html"}) as client:
        client.get("/search")
        refused = client.get("/search")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        assert refused.headers["content-type"].startswith("text/html")
        assert "<h1>429 Too Many Requests</h1>" in refused.text
        assert "try again in 1 minute" in refused.text


def test_the_dependency_uses_the_app_error_envelope() -> None:
    app = throttled_app(Throttle("1/minute", clock=Clock()))
    app.error_envelope = lambda error: {"error": {"code": error.status, "message": error.detail}}
    with TestClient(app) as client:
        client.get("/search")
        assert client.get("/search").json()["error"]["code"] == 429


def test_a_key_of_none_is_not_counted() -> None:
    def unless_staff(conn: HTTPConnection) -> str | None:
        return None if conn.headers.get("x-staff") else client_ip(conn)

    app = throttled_app(Throttle("1/minute", key=unless_staff, clock=Clock()))
    with TestClient(app) as client:
        assert client.get("/search").status_code == 200
        assert client.get("/search").status_code == 429
        assert client.get("/search", headers={"x-staff": "1"}).status_code == 200


def test_the_dependency_counts_per_client_address() -> None:
    app = throttled_app(Throttle("1/minute", clock=Clock()))
    with TestClient(from_peer(app, "198.51.100.1")) as one:
        assert one.get("/search").status_code == 200
        assert one.get("/search").status_code == 429
    with TestClient(from_peer(app, "198.51.100.2")) as two:
        assert two.get("/search").status_code == 200


def test_the_dependency_counts_in_its_own_cache_when_given_one() -> None:
    own = Cache(backend=MemoryBackend())
    app = throttled_app(Throttle("1/minute", cache=own, clock=Clock()), caching=False)
    with TestClient(app) as client:
        client.get("/search")
        assert client.get("/search").status_code == 429
    assert len(own.backend) == 1  # type: ignore[arg-type]


def test_the_dependency_without_any_cache_is_a_clear_error() -> None:
    app = throttled_app(Throttle("1/minute"), caching=False)
    with TestClient(app) as client:
        failed = client.get("/search")  # the app's mistake, not the client's: a 500
    assert failed.status_code == 500
    assert "keeps its counts in the app's cache: app.install(Caching(...))" in failed.text


def test_a_forged_forwarded_for_counts_for_the_real_peer() -> None:
    app = throttled_app(Throttle("2/minute", clock=Clock()))
    with TestClient(from_peer(app, "198.51.100.9")) as client:
        codes = [
            client.get("/search", headers={"x-forwarded-for": f"203.0.113.{n}"}).status_code
            for n in range(3)
        ]
    assert codes == [200, 200, 429]


def test_a_trusted_proxy_forwards_the_client() -> None:
    app = throttled_app(Throttle("1/minute", clock=Clock()), trusted_proxies=["10.0.0.0/8"])
    with TestClient(from_peer(app, "10.0.0.2")) as proxy:
        first = proxy.get("/search", headers={"x-forwarded-for": "203.0.113.1"})
        again = proxy.get("/search", headers={"x-forwarded-for": "203.0.113.1"})
        other = proxy.get("/search", headers={"x-forwarded-for": "203.0.113.2"})
        # A client cannot pose as another by adding its own hop on the left.
        forged = proxy.get("/search", headers={"x-forwarded-for": "192.0.2.50, 203.0.113.1"})
    assert [r.status_code for r in (first, again, other, forged)] == [200, 429, 200, 429]


# -- client addresses ----------------------------------------------------------------------
def _conn(client: tuple[str, int] | None) -> HTTPConnection:
    return HTTPConnection({"type": "http", "headers": [], "client": client})


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:1:2:3", "2001:db8:1:2::/64"),  # the same subscriber
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("testclient", "testclient"),
    ],
)
def test_client_ip_groups_ipv6_by_network(peer: str, key: str) -> None:
    assert client_ip(_conn((peer, 1))) == key


def test_client_ip_without_a_client_is_one_shared_key() -> None:
    assert client_ip(_conn(None)) == "unknown"


def test_throttled_is_an_http_exception_with_retry_after() -> None:
    refused = Throttled(0)
    assert (refused.status_code, refused.retry_after) == (429, 1)
    assert refused.headers == {"Retry-After": "1"}
    assert Throttled(90, "Slow down.").detail == "Slow down."


def test_the_throttle_reads_the_request(cache: Cache) -> None:
    # A key function sees the request: per client and route, as an API would.
    def per_route(conn: HTTPConnection) -> str:
        return f"{client_ip(conn)}:{conn.url.path}"

    throttle = Throttle("1/minute", key=per_route, clock=Clock())
    app = Carboy(Settings(debug=True))
    app.install(Caching(cache))  # which closes its connections at shutdown

    @app.get("/a", dependencies=[Depends(throttle)], name="a")
    @app.get("/b", dependencies=[Depends(throttle)], name="b")
    async def either(request: Request) -> str:
        return request.url.path

    with TestClient(app) as client:
        assert [client.get(p).status_code for p in ("/a", "/b", "/a", "/b")] == [
            200,
            200,
            429,
            429,
        ]
