"""The auth pages, driven as a browser drives them: sign in and out, passwords, sign-up."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from carboy import Carboy, Request, Settings
from carboy.auth import Auth, MemoryUserStore, PagesConfig, PasswordHasher, login_required
from carboy.exceptions import ConfigurationError
from carboy.mail import EmailMessage, Mail, MemoryBackend
from carboy.testing import TestClient
from tests.auth.conftest import CountingHasher

SECRET = "auth-pages-tests-secret-key-" * 2
PASSWORD = "plum-tree-in-may-7"
NEW_PASSWORD = "a-new-orchard-in-june-9"
HTML = {"Accept": "text/html"}
XSS = "<script>alert(1)</script>"


class Site:
    """An app with the auth pages, its user store and outbox, and browser-like clients."""

    def __init__(self, templates: Path, **pages: Any) -> None:
        self.hasher = CountingHasher()
        self.users = MemoryUserStore(hasher=self.hasher)
        self.outbox = MemoryBackend()
        settings = Settings(debug=True, secret_key=SECRET, templates_dir=str(templates))
        self.app = Carboy(settings=settings)
        self.app.install(Mail(self.outbox, default_from="site@example.com"))
        config = PagesConfig(**{"signup": True, **pages})
        self.auth = Auth(users=self.users, password_hasher=self.hasher, pages=config)
        self.app.install(self.auth)

        @self.app.get("/members")
        @login_required
        async def members(request: Request) -> str:
            return f"members: {request.user.display_name}"

        self._clients: list[TestClient] = []
        self.client = self.new_client()

    def new_client(self) -> TestClient:
        client = TestClient(self.app, follow_redirects=False, headers=HTML)
        client.__enter__()  # runs the lifespan: e-mail goes out in the background
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.__exit__(None, None, None)

    def add_user(self, username: str = "ann", email: str = "ann@example.com", **fields: Any) -> Any:
        fields.setdefault("email_verified", True)
        password = fields.pop("password", PASSWORD)
        return asyncio.run(
            self.users.create(password=password, username=username, email=email, **fields)
        )

    def user(self, login: str) -> Any:
        return asyncio.run(self.users.get_by_login(login))

    def mails(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.outbox.outbox) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.outbox.outbox)

    def post(self, path: str, data: dict[str, str], client: TestClient | None = None,
             form: str | None = None) -> httpx.Response:  # fmt: skip
        """POST ``data`` as the form on ``form`` (default: ``path``) would, CSRF field included."""
        client = client or self.client
        return client.post(path, data={**data, **csrf_field(client, form or path)})

    def sign_in(self, login: str = "ann", password: str = PASSWORD, next: str = "",
                client: TestClient | None = None) -> httpx.Response:  # fmt: skip
        return self.post(
            "/auth/login", {"login": login, "password": password, "next": next}, client
        )


def csrf_field(client: TestClient, page: str) -> dict[str, str]:
    """The CSRF field of the form on ``page`` (none when the page has none)."""
    found = re.search(r'name="(csrf[^"]*)" value="([^"]+)"', client.get(page).text)
    return {found[1]: found[2]} if found else {}


def link_in(message: EmailMessage) -> str:
    found = re.search(r"http://testserver(/auth/\S+)", message.body)
    assert found, message.body
    return found[1]


def without_tokens(text: str) -> str:
    return re.sub(r'(value|nonce)="[^"]{20,}"', r'\1="…"', text)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    yield site
    site.close()


# -- sign in ---------------------------------------------------------------------------
def test_the_sign_in_page_is_accessible(site: Site) -> None:
    page = site.client.get("/auth/login").text
    assert '<label for="id_login">Username or e-mail</label>' in page
    assert 'id="id_login" name="login" type="text" value="" autocomplete="username"' in page
    assert 'autocomplete="current-password"' in page
    assert '<html lang="en">' in page and "<main" in page
    assert 'href="/auth/password/reset"' in page and 'href="/auth/signup"' in page


def test_sign_in_then_the_protected_page(site: Site) -> None:
    site.add_user()
    assert site.client.get("/members").status_code == 302
    asked = site.client.get("/auth/login", params={"next": "/members?tab=2"}).text
    assert 'name="next" value="/members?tab=2"' in asked
    assert "Sign in to see that page." in asked
    response = site.sign_in(next="/members?tab=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/members?tab=2"
    assert site.client.get("/members").text == "members: ann"
    assert site.sign_in("ann@EXAMPLE.com", client=site.new_client()).status_code == 303


@pytest.mark.parametrize(
    "next_value", ["//evil.example", "https://evil.example", "/\\evil.example", "/%2F%2Fevil"]
)
def test_sign_in_never_goes_to_another_site(site: Site, next_value: str) -> None:
    site.add_user()
    page = site.client.get("/auth/login", params={"next": next_value}).text
    assert "evil" not in page  # not even kept in the form
    assert "Sign in to see that page." not in page
    response = site.sign_in(next=next_value)
    assert response.headers["location"] == "/"


def test_login_redirect_is_where_sign_in_leads_without_next(tmp_path: Path) -> None:
    site = Site(tmp_path, login_redirect="/members")
    try:
        site.add_user()
        assert site.sign_in().headers["location"] == "/members"
    finally:
        site.close()


def test_unknown_user_and_wrong_password_answer_the_same(site: Site) -> None:
    site.add_user()
    site.add_user("gone", "gone@example.com", is_active=False)
    answers = []
    for login, password in [("ann", "wrong-password"), ("nobody", "wrong-password"),
                            ("gone", PASSWORD), ("", ""), ("ann", "")]:  # fmt: skip
        before = site.hasher.verifications
        response = site.sign_in(login, password)
        # The same work: one password hash checked, real or dummy.
        assert site.hasher.verifications - before == 1, login
        assert response.status_code == 200
        typed = f'name="login" type="text" value="{login}"'
        answers.append(without_tokens(response.text).replace(typed, "(the login typed)"))
        assert "do not match an account" in response.text
    assert len(set(answers)) == 1
    assert site.client.get("/members").status_code == 302


def test_an_xss_payload_as_login_is_escaped(site: Site) -> None:
    page = site.sign_in(XSS, "x").text
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_oversized_fields_are_refused_before_any_hashing(site: Site) -> None:
    before = site.hasher.verifications
    response = site.sign_in("ann", "x" * 5000)
    assert response.status_code == 422
    assert site.hasher.verifications == before


def test_a_signed_in_user_asking_for_the_sign_in_page_with_next_goes_on(site: Site) -> None:
    site.add_user()
    site.sign_in()
    response = site.client.get("/auth/login", params={"next": "/members"})
    assert response.status_code == 303 and response.headers["location"] == "/members"


# -- sign out ------------------------------------------------------------------------------
def test_sign_out_by_get_does_nothing(site: Site) -> None:
    site.add_user()
    site.sign_in()
    page = site.client.get("/auth/logout")
    assert page.status_code == 200 and 'action="/auth/logout"' in page.text
    assert site.client.get("/members").status_code == 200  # still signed in


def test_sign_out_ends_the_session_and_a_replayed_cookie(site: Site) -> None:
    site.add_user()
    site.sign_in()
    old_cookies = dict(site.client.cookies)
    response = site.post("/auth/logout", {})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert site.client.get("/members").status_code == 302
    replay = site.new_client()
    replay.cookies.update(old_cookies)
    assert replay.get("/members").status_code == 302


def test_sign_out_says_so(site: Site) -> None:
    site.add_user()
    site.sign_in()
    site.post("/auth/logout", {})
    assert "You have signed out." in site.client.get("/auth/login").text


# -- password change ---------------------------------------------------------------------------
def test_password_change_needs_a_signed_in_user(site: Site) -> None:
    response = site.client.get("/auth/password/change")
    assert response.status_code == 302
    assert response.headers["location"] == "/auth/login?next=%2Fauth%2Fpassword%2Fchange"


def test_password_change(site: Site) -> None:
    site.add_user()
    site.sign_in()
    elsewhere = site.new_client()
    site.sign_in(client=elsewhere)
    form = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = site.post("/auth/password/change", form)
    assert response.status_code == 303
    assert "Your password was changed" in site.client.get("/auth/password/change").text
    assert site.client.get("/members").status_code == 200  # this session stays
    assert elsewhere.get("/members").status_code == 302  # the others end
    other = site.new_client()
    assert site.sign_in(password=PASSWORD, client=other).status_code == 200
    assert site.sign_in(password=NEW_PASSWORD, client=other).status_code == 303


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"old_password": "wrong"}, "old_password", "That is not your current password."),
        ({"new_password2": "different-but-long-9"}, "new_password1", "do not match"),
        ({"new_password1": "short", "new_password2": "short"}, "new_password1", "at least"),
        ({"new_password1": "12345678901", "new_password2": "12345678901"}, "new_password1",
         "entirely numeric"),
    ],
)  # fmt: skip
def test_password_change_errors(site: Site, form: dict[str, str], field: str, message: str) -> None:
    site.add_user()
    site.sign_in()
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD, **form}  # fmt: skip
    response = site.post("/auth/password/change", data)
    assert response.status_code == 400
    assert f'id="id_{field}_errors"' in response.text
    assert message in response.text
    assert f'aria-describedby="id_{field}_help id_{field}_errors"' in response.text or (
        f'aria-describedby="id_{field}_errors"' in response.text
    )
    assert site.user("ann").session_generation == 0  # nothing changed


# -- password reset --------------------------------------------------------------------------
def test_password_reset_by_its_email(site: Site) -> None:
    site.add_user()
    response = site.post("/auth/password/reset", {"email": "Ann@Example.com"})
    assert response.headers["location"] == "/auth/password/reset/sent"
    [mail] = site.mails()
    assert mail.to == ("ann@example.com",) and mail.subject == "Reset your password"
    assert mail.from_email == "site@example.com"
    assert "The link works once, for 3 days." in mail.body
    link = link_in(mail)
    form = site.client.get(link)
    assert form.status_code == 200 and form.headers["referrer-policy"] == "no-referrer"
    assert form.headers["cache-control"] == "no-store"
    done = site.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.headers["location"] == "/auth/login"
    assert site.sign_in(password=PASSWORD).status_code == 200
    assert site.sign_in(password=NEW_PASSWORD).status_code == 303
    # Once used, the link is dead.
    again = site.client.get(link)
    assert again.status_code == 400 and "This link is not valid" in again.text
    reuse = site.post(
        link, {"new_password1": PASSWORD, "new_password2": PASSWORD}, form="/auth/login"
    )
    assert reuse.status_code == 400
    assert site.sign_in(password=NEW_PASSWORD, client=site.new_client()).status_code == 303


def test_password_reset_answers_the_same_for_unknown_addresses(site: Site) -> None:
    site.add_user()
    site.add_user("gone", "gone@example.com", is_active=False)
    for address in ("nobody@example.com", "gone@example.com", "ann"):
        response = site.post("/auth/password/reset", {"email": address})
        if address == "ann":
            assert response.status_code == 400  # not an address at all: say so
            continue
        assert response.headers["location"] == "/auth/password/reset/sent"
    assert site.mails(timeout=0.5) == []


def test_a_reset_link_dies_when_the_password_changes_otherwise(site: Site) -> None:
    user = site.add_user()
    site.post("/auth/password/reset", {"email": "ann@example.com"})
    link = link_in(site.mails()[0])
    asyncio.run(site.users.set_password(user, "changed-by-the-admin-1"))
    assert site.client.get(link).status_code == 400


def test_a_reset_link_expires(tmp_path: Path) -> None:
    site = Site(tmp_path, link_max_age=1)
    try:
        site.add_user()
        site.post("/auth/password/reset", {"email": "ann@example.com"})
        [mail] = site.mails()
        assert "for 1 second." in mail.body
        link = link_in(mail)
        assert site.client.get(link).status_code == 200
        time.sleep(2.1)
        assert site.client.get(link).status_code == 400
    finally:
        site.close()


@pytest.mark.parametrize("token", ["x", "a.b.c", "W10.abc.def", "%00", "A" * 600])
def test_forged_reset_tokens_are_refused(site: Site, token: str) -> None:
    site.add_user()
    response = site.client.get(f"/auth/password/reset/{token}")
    assert response.status_code in (400, 404)


def test_a_reset_link_mismatched_with_password_rules(site: Site) -> None:
    site.add_user()
    site.post("/auth/password/reset", {"email": "ann@example.com"})
    link = link_in(site.mails()[0])
    response = site.post(link, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 400 and "at least" in response.text
    assert site.client.get(link).status_code == 200  # still usable


def test_site_url_starts_the_links(tmp_path: Path) -> None:
    site = Site(tmp_path, site_url="https://shop.example.com/")
    try:
        site.add_user()
        site.post("/auth/password/reset", {"email": "ann@example.com"})
        assert "https://shop.example.com/auth/password/reset/" in site.mails()[0].body
    finally:
        site.close()


# -- sign-up -------------------------------------------------------------------------------
def test_sign_up_verify_then_sign_in(site: Site) -> None:
    response = site.post("/auth/signup", {
        "username": "bob", "email": "bob@example.com",
        "password1": PASSWORD, "password2": PASSWORD,
    })  # fmt: skip
    assert response.headers["location"] == "/auth/signup/sent"
    assert "bob@example.com" in site.client.get("/auth/signup/sent").text
    [mail] = site.mails()
    assert mail.subject == "Confirm your e-mail address" and mail.to == ("bob@example.com",)
    # Not verified: the right password is not enough, and the page says why.
    refused = site.sign_in("bob")
    assert refused.status_code == 200 and "Confirm your e-mail address first" in refused.text
    link = link_in(mail)
    confirm = site.client.get(link)
    assert confirm.status_code == 200 and "bob@example.com" in confirm.text
    assert site.user("bob").email_verified is False  # a GET changes nothing
    assert site.post(link, {}).headers["location"] == "/auth/login"
    assert site.user("bob").email_verified is True
    assert site.sign_in("bob").status_code == 303
    assert site.client.get(link).status_code == 400  # used


def test_sign_up_without_verification_signs_in(tmp_path: Path) -> None:
    site = Site(tmp_path, verify_email=False)
    try:
        response = site.post("/auth/signup", {
            "username": "bob", "email": "bob@example.com",
            "password1": PASSWORD, "password2": PASSWORD,
        })  # fmt: skip
        assert response.headers["location"] == "/"
        assert site.client.get("/members").text == "members: bob"
        assert site.mails(timeout=0.3) == []
    finally:
        site.close()


def test_on_signup_hooks_run_when_the_account_is_ready(site: Site) -> None:
    """With verification, the hooks run at the confirmation, not at the sign-up."""
    seen: list[tuple[str, str]] = []

    @site.auth.on_signup
    async def first(request: Request, user: Any) -> None:
        seen.append(("async", user.username))

    site.auth.on_signup(lambda request, user: seen.append(("sync", user.username)))
    site.post("/auth/signup", {
        "username": "bob", "email": "bob@example.com",
        "password1": PASSWORD, "password2": PASSWORD,
    })  # fmt: skip
    assert seen == []  # not ready: the address is not confirmed
    link = link_in(site.mails()[0])
    site.post(link, {})
    assert seen == [("async", "bob"), ("sync", "bob")]
    site.post(link, {})  # a used link: nothing more
    assert len(seen) == 2


def test_on_signup_hooks_run_at_sign_up_without_verification(tmp_path: Path) -> None:
    site = Site(tmp_path, verify_email=False)
    seen: list[str] = []
    site.auth.on_signup(lambda request, user: seen.append(user.username))
    try:
        site.post("/auth/signup", {
            "username": "bob", "email": "bob@example.com",
            "password1": PASSWORD, "password2": PASSWORD,
        })  # fmt: skip
        assert seen == ["bob"]
        site.post("/auth/signup", {"username": "", "email": "x", "password1": "", "password2": ""})
        assert seen == ["bob"]  # a refused sign-up makes nothing ready
    finally:
        site.close()
    with pytest.raises(ConfigurationError, match="takes a callable"):
        site.auth.on_signup("welcome")  # type: ignore[arg-type]


def test_sign_up_with_a_known_address_tells_its_owner_not_the_visitor(site: Site) -> None:
    site.add_user()
    response = site.post("/auth/signup", {
        "username": "mallory", "email": "ANN@example.com",
        "password1": PASSWORD, "password2": PASSWORD,
    })  # fmt: skip
    assert response.headers["location"] == "/auth/signup/sent"
    [mail] = site.mails()
    assert mail.subject == "You already have an account" and "ann" in mail.body
    assert site.user("mallory") is None


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"username": ""}, "username", "Choose a username."),
        ({"username": "ann"}, "username", "That username is taken."),
        ({"username": XSS}, "username", "may contain only"),
        ({"email": "not-an-address"}, "email", "Enter an e-mail address."),
        ({"email": "a@b.example, c@d.example"}, "email", "Enter an e-mail address."),
        ({"password2": "other-long-password-1"}, "password1", "do not match"),
        ({"password1": "bob-example", "password2": "bob-example"}, "password1", "too similar"),
    ],
)
def test_sign_up_errors(site: Site, form: dict[str, str], field: str, message: str) -> None:
    site.add_user()
    data = {"username": "bob", "email": "bob@example.com", "password1": PASSWORD,
            "password2": PASSWORD, **form}  # fmt: skip
    response = site.post("/auth/signup", data)
    assert response.status_code == 400
    assert message in response.text
    assert f'id="id_{field}_errors"' in response.text
    assert XSS not in response.text
    if field != "username" and form.get("username") is None:
        assert 'value="bob"' in response.text  # what was typed is kept
    assert PASSWORD not in response.text  # passwords are never echoed


def test_no_sign_up_page_unless_asked(tmp_path: Path) -> None:
    site = Site(tmp_path, signup=False)
    try:
        assert site.client.get("/auth/signup").status_code == 404
        assert 'href="/auth/signup"' not in site.client.get("/auth/login").text
    finally:
        site.close()


def test_no_reset_pages_when_turned_off(tmp_path: Path) -> None:
    site = Site(tmp_path, password_reset=False)
    try:
        assert site.client.get("/auth/password/reset").status_code == 404
        assert "Forgot your password" not in site.client.get("/auth/login").text
    finally:
        site.close()


# -- templates and configuration ----------------------------------------------------------------
def test_the_app_overrides_the_base_and_a_page(tmp_path: Path) -> None:
    (tmp_path / "auth").mkdir()
    (tmp_path / "base.html").write_text(
        "<html><title>{% block title %}{% endblock %} | Shop</title>"
        "<body id=shop>{% block content %}{% endblock %}</body></html>"
    )
    (tmp_path / "auth" / "base.html").write_text('{% extends "base.html" %}')
    (tmp_path / "auth" / "password_reset_sent.html").write_text(
        '{% extends "auth/base.html" %}{% block content %}<p id=own>Look in your inbox</p>'
        "{% endblock %}"
    )
    site = Site(tmp_path)
    try:
        login = site.client.get("/auth/login").text
        assert "<title>Sign in | Shop</title>" in login and "<body id=shop>" in login
        assert (
            "<p id=own>Look in your inbox</p>" in site.client.get("/auth/password/reset/sent").text
        )
    finally:
        site.close()


def test_pages_none_has_no_pages(tmp_path: Path) -> None:
    app = Carboy(settings=Settings(debug=True, secret_key=SECRET))
    app.install(Auth(users=MemoryUserStore(), pages=None))
    with TestClient(app) as client:
        assert client.get("/auth/login").status_code == 404
    assert not any(isinstance(m, Mail) for m in app.walk())


def test_auth_installs_mail_when_its_pages_send_some(tmp_path: Path) -> None:
    app = Carboy(settings=Settings(debug=True, secret_key=SECRET))
    app.install(Auth(users=MemoryUserStore()))
    app.build()
    assert [type(m).__name__ for m in app.walk() if isinstance(m, Mail)] == ["Mail"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"login_redirect": "https://evil.example"}, "login_redirect"),
        ({"logout_redirect": "//evil.example"}, "logout_redirect"),
        ({"link_max_age": 0}, "link_max_age"),
        ({"site_url": "shop.example.com"}, "site_url"),
    ],
)
def test_bad_page_options(options: dict[str, Any], match: str) -> None:
    from carboy import ConfigurationError

    with pytest.raises(ConfigurationError, match=match):
        PagesConfig(**options)


# -- any user store; hostile names ------------------------------------------------------------
class DirectoryUser:
    """A user of DirectoryStore: any name at all, as an outside directory may hold."""

    def __init__(self, pk: str, username: str, email: str, password: str) -> None:
        self.pk, self.username, self.email, self.password = pk, username, email, password
        self.is_active, self.is_staff, self.is_superuser = True, False, False
        self.email_verified, self.session_generation = True, 0
        self.is_authenticated = True

    @property
    def display_name(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


class DirectoryStore:
    """A UserStore of its own (not carboy's): the pages talk to the protocol only."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.users: dict[str, DirectoryUser] = {}

    def _copy(self, user: DirectoryUser | None) -> DirectoryUser | None:
        if user is None:
            return None
        copy = DirectoryUser(user.pk, user.username, user.email, user.password)
        copy.__dict__.update(user.__dict__)
        return copy

    async def get(self, pk: str) -> DirectoryUser | None:
        return self._copy(self.users.get(pk))

    async def get_by_login(self, login: str) -> DirectoryUser | None:
        for user in self.users.values():
            if login.casefold() in (user.username.casefold(), user.email.casefold()):
                return self._copy(user)
        return None

    async def create(self, *, password: str | None, **fields: Any) -> DirectoryUser:
        pk = str(len(self.users) + 1)
        user = DirectoryUser(
            pk, fields["username"], fields["email"], self.hasher.hash(password or "")
        )
        user.email_verified = fields.get("email_verified", True)
        self.users[pk] = user
        return self._copy(user)  # type: ignore[return-value]

    async def check_password(self, user: Any, password: str) -> bool:
        return self.hasher.verify(self.users[user.pk].password, password)

    async def set_password(self, user: Any, password: str) -> None:
        record = self.users[user.pk]
        record.password = self.hasher.hash(password)
        record.session_generation += 1

    async def update(self, user: Any, **fields: Any) -> None:
        self.users[user.pk].__dict__.update(fields)

    async def bump_generation(self, user: Any) -> None:
        self.users[user.pk].session_generation += 1


def test_an_xss_username_renders_escaped_on_every_page(tmp_path: Path) -> None:
    (tmp_path / "me.html").write_text("<p id=me>{{ user.display_name }}</p>")
    hasher = CountingHasher()
    store = DirectoryStore(hasher)
    outbox = MemoryBackend()
    app = Carboy(settings=Settings(debug=True, secret_key=SECRET, templates_dir=str(tmp_path)))
    app.install(Mail(outbox))
    app.install(Auth(users=store, password_hasher=hasher, pages=PagesConfig(signup=True)))

    @app.get("/me")
    async def me() -> Any:
        from carboy import render

        return render("me.html")

    asyncio.run(store.create(password=PASSWORD, username=XSS, email="x@example.com"))
    with TestClient(app, follow_redirects=False, headers=HTML) as client:

        def post(path: str, data: dict[str, str]) -> httpx.Response:
            return client.post(path, data={**data, **csrf_field(client, path)})

        pages = [post("/auth/login", {"login": XSS, "password": "wrong"})]
        assert post("/auth/login", {"login": XSS, "password": PASSWORD}).status_code == 303
        pages += [client.get(p) for p in ("/me", "/auth/logout", "/auth/password/change")]
        pages.append(post("/auth/password/change", {"old_password": "wrong"}))
        post("/auth/password/reset", {"email": "x@example.com"})
        deadline = time.monotonic() + 5
        while not outbox.outbox and time.monotonic() < deadline:
            time.sleep(0.01)
        pages.append(client.get(link_in(outbox.outbox[0])))
        pages.append(post("/auth/signup", {"username": XSS, "email": "y@example.com",
                                           "password1": "x", "password2": "y"}))  # fmt: skip
        for page in pages:
            assert XSS not in page.text, page.url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1].text  # /me
        assert all("&lt;script&gt;" in p.text for p in pages), [p.url for p in pages]
        assert XSS not in outbox.outbox[0].body or outbox.outbox[0].html is None  # plain text


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (259200, "3 days"),
        (86400, "1 day"),
        (7200, "2 hours"),
        (5400, "90 minutes"),
        (61, "61 seconds"),
    ],
)
def test_how_long_links_work_is_said_in_words(seconds: int, said: str) -> None:
    from carboy.auth._pages import _duration

    assert _duration(seconds) == said
