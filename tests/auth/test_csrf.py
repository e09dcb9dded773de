"""CSRF protection, one test per attack: every forged request gets a 403 and writes nothing.

The app keeps what its write routes received in ``Site.writes``; each refused
request is checked to have left it unchanged. Sessions are in memory; the
test client's origin is ``http://testserver``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from markupsafe import Markup

from carboy import Carboy, Form, Request, Settings, UploadFile
from carboy.auth import (
    Auth,
    CSRFConfig,
    CSRFFailure,
    JWTBackend,
    JWTKey,
    MemoryStore,
    MemoryUserStore,
    PagesConfig,
    SessionConfig,
    csrf_input,
    csrf_token,
    login,
)
from carboy.auth.csrf import origin_problem, token_matches
from carboy.auth.sessions import Session
from carboy.exceptions import ConfigurationError
from carboy.identity import AuthCredentials
from carboy.mail import Mail, MemoryBackend
from carboy.requests import BODY_KEY
from carboy.testing import TestClient

from .conftest import fast_hasher

SECRET = "csrf-tests-secret-key-of-some-length-" * 2
PASSWORD = "plum-tree-in-may-7"
OWN = "http://testserver"
EVIL = "https://evil.example"
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
JWT_KEY = JWTKey("k1", "a-long-random-secret-of-32-bytes-or-more!", "HS256")


class Site:
    """An app with Auth (sign-in page included), write routes, and what they wrote."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        settings: dict[str, Any] | None = None,
        **auth: Any,
    ) -> None:
        templates = tmp_path / "templates"
        templates.mkdir(exist_ok=True)
        (templates / "page.html").write_text(
            '{% if csrf_input is defined %}<form method="post">{{ csrf_input() }}</form>\n'
            '<p id="t">{{ csrf_token() }}</p>{% endif %}'
        )
        self.writes: list[str] = []
        self.users = MemoryUserStore(hasher=fast_hasher())
        self.jwt = JWTBackend(signing_key=JWT_KEY)
        self.app = Carboy(
            Settings(
                debug=True, secret_key=SECRET, templates_dir=str(templates), **(settings or {})
            )
        )
        self.app.install(Mail(MemoryBackend()))
        auth.setdefault("sessions", SessionConfig(store=MemoryStore()))
        auth.setdefault("pages", PagesConfig())
        self.auth = Auth(users=self.users, password_hasher=fast_hasher(), jwt=self.jwt, **auth)
        self.app.install(self.auth)
        writes = self.writes
        app = self.app

        @app.get("/token")
        async def token(request: Request) -> dict[str, str]:
            return {"token": csrf_token(request)}

        @app.get("/page")
        async def page() -> Any:
            from carboy.templating import render

            return render("page.html")

        @app.post("/notes")
        async def add_note(note: Annotated[str, Form()] = "") -> str:
            writes.append(note)
            return "saved"

        @app.post("/json-notes")
        async def add_json_note(request: Request) -> str:
            writes.append(str((await request.json())["note"]))
            return "saved"

        @app.route("/notes/1", methods=["PUT", "PATCH", "DELETE"])
        async def change_note(request: Request) -> str:
            writes.append(request.method)
            return "changed"

        @app.route("/notes/both", methods=["GET", "POST"])
        async def read_or_write(request: Request) -> str:
            if request.method == "POST":
                writes.append("both")
            return request.method

        @app.post("/hook", extra={"csrf_exempt": True})
        async def hook() -> str:
            writes.append("hook")
            return "hooked"

        @app.post("/signed-in")
        async def sign_in_here(request: Request) -> str:
            user = await self.users.get_by_login("ann")
            assert user is not None
            await login(request, user)
            return "in"

        @app.post("/upload")
        async def upload(request: Request, up: UploadFile) -> dict[str, Any]:
            form = await request.form()
            writes.append(up.filename or "")
            return {
                "size": len(await up.read()),
                "one_parse": form is request.scope[BODY_KEY].form,
            }

    def client(self, **options: Any) -> TestClient:
        return TestClient(self.app, follow_redirects=False, **options)

    def add_user(self, username: str = "ann") -> Any:
        return asyncio.run(
            self.users.create(password=PASSWORD, username=username, email=f"{username}@x.io")
        )


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def token_of(client: TestClient) -> str:
    """A token for the client's session (made, with the session, on first use)."""
    value: str = client.get("/token").json()["token"]
    return value


def page_tokens(client: TestClient) -> list[str]:
    text = client.get("/page").text
    return [*re.findall(r'value="([^"]+)"', text), *re.findall(r'<p id="t">([^<]+)<', text)]


# -- the attacks ------------------------------------------------------------------
def test_a_missing_token_is_refused_and_nothing_is_written(site: Site) -> None:
    with site.client() as client:
        token_of(client)  # the visitor has a session
        response = client.post("/notes", data={"note": "forged"})
    assert response.status_code == 403
    assert "the CSRF token is missing" in response.json()["detail"]
    assert site.writes == []


def test_a_wrong_token_is_refused_and_nothing_is_written(site: Site) -> None:
    with site.client() as client:
        good = token_of(client)
        wrong = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        for token in (wrong, "x" * len(good), "short", "é" * 86, good + "A"):
            response = client.post("/notes", data={"note": "forged", "csrf_token": token})
            assert response.status_code == 403, token
            assert "the CSRF token is incorrect" in response.json()["detail"]
    assert site.writes == []


def test_a_token_from_another_session_is_refused(site: Site) -> None:
    with site.client() as attacker:
        theirs = token_of(attacker)
    with site.client() as victim:
        token_of(victim)
        response = victim.post("/notes", data={"note": "forged", "csrf_token": theirs})
    assert response.status_code == 403
    assert site.writes == []


def test_a_cross_site_origin_is_refused_even_with_a_valid_token(site: Site) -> None:
    with site.client() as client:
        token = token_of(client)
        for origin in (EVIL, "http://testserver.evil.example", "https://testserver", OWN + ":81"):
            response = client.post(
                "/notes", data={"note": "forged", "csrf_token": token}, headers={"Origin": origin}
            )
            assert response.status_code == 403, origin
            assert "which is not this site (http://testserver)" in response.json()["detail"]
    assert site.writes == []


def test_sec_fetch_site_cross_site_is_refused(site: Site) -> None:
    with site.client() as client:
        token = token_of(client)
        for headers in (
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "cross-site", "Origin": OWN},
        ):
            response = client.post(
                "/notes", data={"note": "f", "csrf_token": token}, headers=headers
            )
            assert response.status_code == 403
            assert "Sec-Fetch-Site: cross-site" in response.json()["detail"]
        # A sibling subdomain is same-site, not same-origin: its Origin is not ours.
        sibling = {"Sec-Fetch-Site": "same-site", "Origin": "http://blog.testserver"}
        assert client.post("/notes", data={"csrf_token": token}, headers=sibling).status_code == 403
    assert site.writes == []


def test_origin_null_is_refused(site: Site) -> None:
    with site.client() as client:
        token = token_of(client)
        response = client.post(
            "/notes", data={"note": "f", "csrf_token": token}, headers={"Origin": "null"}
        )
        assert response.status_code == 403
        assert "Origin: null" in response.json()["detail"]
        for fetch_site in ("same-site", "cross-site", "none"):
            headers = {"Origin": "null", "Sec-Fetch-Site": fetch_site}
            response = client.post("/notes", data={"csrf_token": token}, headers=headers)
            assert response.status_code == 403, fetch_site
    assert site.writes == []


def test_origin_null_from_a_no_referrer_page_of_this_site_passes(site: Site) -> None:
    """Under Referrer-Policy: no-referrer a browser posts Origin: null, and says
    Sec-Fetch-Site: same-origin (the auth pages with a token in their URL do this)."""
    with site.client() as client:
        token = token_of(client)
        headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
        response = client.post(
            "/notes", data={"note": "mine", "csrf_token": token}, headers=headers
        )
        assert response.status_code == 200
        # The token is still needed.
        assert client.post("/notes", data={"note": "x"}, headers=headers).status_code == 403
    assert site.writes == ["mine"]


def test_two_or_malformed_origins_are_refused(site: Site) -> None:
    with site.client() as client:
        token = token_of(client)
        two = [("origin", OWN), ("origin", EVIL)]
        bad = [
            ("origin", "testserver"),
            ("origin", "http://user@testserver"),
            ("origin", "http://"),
        ]
        assert (
            "more than one Origin"
            in client.post("/notes", data={"csrf_token": token}, headers=two).json()["detail"]
        )
        for header in bad:
            response = client.post("/notes", data={"csrf_token": token}, headers=[header])
            assert response.status_code == 403
            assert "is malformed" in response.json()["detail"]
    assert site.writes == []


def test_the_sign_in_form_without_a_cookie_is_still_checked(site: Site) -> None:
    """A forged sign-in (into the attacker's account) comes with no cookie at all."""
    site.add_user("mallory")
    with site.client() as client:
        form = {"login": "mallory", "password": PASSWORD}
        response = client.post("/auth/login", data=form, headers=HTML)
        assert response.status_code == 403
        assert "this session has no CSRF token" in response.text
        assert not client.cookies  # no session was made: nobody was signed in
        # The real form works: its page made the session and the token.
        page = client.get("/auth/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        done = client.post("/auth/login", data={**form, "csrf_token": token[1]})
        assert done.status_code == 303


# -- what passes ------------------------------------------------------------------
def test_same_origin_with_a_token_passes(site: Site) -> None:
    with site.client() as client:
        token = token_of(client)
        for headers in ({}, {"Origin": OWN}, {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}):
            response = client.post(
                "/notes", data={"note": "mine", "csrf_token": token}, headers=headers
            )
            assert response.status_code == 200, headers
    assert site.writes == ["mine"] * 3


def test_the_header_token_passes_htmx_and_fetch(site: Site) -> None:
    with site.client() as client:
        token = token_of(client)
        htmx = {"HX-Request": "true", "X-CSRF-Token": token, "Origin": OWN}
        assert client.post("/notes", data={"note": "htmx"}, headers=htmx).status_code == 200
        fetched = client.post(
            "/json-notes", json={"note": "fetch"}, headers={"X-CSRF-Token": token}
        )
        assert fetched.status_code == 200
        for method in ("PUT", "PATCH", "DELETE"):
            assert (
                client.request(method, "/notes/1", headers={"X-CSRF-Token": token}).text
                == "changed"
            )
            assert client.request(method, "/notes/1").status_code == 403
    assert site.writes == ["htmx", "fetch", "PUT", "PATCH", "DELETE"]


def test_an_exempt_route_passes(site: Site) -> None:
    with site.client() as client:
        token_of(client)
        response = client.post("/hook", headers={"Origin": EVIL})
    assert response.text == "hooked"
    assert site.writes == ["hook"]


def test_a_bearer_token_request_passes_without_csrf(site: Site) -> None:
    ann = site.add_user()
    bearer = {"Authorization": f"Bearer {site.jwt.issue(ann)}"}
    with site.client() as client:
        # Even from another site, with no token: no page can make a browser add the header.
        response = client.post(
            "/json-notes", json={"note": "api"}, headers={**bearer, "Origin": EVIL}
        )
        assert response.status_code == 200
        token_of(client)  # a session cookie alongside changes nothing
        assert client.post("/json-notes", json={"note": "api2"}, headers=bearer).status_code == 200
        # Without the bearer token the same session request is checked.
        assert client.post("/json-notes", json={"note": "no"}).status_code == 403
    assert site.writes == ["api", "api2"]


def test_requests_with_nothing_to_forge_pass(site: Site) -> None:
    """No session cookie, no sign-in, a route that does not ask: nothing to forge."""
    with site.client() as client:
        assert (
            client.post("/notes", data={"note": "anon"}, headers={"Origin": EVIL}).text == "saved"
        )
        # A cookie of a session that no longer exists is no session either.
        client.cookies.set("session", "gone-long-ago", domain="testserver.local")
        assert client.post("/notes", data={"note": "stale"}).text == "saved"
    assert site.writes == ["anon", "stale"]


def test_safe_methods_are_never_checked(site: Site) -> None:
    with site.client() as client:
        token_of(client)
        assert client.get("/notes/both", headers={"Origin": EVIL}).text == "GET"
        assert client.head("/notes/both").status_code == 200
        assert client.options("/notes/both").status_code in (200, 204)
        assert client.post("/notes/both").status_code == 403
    assert site.writes == []


def test_a_user_signed_in_without_a_session_is_checked(tmp_path: Path) -> None:
    """Credentials a browser sends by itself (a cookie of your own, HTTP Basic) are checked."""

    class CookieBackend:
        async def authenticate(self, conn: Any) -> Any:
            if conn.cookies.get("remember") == "ann":
                user = await site.users.get_by_login("ann")
                return user, AuthCredentials(method="remember-cookie")
            return None

    site = Site(tmp_path)
    site.add_user()
    site.auth.backends.append(CookieBackend())
    with site.client(cookies={"remember": "ann"}) as client:
        response = client.post("/notes", data={"note": "forged"})
    assert response.status_code == 403
    assert site.writes == []


# -- the 403 ----------------------------------------------------------------------
def test_the_refusal_is_a_page_for_browsers_and_json_for_apis(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    with site.client() as client:
        token_of(client)
        with caplog.at_level(logging.WARNING, logger="carboy.security"):
            page = client.post("/notes", data={"note": "f"}, headers={**HTML, "Origin": EVIL})
        api = client.post("/notes", data={"note": "f"}, headers=JSON)
    assert page.status_code == api.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>403 Forbidden</h1>" in page.text
    assert "CSRF check failed: it comes from https://evil.example" in page.text
    assert api.headers["content-type"] == "application/json"
    assert api.json() == {
        "status": 403,
        "detail": "CSRF check failed: the CSRF token is missing: send it in the 'csrf_token' "
        "form field (csrf_input() in the form) or the X-CSRF-Token header.",
    }
    record = next(r for r in caplog.records if r.name == "carboy.security")
    assert record.levelno == logging.WARNING
    assert "CSRF check refused POST /notes" in record.getMessage()
    assert "'https://evil.example'" in record.getMessage()


def test_the_app_s_own_handler_answers_the_refusal(site: Site) -> None:
    @site.app.exception_handler(CSRFFailure)
    async def refused(request: Request, exc: CSRFFailure) -> tuple[str, int]:
        return f"refused: {exc.reason}", 403

    with site.client() as client:
        token_of(client)
        response = client.post("/notes")
    assert response.status_code == 403
    assert response.text.startswith("refused: the CSRF token is missing")


# -- the token ----------------------------------------------------------------------
def test_the_token_is_masked_differently_per_render_and_each_verifies(site: Site) -> None:
    with site.client() as client:
        tokens = page_tokens(client) + page_tokens(client) + [token_of(client)]
        assert len(tokens) == 5
        assert len(set(tokens)) == 5  # never the same bytes twice (BREACH)
        assert {len(t) for t in tokens} == {86}
        for token in tokens:
            assert client.post("/notes", data={"note": "x", "csrf_token": token}).status_code == 200
    assert len(site.writes) == 5


def test_csrf_input_is_an_escaped_hidden_field(tmp_path: Path) -> None:
    site = Site(tmp_path, csrf=CSRFConfig(field_name="my.token-1"))
    with site.client() as client:
        page = client.get("/page").text
    field = re.search(r'<input type="hidden" name="my.token-1" value="([A-Za-z0-9_-]{86})">', page)
    assert field is not None

    class Conn:
        scope = {"session": Session()}

    made = csrf_input(Conn(), '"><script>')  # type: ignore[arg-type]
    assert isinstance(made, Markup)
    assert made.startswith('<input type="hidden" name="&#34;&gt;&lt;script&gt;" value="')


def test_the_token_rotates_at_login(site: Site) -> None:
    site.add_user()
    with site.client() as client:
        before = token_of(client)
        assert client.post("/signed-in", headers={"X-CSRF-Token": before}).text == "in"
        # The token seen (or planted) before sign-in no longer works...
        assert client.post("/notes", data={"note": "x", "csrf_token": before}).status_code == 403
        after = token_of(client)
        assert client.post("/notes", data={"note": "ok", "csrf_token": after}).status_code == 200
    assert site.writes == ["ok"]


def test_the_sign_in_page_rotates_the_token(site: Site) -> None:
    site.add_user()
    with site.client() as client:
        page = client.get("/auth/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = {"login": "ann", "password": PASSWORD, "csrf_token": token[1]}
        assert client.post("/auth/login", data=form).status_code == 303
        assert client.post("/notes", data={"csrf_token": token[1]}).status_code == 403


def test_token_matches_only_the_session_s_secret() -> None:
    session = Session()
    assert not token_matches("A" * 86, session)  # no secret yet

    class Conn:
        scope = {"session": session}

    token = csrf_token(Conn())  # type: ignore[arg-type]
    assert token_matches(token, session)
    assert not token_matches(token, Session())
    session["_csrf_secret"] = "not base64 !"
    assert not token_matches(token, session)


def test_csrf_token_needs_the_sessions_of_auth() -> None:
    class Conn:
        scope: dict[str, Any] = {}

    with pytest.raises(ConfigurationError, match=r"needs the sessions of carboy\.auth"):
        csrf_token(Conn())  # type: ignore[arg-type]


# -- the form body -------------------------------------------------------------------
def test_the_form_read_for_the_token_is_the_handler_s_too(site: Site) -> None:
    with site.client() as client:
        token = token_of(client)
        files = {"up": ("a.txt", b"hello", "text/plain")}
        response = client.post("/upload", data={"csrf_token": token}, files=files)
    assert response.json() == {"size": 5, "one_parse": True}
    assert site.writes == ["a.txt"]


def test_form_limits_hold_when_the_check_reads_the_form(tmp_path: Path) -> None:
    site = Site(tmp_path, settings={"form_max_fields": 3})
    with site.client() as client:
        token = token_of(client)
        fields = {f"f{i}": "x" for i in range(5)}
        response = client.post("/notes", data={"csrf_token": token, **fields})
    assert response.status_code == 413
    assert "Too many fields (limit 3)" in response.json()["detail"]
    assert site.writes == []


# -- configuration -------------------------------------------------------------------
def test_trusted_origins_may_post(tmp_path: Path) -> None:
    trusted = ["https://pay.example.com", ".partner.example"]
    site = Site(tmp_path, settings={"csrf_trusted_origins": trusted})
    with site.client() as client:
        token = token_of(client)
        for origin in ("https://pay.example.com", "https://shop.partner.example", EVIL):
            response = client.post(
                "/notes", data={"note": origin, "csrf_token": token}, headers={"Origin": origin}
            )
            assert response.status_code == (403 if origin == EVIL else 200), origin
    assert site.writes == ["https://pay.example.com", "https://shop.partner.example"]


def test_a_malformed_trusted_origin_stops_the_start(tmp_path: Path) -> None:
    site = Site(tmp_path, settings={"csrf_trusted_origins": ["https://shop.example/path"]})
    with pytest.raises(
        ConfigurationError, match=r"csrf trusted origin 'https://shop\.example/path'"
    ):
        site.app.build()


def test_csrf_none_turns_the_check_off(tmp_path: Path) -> None:
    site = Site(tmp_path, csrf=None)
    with site.client() as client:
        client.post("/signed-in")  # a session, signed in
        response = client.post("/notes", data={"note": "forged"}, headers={"Origin": EVIL})
        page = client.get("/page")
    assert response.text == "saved"
    assert site.writes == ["forged"]
    assert page.text == ""  # csrf_input and csrf_token are not defined in templates


def test_another_header_name(tmp_path: Path) -> None:
    site = Site(tmp_path, csrf=CSRFConfig(header_name="X-XSRF-Token"))
    with site.client() as client:
        token = token_of(client)
        data = {"note": "x"}
        assert client.post("/notes", data=data, headers={"X-CSRF-Token": token}).status_code == 403
        assert client.post("/notes", data=data, headers={"X-XSRF-Token": token}).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"header_name": "X CSRF"}, "is not a header name"),
        ({"header_name": ""}, "is not a header name"),
        ({"field_name": 'a"b'}, "a form field name here is"),
    ],
)
def test_csrf_config_refuses_bad_names(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CSRFConfig(**options)


def test_a_route_cannot_be_exempt_and_required(tmp_path: Path) -> None:
    site = Site(tmp_path)

    @site.app.post("/both", extra={"csrf_exempt": True, "csrf_required": True})
    async def both() -> str:
        return ""

    with pytest.raises(ConfigurationError, match="has extra csrf_exempt and csrf_required"):
        site.app.build()


def test_only_unsafe_routes_are_wrapped(site: Site) -> None:
    """A GET-only route is not wrapped: the dispatcher still calls its handler directly."""

    @site.app.get("/hello")
    async def hello() -> str:
        return "hi"

    @site.app.post("/hello")
    async def hello_post() -> str:
        return "hi"

    site.app.build()
    # The GET handler, wrapped in nothing, is called by the dispatcher itself; the
    # POST handler of the same path has the check in front of it.
    assert set(site.app._table.static["/hello"].direct) == {"GET", "HEAD"}


# -- HTTPS: the Referer when there is no Origin ----------------------------------------
def test_https_without_origin_needs_a_referer_of_this_site(site: Site) -> None:
    with site.client(base_url="https://testserver") as client:
        token = token_of(client)
        data = {"note": "x", "csrf_token": token}
        cases = [
            ({}, "must have a Referer"),
            ({"Referer": "https://evil.example/page"}, "is a page of https://evil.example"),
            ({"Referer": "http://testserver/page"}, "is not an HTTPS page"),
            ({"Referer": "https://"}, "Referer is malformed"),
            ({"Referer": "https://[::1/"}, "Referer is malformed"),
        ]
        for headers, message in cases:
            response = client.post("/notes", data=data, headers=headers)
            assert response.status_code == 403, headers
            assert message in response.json()["detail"]
        assert site.writes == []
        ok = client.post("/notes", data=data, headers={"Referer": "https://testserver/form"})
        assert ok.status_code == 200
        # A browser that sends Sec-Fetch-Site vouches for itself.
        same = client.post("/notes", data=data, headers={"Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 200
        assert (
            client.post("/notes", data=data, headers={"Origin": "https://testserver"}).status_code
            == 200
        )
    assert site.writes == ["x", "x", "x"]


def test_the_trusted_origins_setting_changes_what_may_post(tmp_path: Path) -> None:
    """The csrf_trusted_origins setting (FIELD_TESTS in tests/test_settings.py)."""
    for trusted, status in (([], 403), (["https://pay.example.com"], 200)):
        site = Site(tmp_path, settings={"csrf_trusted_origins": trusted})
        with site.client() as client:
            token = token_of(client)
            response = client.post(
                "/notes",
                data={"csrf_token": token},
                headers={"Origin": "https://pay.example.com"},
            )
        assert response.status_code == status


def test_the_own_origin_without_a_host_header_is_the_server_s() -> None:
    from carboy.middleware import TrustedOrigins

    scope: dict[str, Any] = {
        "scheme": "https",
        "server": ("shop.example", 443),
        "headers": [(b"origin", b"https://shop.example")],
    }
    assert origin_problem(scope, TrustedOrigins([])) is None
    scope["headers"] = [(b"origin", b"https://evil.example")]
    assert "not this site (https://shop.example)" in str(origin_problem(scope, TrustedOrigins([])))
    scope["server"] = None
    assert "not this site (no Host)" in str(origin_problem(scope, TrustedOrigins([])))
