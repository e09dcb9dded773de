"""Sign-in throttling on the auth pages: per account and per client address, in the cache.

Every scenario runs on the memory cache and on real Redis (database 12, each
test under a key prefix of its own, removed after). Time is a clock the test
moves. Requests come from the peer address the test names, as a server would
give it (``scope["client"]``); the app's own trusted-proxy handling decides
what a forwarded address counts for.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from carboy import Carboy, Request, Settings
from carboy.auth import (
    Auth,
    LoginThrottle,
    MemoryUserStore,
    PagesConfig,
    login_required,
)
from carboy.cache import Cache, Caching, MemoryBackend, RedisBackend, Throttled
from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError
from carboy.mail import Mail
from carboy.mail import MemoryBackend as Outbox
from carboy.testing import TestClient
from carboy.types import Receive, Scope, Send
from tests.auth.conftest import CountingHasher

REDIS_URL = "redis://127.0.0.1:6379/12"  # this file's database: nobody else uses 12
SECRET = "auth-throttle-tests-secret-key-" * 2
PASSWORD = "plum-tree-in-may-7"
NEW_PASSWORD = "a-new-orchard-in-june-9"
#: Unix time at the start of a day: every window (minute, hour) starts here.
START = 1_800_000_000.0 - 1_800_000_000.0 % 86400
A, B, C = "198.51.100.1", "198.51.100.2", "198.51.100.3"


class Clock:
    """Unix time that moves only when the test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingUsers(MemoryUserStore):
    """The memory store, counting look-ups by login."""

    lookups = 0

    async def get_by_login(self, login: str) -> Any:
        self.lookups += 1
        return await super().get_by_login(login)


def throttles(clock: Clock, **overrides: Any) -> dict[str, Any]:
    """The pages' three throttles at their default rates, on ``clock``."""
    values: dict[str, Any] = {
        "login_throttle": LoginThrottle(clock=clock),
        "email_throttle": LoginThrottle(
            "5/hour", ip_rate="20/hour", scope="auth.email", clock=clock
        ),
        "code_throttle": LoginThrottle(
            "10/hour", ip_rate="20/hour", scope="auth.code", clock=clock
        ),
    }
    values.update(overrides)
    return values


class Site:
    """An app with the auth pages on a cache, one browser-like client, and its peer address."""

    def __init__(
        self,
        cache: Cache | None,
        clock: Clock,
        *,
        trusted_proxies: tuple[str, ...] = (),
        install_caching: bool = True,
        **pages: Any,
    ) -> None:
        self.clock = clock
        self.cache = cache
        self.hasher = CountingHasher()
        self.users = CountingUsers(hasher=self.hasher)
        self.outbox = Outbox()
        settings = Settings(debug=True, secret_key=SECRET, trusted_proxies=list(trusted_proxies))
        self.app = Carboy(settings=settings)
        self.app.install(Mail(self.outbox, default_from="site@example.com"))
        if cache is not None and install_caching:
            self.app.install(Caching(cache))
        config = PagesConfig(signup=True, **{**throttles(clock), **pages})
        self.auth = Auth(users=self.users, password_hasher=self.hasher, pages=config)
        self.app.install(self.auth)

        @self.app.get("/members")
        @login_required
        async def members(request: Request) -> str:
            return f"members: {request.user.display_name}"

        self.peer = A
        app = self.app

        async def from_peer(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "lifespan":
                scope["client"] = (self.peer, 40000)
            await app(scope, receive, send)

        self.client = TestClient(from_peer, follow_redirects=False, headers={"Accept": "text/html"})
        self.client.__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def add_user(self, username: str = "ann", password: str = PASSWORD) -> Any:
        return asyncio.run(
            self.users.create(
                password=password,
                username=username,
                email=f"{username}@example.com",
                email_verified=True,
            )
        )

    def post(self, path: str, data: dict[str, str], *, peer: str = A,
             headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
        self.peer = peer
        found = re.search(r'name="(csrf[^"]*)" value="([^"]+)"', self.client.get(path).text)
        token = {found[1]: found[2]} if found else {}
        return self.client.post(path, data={**data, **token}, headers=headers)

    def sign_in(self, login: str = "ann", password: str = PASSWORD, *, peer: str = A,
                headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
        return self.post(
            "/auth/login", {"login": login, "password": password}, peer=peer, headers=headers
        )

    def sign_out(self) -> None:
        self.post("/auth/logout", {})

    def wrong(self, count: int, login: str = "ann", *, peer: str = A) -> None:
        """``count`` wrong passwords, each answered with the form again (200)."""
        for _ in range(count):
            assert self.sign_in(login, "wrong-password", peer=peer).status_code == 200


@pytest.fixture(params=["memory", "redis"])
def cache_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def redis_cache(prefix: str) -> Cache:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"Redis is not running at {REDIS_URL}", pytrace=False)
    return Cache(backend=RedisBackend(REDIS_URL), key_prefix=prefix)


def forget_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for name in client.scan_iter(match=prefix + ":*"):
            client.delete(name)
    finally:
        client.close()


@pytest.fixture
def make_cache(cache_kind: str) -> Iterator[Any]:
    """Caches of this test's kind; on Redis all under one prefix, removed after."""
    prefix = "throttle" + uuid.uuid4().hex[:10]

    def make() -> Cache:
        if cache_kind == "memory":
            return Cache(backend=MemoryBackend())
        return redis_cache(prefix)

    yield make
    if cache_kind == "redis":
        forget_prefix(prefix)


@pytest.fixture
def clock() -> Clock:
    return Clock(START + 15)  # 45 s left in the first minute


@pytest.fixture
def site(make_cache: Any, clock: Clock) -> Iterator[Site]:
    site = Site(make_cache(), clock)
    site.add_user("ann")
    site.add_user("bob")
    yield site
    site.close()


def assert_throttled(response: httpx.Response, retry_after: int) -> None:
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(retry_after)
    assert response.headers["cache-control"] == "no-store"
    assert "Too many attempts. Try again in" in response.text


# -- per account, per address ------------------------------------------------------------
def test_the_eleventh_wrong_password_for_an_account_is_refused_from_any_address(
    site: Site,
) -> None:
    for n in range(10):
        site.wrong(1, "ann", peer=f"203.0.113.{n}")  # ten addresses, one account
    before = (site.hasher.verifications, site.users.lookups)
    refused = site.sign_in("ann", PASSWORD, peer="192.0.2.99")  # the right password
    assert_throttled(refused, 45)
    assert "Try again in 45 seconds." in refused.text
    assert 'value="ann"' in refused.text  # the form keeps what was typed
    # Refused before anything was looked up or hashed.
    assert (site.hasher.verifications, site.users.lookups) == before
    assert site.client.get("/members").status_code == 302
    assert site.sign_in("bob", peer="192.0.2.99").status_code == 303  # other accounts go on


def test_the_eleventh_wrong_password_from_an_address_is_refused_on_any_account(
    site: Site,
) -> None:
    for n in range(10):
        site.wrong(1, f"user{n}", peer=A)  # ten accounts (none of them known), one address
    assert_throttled(site.sign_in("bob", PASSWORD, peer=A), 45)
    assert site.sign_in("bob", PASSWORD, peer=B).status_code == 303


def test_an_unknown_account_counts_like_a_known_one(site: Site) -> None:
    answers = []
    for login in ("ann", "ghost"):
        for n in range(10):
            site.wrong(1, login, peer=f"203.0.113.{n}")
        refused = site.sign_in(login, "wrong-password", peer="192.0.2.1")
        assert_throttled(refused, 45)
        answers.append(refused.text.replace(f'value="{login}"', 'value="…"'))
    # CSRF tokens and CSP nonces differ per page; nothing else may.
    answers = [re.sub(r'(value|nonce)="[^"]{20,}"', "", a) for a in answers]
    assert answers[0] == answers[1]


def test_the_account_is_what_was_typed_whatever_its_case(site: Site) -> None:
    for n in range(10):
        site.wrong(1, "Ann" if n % 2 else " ANN ", peer=f"203.0.113.{n}")
    assert_throttled(site.sign_in("ann", peer=B), 45)


def test_a_right_password_is_not_counted_and_resets_nothing(site: Site) -> None:
    site.wrong(9, "ann", peer=A)
    assert site.sign_in("bob", peer=A).status_code == 303  # a success from the address
    site.sign_out()
    assert site.sign_in("ann", "wrong-password", peer=B).status_code == 200  # ann's 10th
    assert_throttled(site.sign_in("ann", peer=C), 45)  # ann: 10 wrong, the success reset nothing
    site.wrong(1, "carol", peer=A)  # the address's 10th wrong password (the success was free)
    assert_throttled(site.sign_in("bob", peer=A), 45)


def test_refused_attempts_do_not_count(site: Site) -> None:
    site.wrong(10, "ann", peer=A)
    for _ in range(5):
        assert site.sign_in("ann", "wrong-password", peer=A).status_code == 429
    throttle = site.auth.pages.login_throttle  # type: ignore[union-attr]
    assert throttle is not None and throttle.account is not None and throttle.ip is not None
    assert throttle.account.peek("ann", cache=site.cache).count == 10
    assert throttle.ip.peek(A, cache=site.cache).count == 10


def test_the_count_ends_with_its_window(site: Site, clock: Clock) -> None:
    site.wrong(10, "ann", peer=A)
    assert_throttled(site.sign_in("ann", peer=A), 45)
    clock.advance(30)
    assert_throttled(site.sign_in("ann", peer=A), 15)  # Retry-After counts down
    clock.advance(15)  # the next minute
    assert site.sign_in("ann", peer=A).status_code == 303


def test_a_failed_and_a_throttled_sign_in_are_logged(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="carboy.security"):
        site.wrong(10, "ann", peer=A)
        site.sign_in("ann", peer=A)
    assert f"Throttled sign-in for 'ann' from {A}" in caplog.text


# -- client addresses: the core's trusted proxies decide -----------------------------------
def test_a_forged_forwarded_for_counts_for_the_real_peer(site: Site) -> None:
    for n in range(10):
        forged = {"X-Forwarded-For": f"203.0.113.{n}", "Forwarded": f"for=203.0.113.{n}"}
        response = site.sign_in(f"user{n}", "wrong-password", peer=A, headers=forged)
        assert response.status_code == 200
    assert_throttled(site.sign_in("bob", peer=A, headers={"X-Forwarded-For": "192.0.2.7"}), 45)


def test_a_trusted_proxy_forwards_the_client_address(make_cache: Any, clock: Clock) -> None:
    site = Site(make_cache(), clock, trusted_proxies=("10.0.0.0/8",))
    try:
        site.add_user("bob")
        proxy = "10.0.0.2"
        for n in range(10):
            hop = {"X-Forwarded-For": "203.0.113.5"}
            assert site.sign_in(f"user{n}", "x", peer=proxy, headers=hop).status_code == 200
        client_x = {"X-Forwarded-For": "203.0.113.5"}
        assert_throttled(site.sign_in("bob", peer=proxy, headers=client_x), 45)
        # A client cannot pose as another by adding its own hop on the left.
        posing = {"X-Forwarded-For": "192.0.2.8, 203.0.113.5"}
        assert_throttled(site.sign_in("bob", peer=proxy, headers=posing), 45)
        client_y = {"X-Forwarded-For": "203.0.113.6"}
        assert site.sign_in("bob", peer=proxy, headers=client_y).status_code == 303
    finally:
        site.close()


def test_ipv6_clients_count_by_their_network(site: Site) -> None:
    for n in range(10):
        site.wrong(1, f"user{n}", peer=f"2001:db8:7:7::{n + 1:x}")
    assert_throttled(site.sign_in("bob", peer="2001:db8:7:7:ffff::1"), 45)  # the same /64
    assert site.sign_in("bob", peer="2001:db8:7:8::1").status_code == 303


# -- every page that checks a password or sends an e-mail ---------------------------------
def test_password_change_is_throttled(site: Site) -> None:
    assert site.sign_in("ann", peer=A).status_code == 303
    wrong = {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for n in range(10):
        assert site.post("/auth/password/change", wrong, peer=f"203.0.113.{n}").status_code == 400
    right = {**wrong, "old_password": PASSWORD}
    assert_throttled(site.post("/auth/password/change", right, peer=B), 45)
    assert site.client.get("/members").status_code == 200  # still signed in, nothing changed
    ann = asyncio.run(site.users.get_by_login("ann"))
    assert asyncio.run(site.users.check_password(ann, PASSWORD))


def test_password_reset_requests_are_throttled_per_address(site: Site) -> None:
    for address in ("ann@example.com", "nobody@example.com"):  # known or not, the same
        for n in range(5):
            sent = site.post("/auth/password/reset", {"email": address}, peer=f"203.0.113.{n}")
            assert sent.headers["location"] == "/auth/password/reset/sent"
        refused = site.post("/auth/password/reset", {"email": address.upper()}, peer=B)
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 3600
        assert "Too many attempts. Try again in" in refused.text
    deadline = 50
    while len(site.outbox.outbox) < 5 and deadline:
        deadline -= 1
        asyncio.run(asyncio.sleep(0.05))
    assert len(site.outbox.outbox) == 5  # five links for ann, none past the limit


def test_password_reset_requests_are_throttled_per_client_address(site: Site) -> None:
    for n in range(20):
        sent = site.post("/auth/password/reset", {"email": f"user{n}@example.com"}, peer=A)
        assert sent.status_code == 303
    refused = site.post("/auth/password/reset", {"email": "bob@example.com"}, peer=A)
    assert refused.status_code == 429
    assert (
        site.post("/auth/password/reset", {"email": "bob@example.com"}, peer=B).status_code == 303
    )


def test_sign_ups_count_as_e_mails(make_cache: Any, clock: Clock) -> None:
    email = LoginThrottle("1/hour", ip_rate="2/hour", scope="auth.email", clock=clock)
    site = Site(make_cache(), clock, email_throttle=email)
    try:

        def sign_up(name: str, address: str, peer: str) -> int:
            form = {"username": name, "email": address, "password1": PASSWORD,
                    "password2": PASSWORD}  # fmt: skip
            return site.post("/auth/signup", form, peer=peer).status_code

        assert sign_up("cid", "cid@example.com", A) == 303
        assert sign_up("cid2", "cid@example.com", B) == 429  # that address had its e-mail
        assert sign_up("dee", "dee@example.com", A) == 303
        assert sign_up("eve", "eve@example.com", A) == 429  # that client had its two
        assert sign_up("bad", "not an address", A) == 400  # bad input is not counted
    finally:
        site.close()


# -- options -------------------------------------------------------------------------------
def test_no_login_throttle(make_cache: Any, clock: Clock) -> None:
    site = Site(make_cache(), clock, login_throttle=None)
    try:
        site.add_user("ann")
        site.wrong(15, "ann", peer=A)
        assert site.sign_in("ann", peer=A).status_code == 303
    finally:
        site.close()


def test_rates_per_account_and_per_address(make_cache: Any, clock: Clock) -> None:
    site = Site(make_cache(), clock, login_throttle=LoginThrottle("3/minute", ip_rate="5/minute",
                                                                  clock=clock))  # fmt: skip
    try:
        site.add_user("ann")
        site.add_user("bob")
        site.wrong(3, "ann", peer=A)
        assert_throttled(site.sign_in("ann", peer=B), 45)
        site.wrong(2, "carol", peer=A)  # A: five wrong
        assert_throttled(site.sign_in("bob", peer=A), 45)
        assert site.sign_in("bob", peer=B).status_code == 303
    finally:
        site.close()


def test_no_account_count(make_cache: Any, clock: Clock) -> None:
    site = Site(make_cache(), clock, login_throttle=LoginThrottle(None, clock=clock))
    try:
        site.add_user("ann")
        for n in range(15):
            site.wrong(1, "ann", peer=f"203.0.113.{n}")
        assert site.sign_in("ann", peer=B).status_code == 303
        site.sign_out()
        site.wrong(10, "x", peer=A)  # the address still counts
        assert site.sign_in("ann", peer=A).status_code == 429
    finally:
        site.close()


def test_no_address_count(make_cache: Any, clock: Clock) -> None:
    site = Site(make_cache(), clock, login_throttle=LoginThrottle(ip_rate=None, clock=clock))
    try:
        site.add_user("bob")
        for n in range(15):
            site.wrong(1, f"user{n}", peer=A)
        assert site.sign_in("bob", peer=A).status_code == 303
    finally:
        site.close()


def test_no_email_throttle(make_cache: Any, clock: Clock) -> None:
    site = Site(make_cache(), clock, email_throttle=None)
    try:
        for _ in range(25):
            sent = site.post("/auth/password/reset", {"email": "ann@example.com"}, peer=A)
            assert sent.status_code == 303
    finally:
        site.close()


def test_a_throttle_that_counts_nothing_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="give PagesConfig None instead"):
        LoginThrottle(None, ip_rate=None)


def test_a_throttle_with_its_own_cache(clock: Clock) -> None:
    own = Cache(backend=MemoryBackend())
    app_cache = Cache(backend=MemoryBackend())
    site = Site(app_cache, clock, login_throttle=LoginThrottle(cache=own, clock=clock))
    try:
        site.add_user("ann")
        site.wrong(10, "ann", peer=A)
        assert site.sign_in("ann", peer=A).status_code == 429
        assert len(own.backend) == 2  # type: ignore[arg-type]  # the account and the address
        assert len(app_cache.backend) == 0  # type: ignore[arg-type]
    finally:
        site.close()


def test_the_pages_install_a_cache_when_the_app_has_none(clock: Clock) -> None:
    site = Site(None, clock)
    try:
        [caching] = [m for m in site.app.walk() if isinstance(m, Caching)]
        site.add_user("ann")
        site.wrong(10, "ann", peer=A)
        assert site.sign_in("ann", peer=A).status_code == 429
        assert len(caching.cache.backend) == 2  # type: ignore[arg-type]
    finally:
        site.close()


def test_throttles_with_their_own_caches_install_none(clock: Clock) -> None:
    own = Cache(backend=MemoryBackend())
    mine = {name: LoginThrottle(cache=own, clock=clock, scope=name) for name in throttles(clock)}
    site = Site(None, clock, **mine)
    try:
        assert not [m for m in site.app.walk() if isinstance(m, Caching)]
    finally:
        site.close()


def test_the_app_cache_is_the_one_installed(make_cache: Any, clock: Clock) -> None:
    cache = make_cache()
    site = Site(cache, clock)
    try:
        assert [m.cache for m in site.app.walk() if isinstance(m, Caching)] == [cache]
    finally:
        site.close()


def conn(peer: str, app: Carboy | None = None) -> HTTPConnection:
    return HTTPConnection({"type": "http", "headers": [], "client": (peer, 1), "app": app})


@pytest.mark.anyio
async def test_scopes_keep_counts_apart(clock: Clock) -> None:
    cache = Cache(backend=MemoryBackend())
    login = LoginThrottle("1/minute", ip_rate=None, cache=cache, clock=clock)
    other = LoginThrottle("1/minute", ip_rate=None, cache=cache, clock=clock, scope="api.login")
    same = LoginThrottle("1/minute", ip_rate=None, cache=cache, clock=clock)
    await login.abegin(conn(A), "ann")
    await other.abegin(conn(A), "ann")
    with pytest.raises(Throttled):
        await same.abegin(conn(A), "ann")
    assert repr(login) == "LoginThrottle(rate='1/minute', scope='auth.login')"


@pytest.mark.anyio
async def test_concurrent_attempts_never_pass_the_limit(make_cache: Any, clock: Clock) -> None:
    cache = make_cache()
    throttle = LoginThrottle(cache=cache, clock=clock)

    async def attempt() -> bool:
        try:
            await throttle.abegin(conn(A), "ann")
        except Throttled:
            return False
        return True

    try:
        outcomes = await asyncio.gather(*(attempt() for _ in range(30)))
        # Never more than ten passwords checked. Each counter is exact, but the pair is not
        # one step: on Redis an attempt may pass one counter and not the other, so a burst
        # may be cut shorter than ten (never longer).
        passed = sum(outcomes)
        assert 1 <= passed <= 10
        # The refused ones were given back: one at a time, the window's ten are reached.
        later = [await attempt() for _ in range(11)]
        assert passed + sum(later) == 10 and later[-1] is False
    finally:
        await cache.aclose()


@pytest.mark.anyio
async def test_the_longer_wait_is_the_one_said(clock: Clock) -> None:
    cache = Cache(backend=MemoryBackend())
    throttle = LoginThrottle("1/minute", ip_rate="1/hour", cache=cache, clock=clock)
    await throttle.abegin(conn(A), "ann")
    with pytest.raises(Throttled) as refused:
        await throttle.abegin(conn(A), "ann")
    assert refused.value.retry_after == 3600 - 15


# -- many processes ------------------------------------------------------------------------
def test_two_apps_on_one_redis_share_the_counts(clock: Clock) -> None:
    prefix = "throttle" + uuid.uuid4().hex[:10]
    one = Site(redis_cache(prefix), clock)
    two = Site(redis_cache(prefix), clock)
    try:
        for site in (one, two):
            site.add_user("ann")
        one.wrong(5, "ann", peer=A)
        two.wrong(5, "ann", peer=B)
        assert_throttled(one.sign_in("ann", peer=C), 45)
        assert_throttled(two.sign_in("ann", peer=C), 45)
        one.wrong(5, "x", peer=A)  # A: ten wrong, across both apps
        assert_throttled(two.sign_in("bob", peer=A), 45)
    finally:
        one.close()
        two.close()
        forget_prefix(prefix)


# -- the deploy check ------------------------------------------------------------------------
def production_app(cache: Cache | None) -> Carboy:
    app = Carboy(settings=Settings(secret_key=SECRET, allowed_hosts=["example.com"]))
    if cache is not None:
        app.install(Caching(cache))
    app.install(Auth(users=MemoryUserStore(), pages=PagesConfig(password_reset=False)))
    app.build()
    return app


def test_counts_in_memory_in_production_are_a_deploy_warning() -> None:
    [warning] = [m for m in production_app(None).run_checks() if m.id == "auth.W020"]
    assert warning.deploy and not warning.is_error
    assert "N workers allow N times the limits" in warning.message
    assert "CARBOY_CACHE_URL" in warning.hint


def test_counts_in_redis_pass_the_deploy_check() -> None:
    app = production_app(Cache(backend=RedisBackend(REDIS_URL)))
    assert not [m for m in app.run_checks() if m.id == "auth.W020"]


def test_debug_mode_skips_the_deploy_check(clock: Clock) -> None:
    site = Site(None, clock)
    try:
        assert not [m for m in site.app.run_checks() if m.id == "auth.W020"]
    finally:
        site.close()
