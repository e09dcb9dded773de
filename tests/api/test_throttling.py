"""An API's rate limits on carboy.cache: every path, per client, windows, both stores, fields."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from carboy import Carboy
from carboy.api import ALLOW_ANY, API, PROBLEM_JSON, api_client
from carboy.auth import Auth, JWTBackend, JWTKey, MemoryUserStore
from carboy.cache import Cache, Caching, MemoryBackend, Throttle
from carboy.db import Database
from carboy.exceptions import ConfigurationError
from carboy.settings import Settings
from carboy.testing import TestClient
from tests.api.conftest import ApiBase, Post, bearer
from tests.cache.test_throttle import START, Clock, from_peer

JWT_KEY = JWTKey("test", "k" * 40, "HS256")
POLICY = re.compile(r'^"(?P<name>[^"]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
CURRENT = re.compile(r'^"(?P<name>[^"]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


class World:
    """An API with a posts resource (and a custom action), a function route, users."""

    def __init__(
        self,
        tmp_path: Path,
        throttle: Any,
        cache: Cache | None = None,
        settings: Settings | None = None,
        **options: Any,
    ) -> None:
        self.app = Carboy(settings or Settings(debug=True))
        self.db = Database(f"sqlite:///{tmp_path / 'api.db'}", base=ApiBase)
        ApiBase.metadata.create_all(self.db.engine)
        self.users = MemoryUserStore()
        self.jwt = JWTBackend(signing_key=JWT_KEY)
        self.api = API(prefix="/api", throttle=throttle)
        self.posts = self.api.resource(Post, path="/posts", permissions=ALLOW_ANY, **options)

        @self.posts.action("publish")
        async def publish(post: Post) -> Post:
            post.published = True
            return post

        @self.api.get("/hello")
        async def hello(name: str = "you") -> dict[str, str]:
            return {"hello": name}

        @self.api.get("/login-hint", extra={"throttle": "1/minute"})
        async def login_hint() -> dict[str, str]:
            return {"hint": "use a token"}

        @self.api.get("/health", extra={"throttle": None})
        async def health() -> dict[str, bool]:
            return {"ok": True}

        self.app.install(self.db)
        self.app.install(Auth(users=self.users, jwt=self.jwt, pages=None))
        if cache is not None:
            self.app.install(Caching(cache))
        self.app.install(self.api)

    def user(self, name: str) -> dict[str, str]:
        user = asyncio.run(self.users.create(username=name, password=None))
        return bearer(self.jwt.issue(user))

    def rows(self) -> int:
        with self.db.transaction() as session:
            return len(session.query(Post).all())

    def client(self, peer: str = "198.51.100.1") -> TestClient:
        return TestClient(from_peer(self.app, peer))


def _post(n: int) -> dict[str, Any]:
    return {"title": f"Post {n}", "slug": f"post-{n}"}


#: (method, path, body) of every kind of operation; the posts 1 and 2 exist.
OPERATIONS = [
    ("GET", "/api/hello", None),
    ("GET", "/api/posts", None),
    ("GET", "/api/posts/1", None),
    ("POST", "/api/posts", "new"),
    ("PUT", "/api/posts/1", {"title": "Again", "slug": "again"}),
    ("PATCH", "/api/posts/1", {"title": "Patched"}),
    ("DELETE", "/api/posts/2", None),
    ("POST", "/api/posts/1/publish", None),
]


def _send(client: TestClient, method: str, path: str, body: Any, n: int) -> Any:
    payload = _post(100 + n) if body == "new" else body
    return client.request(method, path, json=payload)


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_the_limit_holds_on_every_path(
    tmp_path: Path, cache: Cache, method: str, path: str, body: Any
) -> None:
    clock = Clock(START + 15)
    world = World(tmp_path, Throttle("3/minute", key=api_client, clock=clock, scope="api"), cache)
    with world.client("198.51.100.9") as seed:
        for n in (1, 2):
            assert seed.post("/api/posts", json=_post(n)).status_code == 201
    before = world.rows()
    with world.client() as client:
        answers = [_send(client, method, path, body, n) for n in range(4)]
    assert all(a.status_code < 400 or a.status_code == 404 for a in answers[:3]), answers
    refused = answers[3]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.headers["retry-after"] == "45"
    assert refused.json()["status"] == 429 and refused.json()["instance"] == path
    assert refused.headers["ratelimit"] == '"api";r=0;t=45'
    if body == "new":  # the refused create never reached the database
        assert world.rows() == before + 3


def test_clients_are_counted_apart(tmp_path: Path, cache: Cache) -> None:
    world = World(tmp_path, "2/minute", cache)
    ann, bob = world.user("ann"), world.user("bob")
    with world.client("198.51.100.1") as client:
        assert [client.get("/api/hello", headers=ann).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        # Another user from the same address, and the address without a user, have their own.
        assert client.get("/api/hello", headers=bob).status_code == 200
        assert client.get("/api/hello").status_code == 200
        assert client.get("/api/hello").status_code == 200
        assert client.get("/api/hello").status_code == 429
    # Ann is Ann from anywhere; another address is another anonymous client.
    with world.client("203.0.113.5") as other:
        assert other.get("/api/hello", headers=ann).status_code == 429
        assert other.get("/api/hello").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_counts(tmp_path: Path, cache: Cache) -> None:
    settings = Settings(debug=True, trusted_proxies=["10.0.0.0/8"])
    world = World(tmp_path, "1/minute", cache, settings=settings)
    with world.client("10.0.0.2") as proxy:
        assert proxy.get("/api/hello", headers={"x-forwarded-for": "203.0.113.1"}).is_success
        again = proxy.get("/api/hello", headers={"x-forwarded-for": "203.0.113.1"})
        assert again.status_code == 429
        assert proxy.get("/api/hello", headers={"x-forwarded-for": "203.0.113.2"}).is_success
    # From a peer that is not a trusted proxy, X-Forwarded-For is not believed.
    with world.client("198.51.100.7") as direct:
        assert direct.get("/api/hello", headers={"x-forwarded-for": "203.0.113.3"}).is_success
        forged = direct.get("/api/hello", headers={"x-forwarded-for": "203.0.113.4"})
        assert forged.status_code == 429


def test_the_client_key_prefers_a_token_then_a_user_then_the_address() -> None:
    from carboy.auth import TokenCredentials
    from carboy.connections import HTTPConnection
    from carboy.identity import AUTH_KEY, USER_KEY

    class Member:
        pk = 7
        is_authenticated = True
        display_name = "Ann"

    class Token:
        key = "abc123"

    base = {"type": "http", "headers": [], "client": ("203.0.113.9", 1234)}
    assert api_client(HTTPConnection(base)) == "ip:203.0.113.9"
    signed_in = {**base, USER_KEY: Member()}
    assert api_client(HTTPConnection(signed_in)) == "user:7"
    with_token = {**signed_in, AUTH_KEY: TokenCredentials(token=Token())}  # type: ignore[arg-type]
    assert api_client(HTTPConnection(with_token)) == "token:abc123"


def test_the_window_resets_and_the_fields_say_so(tmp_path: Path, cache: Cache) -> None:
    clock = Clock(START + 15)
    throttle = Throttle("2/minute", key=api_client, clock=clock, scope="api")
    world = World(tmp_path, throttle, cache)
    with world.client() as client:
        first = client.get("/api/hello")
        assert first.headers["ratelimit-policy"] == '"api";q=2;w=60'
        assert first.headers["ratelimit"] == '"api";r=1;t=45'
        clock.advance(10.5)
        second = client.get("/api/hello")
        assert second.headers["ratelimit"] == '"api";r=0;t=35'
        refused = client.get("/api/hello")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "35"
        assert refused.headers["ratelimit-policy"] == '"api";q=2;w=60'
        clock.advance(35)  # the next minute
        again = client.get("/api/hello")
        assert again.status_code == 200 and again.headers["ratelimit"] == '"api";r=1;t=60'


def test_a_route_or_action_overrides_the_api_quota(tmp_path: Path, cache: Cache) -> None:
    world = World(tmp_path, "2/minute", cache, throttles={"create": "1/minute", "list": None})
    with world.client() as client:
        # Its own quota: one per minute, apart from the API's.
        assert client.get("/api/login-hint").status_code == 200
        refused = client.get("/api/login-hint")
        assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM_JSON
        assert POLICY.match(refused.headers["ratelimit-policy"])["q"] == "1"  # type: ignore[index]
        assert client.post("/api/posts", json=_post(1)).status_code == 201
        assert client.post("/api/posts", json=_post(2)).status_code == 429
        # None: never throttled, and no fields.
        for _ in range(5):
            health = client.get("/api/health")
            assert health.status_code == 200 and "ratelimit" not in health.headers
            listed = client.get("/api/posts")
            assert listed.status_code == 200 and "ratelimit" not in listed.headers
        # The API's own quota was untouched by all that.
        assert client.get("/api/hello").headers["ratelimit"].startswith('"api";r=1;')
    assert world.rows() == 1


def test_the_document_lists_the_429_and_the_fields(tmp_path: Path) -> None:
    world = World(tmp_path, "2/minute", Cache(backend=MemoryBackend()), throttles={"list": None})
    with world.client() as client:
        document = client.get("/api/openapi.json").json()
    validate(document)
    hello = document["paths"]["/api/hello"]["get"]["responses"]
    assert hello["429"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert set(hello["429"]["headers"]) == {"Retry-After", "RateLimit-Policy", "RateLimit"}
    assert hello["200"]["headers"]["RateLimit-Policy"]["schema"]["example"] == ('"api";q=2;w=60')
    for path, method in [("/api/posts", "post"), ("/api/posts/{id}", "patch")]:
        assert "RateLimit" in document["paths"][path][method]["responses"]["429"]["headers"]
    assert "429" not in document["paths"]["/api/posts"]["get"]["responses"]
    assert "429" not in document["paths"]["/api/health"]["get"]["responses"]
    hint = document["paths"]["/api/login-hint"]["get"]["responses"]["200"]["headers"]
    assert hint["RateLimit-Policy"]["schema"]["example"].endswith(";q=1;w=60")


def test_a_rate_needs_the_apps_cache(tmp_path: Path) -> None:
    world = World(tmp_path, "2/minute")
    with pytest.raises(ConfigurationError, match=r"app.install\(Caching"):
        world.app.build()


def test_a_routes_own_rate_needs_the_apps_cache_too(tmp_path: Path) -> None:
    # Regression: only the API's own quota was checked at build; a route's or an
    # action's rate without Caching failed on its first request instead.
    world = World(tmp_path, None, throttles={"create": "5/minute"})
    with pytest.raises(ConfigurationError, match=r"app.install\(Caching"):
        world.app.build()


def test_bad_throttles_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="'100/minute'"):
        API(throttle=42)  # type: ignore[arg-type]
    api = API()
    with pytest.raises(ConfigurationError, match="10/minute"):
        api.resource(Post, throttles={"create": "often"})


def test_unknown_throttled_actions_are_refused(tmp_path: Path) -> None:
    world = World(
        tmp_path, "2/minute", Cache(backend=MemoryBackend()), throttles={"nope": "1/minute"}
    )
    with pytest.raises(ConfigurationError, match=r"unknown action\(s\) \['nope'\]"):
        world.app.build()
