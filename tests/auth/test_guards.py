"""Guards: login_required, permission_required, staff_required; safe next; user in templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pytest

from carboy import Carboy, Depends, Request, Settings, render
from carboy.auth import (
    Auth,
    AuthUser,
    Guard,
    MemoryUserStore,
    login_required,
    permission_required,
    safe_next,
    staff_required,
)
from carboy.exceptions import ConfigurationError
from carboy.testing import TestClient
from carboy.types import ASGIApp, Receive, Scope, Send

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@dataclass
class Member:
    """A user that satisfies AuthUser, as a user store would hand it out."""

    username: str
    perms: set[str] = field(default_factory=set)
    is_staff: bool = False
    is_superuser: bool = False
    is_active: bool = True
    session_generation: int = 0

    @property
    def pk(self) -> str:
        return self.username

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_superuser or perm in self.perms


USERS = {
    "ann": Member("ann"),
    "editor": Member("editor", {"blog.change_post", "blog.view_post"}),
    "viewer": Member("viewer", {"blog.view_post"}),
    "staff": Member("staff", is_staff=True),
    "root": Member("root", is_superuser=True),
    "<script>alert(1)</script>": Member("<script>alert(1)</script>"),
}


class UserFromHeader:
    """Sets request.user from X-User: the slot an auth backend fills, for these tests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for key, value in scope.get("headers", ()):
            if key == b"x-user" and value.decode() in USERS:
                scope["user"] = USERS[value.decode()]
        await self.app(scope, receive, send)


def make_app(tmp_path: Path) -> Carboy:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "me.html").write_text(
        "<p id=u>{{ user.display_name }}</p><p id=r>{{ request.user.display_name }}</p>"
        "{% if not user.is_authenticated %}<p id=anon>anonymous</p>{% endif %}"
    )
    # No Auth module: UserFromHeader is the authentication backend, and the app has its
    # own page named auth.login (tests with Auth and real sign-ins are in test_pages.py).
    app = Carboy(settings=Settings(debug=True, templates_dir=str(templates)))
    app.add_middleware(UserFromHeader)

    @app.context_processor
    def user(request: Request) -> dict[str, Any]:
        return {"user": request.user}

    @app.get("/auth/login", name="auth.login")
    async def login_page() -> str:
        return "sign in"

    @app.get("/members")
    @login_required
    async def members(request: Request) -> dict[str, str]:
        return {"hello": request.user.display_name}

    @app.get("/sync-members/{id:int}")
    @login_required
    def sync_members(id: int, request: Request) -> dict[str, Any]:
        return {"id": id, "hello": request.user.display_name}

    @app.get("/by-dependency", dependencies=[login_required])
    async def by_dependency() -> str:
        return "in"

    @app.get("/me")
    async def me(user: Annotated[AuthUser, login_required]) -> dict[str, str]:
        return {"pk": user.pk}

    @app.get("/sync-me")
    def sync_me(user: Annotated[AuthUser, login_required]) -> dict[str, str]:
        return {"pk": user.pk}

    @app.post("/posts/publish")
    @permission_required("blog.change_post")
    async def publish() -> str:
        return "published"

    @app.get("/posts/both")
    @permission_required("blog.change_post", "blog.view_post")
    def both() -> str:
        return "both"

    @app.get("/admin")
    @staff_required
    async def admin() -> str:
        return "admin"

    @app.get("/stacked")
    @login_required
    @staff_required
    async def stacked() -> str:
        return "stacked"

    @app.get("/template")
    async def template() -> Any:
        return render("me.html")

    return app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(make_app(tmp_path), follow_redirects=False)


# -- who gets in -------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/members", "/sync-members/3", "/by-dependency", "/me", "/sync-me"]
)
def test_signed_in_users_get_in(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"X-User": "ann", **JSON})
    assert response.status_code == 200, response.text


def test_the_handler_gets_its_own_parameters_and_the_user(client: TestClient) -> None:
    assert client.get("/sync-members/3", headers={"X-User": "ann"}).json() == {
        "id": 3,
        "hello": "ann",
    }
    assert client.get("/me", headers={"X-User": "ann"}).json() == {"pk": "ann"}
    assert client.get("/sync-me", headers={"X-User": "editor"}).json() == {"pk": "editor"}


@pytest.mark.parametrize(
    "path", ["/members", "/sync-members/3", "/by-dependency", "/me", "/sync-me", "/admin"]
)
def test_browsers_are_sent_to_sign_in_with_next(client: TestClient, path: str) -> None:
    response = client.get(path + "?page=2&q=a b", headers=HTML)
    assert response.status_code == 302
    next_value = f"{path}?page=2&q=a%20b".replace("/", "%2F").replace("?", "%3F")
    next_value = next_value.replace("=", "%3D").replace("&", "%26").replace("%20", "%2520")
    assert response.headers["location"] == f"/auth/login?next={next_value}"
    assert "Sign in to see this page" in response.text


@pytest.mark.parametrize("path", ["/members", "/sync-me", "/admin", "/posts/both"])
def test_api_clients_get_a_json_401(client: TestClient, path: str) -> None:
    for headers in (JSON, {}, {"Accept": "*/*"}):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"status": 401, "detail": "Authentication required"}
        assert "location" not in response.headers


def test_htmx_requests_get_a_401_with_hx_redirect(client: TestClient) -> None:
    response = client.get(
        "/members",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://testserver/dashboard?tab=1",
            **HTML,
        },
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/auth/login?next=%2Fdashboard%3Ftab%3D1"
    # A current URL that points elsewhere is not carried over.
    response = client.get(
        "/members",
        headers={"HX-Request": "true", "HX-Current-URL": "http://evil.example//evil.example"},
    )
    assert response.headers["hx-redirect"] == "/auth/login"


def test_a_path_that_looks_like_another_host_is_not_carried_as_next(client: TestClient) -> None:
    response = client.get("//evil.example/members", headers=HTML)
    assert response.status_code in (302, 404)
    assert "evil.example" not in response.headers.get("location", "")


# -- permissions ---------------------------------------------------------------------
def test_permission_required(client: TestClient) -> None:
    assert client.post("/posts/publish", headers={"X-User": "editor"}).text == "published"
    assert client.post("/posts/publish", headers={"X-User": "root"}).text == "published"
    refused = client.post("/posts/publish", headers={"X-User": "viewer", **JSON})
    assert refused.status_code == 403
    assert refused.json() == {"status": 403, "detail": "You do not have permission to do this"}
    page = client.post("/posts/publish", headers={"X-User": "viewer", **HTML})
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "You do not have permission to do this" in page.text
    # Signed out: sign in first (not a 403 that says nothing about signing in).
    assert client.post("/posts/publish", headers=HTML).status_code == 302


def test_permission_required_needs_every_permission(client: TestClient) -> None:
    assert client.get("/posts/both", headers={"X-User": "editor"}).status_code == 200
    assert client.get("/posts/both", headers={"X-User": "viewer"}).status_code == 403


def test_staff_required(client: TestClient) -> None:
    assert client.get("/admin", headers={"X-User": "staff"}).text == "admin"
    response = client.get("/admin", headers={"X-User": "ann", **JSON})
    assert response.status_code == 403 and response.json()["detail"] == "Staff only"
    assert client.get("/stacked", headers={"X-User": "staff"}).text == "stacked"
    assert client.get("/stacked", headers={"X-User": "ann"}).status_code == 403


def test_an_inactive_staff_user_is_not_staff(client: TestClient) -> None:
    USERS["gone"] = Member("gone", is_staff=True, is_active=False)
    try:
        assert client.get("/admin", headers={"X-User": "gone"}).status_code == 403
    finally:
        del USERS["gone"]


def test_permission_required_needs_names() -> None:
    with pytest.raises(ConfigurationError, match="one or more permission names"):
        permission_required()
    with pytest.raises(ConfigurationError, match="one or more permission names"):
        permission_required("")


# -- custom guards and options -----------------------------------------------------------
def test_a_custom_guard_with_its_own_login_url_and_message(tmp_path: Path) -> None:
    beta = Guard(
        lambda user: user.has_perm("beta.use"),
        name="beta",
        login_url="/signin?from=beta",
        message="Beta testers only",
    )
    app = Carboy(debug=True)
    app.add_middleware(UserFromHeader)

    @app.get("/beta")
    @beta
    async def beta_page() -> str:
        """The beta."""
        return "beta"

    client = TestClient(app, follow_redirects=False)
    response = client.get("/beta", headers=HTML)
    assert response.headers["location"] == "/signin?from=beta&next=%2Fbeta"
    assert client.get("/beta", headers={"X-User": "ann"}).json()["detail"] == "Beta testers only"
    assert client.get("/beta", headers={"X-User": "root"}).text == "beta"
    assert beta_page.__name__ == "beta_page" and beta_page.__doc__ == "The beta."
    assert repr(beta) == "<Guard beta>"


def test_without_a_sign_in_page_the_error_says_what_to_install(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Carboy(settings=Settings(secret_key="k" * 40, allowed_hosts=["testserver"]))

    @app.get("/members")
    @login_required
    async def members() -> str:
        return "in"

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/members", headers=JSON).status_code == 401  # JSON needs no page
    assert client.get("/members", headers=HTML).status_code == 500
    assert "route 'auth.login', which this app does not have" in caplog.text
    assert "install carboy.auth.Auth(), or give Guard(login_url=...)" in caplog.text


def test_a_guard_decorates_functions_only() -> None:
    with pytest.raises(TypeError, match="decorates a handler function"):
        login_required("not a function")  # type: ignore[arg-type]


def test_guard_above_the_route_decorator_stops_the_start(tmp_path: Path) -> None:
    app = Carboy(settings=Settings(debug=True, secret_key="guards-tests-secret-key-" * 2))
    app.install(Auth(users=MemoryUserStore()))

    @login_required
    @app.get("/open")
    async def wrong_order() -> str:
        return "open to all"

    with pytest.raises(ConfigurationError, match=r"auth.E010 .*Route '/open'.* unguarded"):
        app.build()


async def greeting(user: Annotated[AuthUser, login_required]) -> str:
    return f"hi {user.pk}"


def test_a_dependency_of_the_handler_can_take_the_user(tmp_path: Path) -> None:
    app = Carboy(debug=True)
    app.add_middleware(UserFromHeader)

    @app.get("/greet")
    async def greet(text: Annotated[str, Depends(greeting)]) -> str:
        return text

    client = TestClient(app)
    assert client.get("/greet", headers={"X-User": "ann"}).text == "hi ann"
    assert client.get("/greet").status_code == 401


# -- templates -------------------------------------------------------------------------------
def test_user_and_request_user_in_templates(client: TestClient) -> None:
    page = client.get("/template", headers={"X-User": "ann"}).text
    assert "<p id=u>ann</p><p id=r>ann</p>" in page
    anonymous = client.get("/template").text
    assert "<p id=u></p>" in anonymous and "<p id=anon>anonymous</p>" in anonymous


def test_an_xss_username_renders_escaped(client: TestClient) -> None:
    page = client.get("/template", headers={"X-User": "<script>alert(1)</script>"}).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- safe next ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "/",
        "/members",
        "/members?page=2&q=a%20b",
        "/blog/caf%C3%A9",
        "/a/b/../c",
        "/search?next=%2Fx",
    ],
)
def test_safe_next_keeps_local_paths(value: str) -> None:
    assert safe_next(value, default="DEFAULT") == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "//evil.example",
        "///evil.example",
        "https://evil.example",
        "http://evil.example/members",
        "HTTPS://evil.example",
        "/\\evil.example",
        "\\\\evil",
        "\\/evil.example",
        "/\\/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "members",
        "//evil.example/%2E%2E",
        "/%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil",
        "/%252F%252Fevil.example",
        "/%25252F%25252Fevil.example",
        "/%2525252F%2525252Fevil.example",
        "%2f%2fevil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/%09/evil.example",
        "/%0d%0aSet-Cookie:x=1",
        "/ /evil.example",
        "/\x00/evil.example",
        "/／／evil.example",
        "/%EF%BC%8F%EF%BC%8Fevil.example",
        "/" + "a" * 2048,
        " //evil.example",
    ],
)
def test_safe_next_refuses_other_sites_and_tricks(value: str | None) -> None:
    assert safe_next(value, default="DEFAULT") == "DEFAULT"
