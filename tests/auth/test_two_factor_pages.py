"""The two-factor pages, driven as a browser drives them, with pyotp computing the codes.

Sign-in with a code (not signed in until it is right), a wrong code, an expired
pending sign-in, a recovery code that works once, enrolment (QR code, secret,
confirmation with a code and the password, recovery codes shown once), new
recovery codes, disabling, and the code throttle. TwoFactor's tables are on
SQLite and PostgreSQL; time is a clock the test moves (TOTP steps and the
pending sign-in's age follow it).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest

from carboy import Carboy, Request, Settings
from carboy.auth import (
    Auth,
    LoginThrottle,
    MemoryUserStore,
    PagesConfig,
    PasswordHasher,
    TwoFactor,
    login_required,
)
from carboy.db import Database
from carboy.testing import TestClient

SECRET = "two-factor-pages-tests-secret-" * 2
PASSWORD = "plum-tree-in-may-7"
START = 1_800_000_000.0 - 1_800_000_000.0 % 86400


class Clock:
    """Unix time that moves only when the test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Site:
    """An app with the auth pages and two-factor; one test client, a cookie jar per browser."""

    def __init__(self, db: Database, **pages: Any) -> None:
        self.clock = Clock(START + 5)
        self.users = MemoryUserStore(
            hasher=PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
        )
        self.two_factor = TwoFactor(db, issuer="Example", clock=self.clock)
        self.app = Carboy(settings=Settings(debug=True, secret_key=SECRET))
        throttles = {
            "login_throttle": LoginThrottle(clock=self.clock),
            "code_throttle": LoginThrottle(
                "10/hour", ip_rate="20/hour", scope="auth.code", clock=self.clock
            ),
            "password_reset": False,
        }
        config = PagesConfig(login_redirect="/members", **{**throttles, **pages})
        self.auth = Auth(users=self.users, two_factor=self.two_factor, pages=config)
        self.app.install(self.auth)
        self.app.on_shutdown(db.dispose)  # its connections belong to the client's loop

        @self.app.get("/members")
        @login_required
        async def members(request: Request) -> str:
            return f"members: {request.user.display_name}"

        self.client = TestClient(self.app, follow_redirects=False, headers={"Accept": "text/html"})
        self.client.__enter__()
        self._jars: dict[str, httpx.Cookies] = {}
        self._browser = "main"
        self.user = asyncio.run(
            self.users.create(password=PASSWORD, username="ann", email="ann@example.com")
        )

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def browser(self, name: str) -> None:
        """Go on in another browser (its own cookies); ``"main"`` is the first."""
        self._jars[self._browser] = self.client.cookies
        self.client.cookies = self._jars.get(name, httpx.Cookies())
        self._browser = name

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def post(self, path: str, data: dict[str, str], form: str | None = None) -> httpx.Response:
        """POST ``data`` as the form on ``form`` (default ``path``) would, CSRF field included."""
        found = None
        for page in (form or path, "/auth/login"):  # a page that redirects has no form
            found = found or re.search(r'name="(csrf[^"]*)" value="([^"]+)"', self.get(page).text)
        token = {found[1]: found[2]} if found else {}
        return self.client.post(path, data={**data, **token})

    def sign_in(self, password: str = PASSWORD, next: str = "") -> httpx.Response:
        return self.post("/auth/login", {"login": "ann", "password": password, "next": next})

    def code(self, secret: str, offset: int = 0) -> str:
        """The code an authenticator app shows now (``offset`` steps away)."""
        return pyotp.TOTP(secret).at(self.clock() + 30 * offset)

    def enter_code(self, code: str) -> httpx.Response:
        return self.post("/auth/login/code", {"code": code})

    def sign_out(self) -> None:
        self.post("/auth/logout", {})

    def enrol(self) -> tuple[str, list[str]]:
        """Turn two-factor on for ann (signed in): the secret and the recovery codes."""
        page = self.get("/auth/two-factor/enable").text
        secret = secret_on(page)
        done = self.post("/auth/two-factor/enable", {"code": self.code(secret),
                                                     "password": PASSWORD})  # fmt: skip
        assert done.status_code == 200, done.text
        return secret, codes_on(done.text)


def secret_on(page: str) -> str:
    found = re.search(r'<p class="secret" id="secret">([A-Z2-7 ]+)</p>', page)
    assert found, page
    return found[1].replace(" ", "")


def codes_on(page: str) -> list[str]:
    listed = re.search(r'<ul class="codes" id="recovery-codes">(.*?)</ul>', page, re.S)
    assert listed, page
    return re.findall(r"<li>([a-z0-9-]+)</li>", listed[1])


@pytest.fixture
def site(auth_database: Database) -> Iterator[Site]:
    site = Site(auth_database)
    yield site
    site.close()


@pytest.fixture
def enrolled(site: Site) -> tuple[Site, str, list[str]]:
    """ann with two-factor on, signed out."""
    assert site.sign_in().status_code == 303
    secret, codes = site.enrol()
    site.sign_out()
    site.clock.advance(30)  # the next step: the code used at enrolment is spent
    return site, secret, codes


# -- enrolment -----------------------------------------------------------------------------
def test_enrolment_shows_a_qr_code_and_the_secret_then_the_recovery_codes_once(
    site: Site,
) -> None:
    assert site.get("/auth/two-factor").status_code == 302  # signed-in users only
    site.sign_in()
    settings = site.get("/auth/two-factor").text
    assert "Two-factor sign-in is off." in settings and 'href="/auth/two-factor/enable"' in settings
    page = site.get("/auth/two-factor/enable")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<svg role="img" aria-label="QR code to scan with your authenticator app"' in page.text
    assert "<path" in page.text and "http" not in page.text.split("<svg", 1)[1].split("</svg>")[0]
    assert 'autocomplete="one-time-code"' in page.text
    secret = secret_on(page.text)
    assert len(secret) == 32
    # A reload shows the same secret: the one scanned already is the one to confirm.
    assert secret_on(site.get("/auth/two-factor/enable").text) == secret
    done = site.post("/auth/two-factor/enable", {"code": site.code(secret), "password": PASSWORD})
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    codes = codes_on(done.text)
    assert len(codes) == 10 and all(re.fullmatch(r"([a-z0-9]{4}-){3}[a-z0-9]{4}", c) for c in codes)
    assert "this page shows them once" in done.text
    settings = site.get("/auth/two-factor").text
    assert "Two-factor sign-in is on." in settings and "10 unused recovery codes" in settings
    assert not any(code in settings for code in codes)  # never shown again
    again = site.get("/auth/two-factor/enable")
    assert again.status_code == 303 and again.headers["location"] == "/auth/two-factor"


def test_enrolment_needs_the_right_code_and_the_password(site: Site) -> None:
    site.sign_in()
    secret = secret_on(site.get("/auth/two-factor/enable").text)
    wrong_code = site.post("/auth/two-factor/enable", {"code": "000000", "password": PASSWORD})
    assert wrong_code.status_code == 400 and "That code is not right" in wrong_code.text
    wrong_password = site.post(
        "/auth/two-factor/enable", {"code": site.code(secret), "password": "nope"}
    )
    assert wrong_password.status_code == 400
    assert "That is not your current password." in wrong_password.text
    assert "Two-factor sign-in is off." in site.get("/auth/two-factor").text
    assert secret_on(wrong_password.text) == secret  # still the same enrolment


def test_turning_it_on_ends_the_other_sessions(site: Site) -> None:
    site.browser("laptop")
    site.sign_in()
    site.browser("main")
    site.sign_in()
    before = site.client.cookies.get("session")
    site.enrol()
    assert site.get("/members").status_code == 200  # this session goes on...
    assert site.client.cookies.get("session") != before  # ...under a new id
    site.browser("laptop")
    assert site.get("/members").status_code == 302


# -- signing in with a code ----------------------------------------------------------------
def test_sign_in_with_a_code(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, _ = enrolled
    step = site.sign_in(next="/members?tab=2")
    assert step.status_code == 303 and step.headers["location"] == "/auth/login/code"
    assert site.get("/members").status_code == 302  # not signed in by the password alone
    page = site.get("/auth/login/code")
    assert page.status_code == 200 and "Two-factor sign-in" in page.text
    assert 'autocomplete="one-time-code"' in page.text
    done = site.enter_code(site.code(secret))
    assert done.status_code == 303 and done.headers["location"] == "/members?tab=2"
    assert site.get("/members").text == "members: ann"


def test_a_code_of_the_step_before_or_after_works(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, _ = enrolled
    site.clock.advance(30)  # the step before now was not the enrolment's
    site.sign_in()
    assert site.enter_code(site.code(secret, offset=-1)).status_code == 303


def test_a_wrong_code_asks_again(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, _ = enrolled
    site.sign_in()
    for wrong in ("000000", site.code(secret, offset=5), "12 34", "x" * 64):
        refused = site.enter_code(wrong)
        assert refused.status_code == 400 and "That code is not right" in refused.text
    assert site.get("/members").status_code == 302
    assert site.enter_code(site.code(secret)).status_code == 303


def test_an_oversized_code_is_a_422(enrolled: tuple[Site, str, list[str]]) -> None:
    site, _, _ = enrolled
    site.sign_in()
    assert site.enter_code("1" * 65).status_code == 422


def test_a_code_works_once(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, _ = enrolled
    code = site.code(secret)
    site.sign_in()
    assert site.enter_code(code).status_code == 303
    site.sign_out()
    site.sign_in()
    assert site.enter_code(code).status_code == 400  # replayed within its step


def test_too_many_wrong_codes_start_over(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, _ = enrolled
    site.sign_in()
    for _ in range(4):
        assert site.enter_code("000000").status_code == 400
    last = site.enter_code("000000")  # the fifth: max_attempts
    assert last.status_code == 303 and last.headers["location"] == "/auth/login"
    assert "Too many wrong codes" in site.get("/auth/login").text
    assert site.enter_code(site.code(secret)).headers["location"] == "/auth/login"
    assert site.get("/members").status_code == 302


def test_an_expired_pending_sign_in_asks_for_the_password_again(
    enrolled: tuple[Site, str, list[str]],
) -> None:
    site, secret, _ = enrolled
    site.sign_in()
    site.clock.advance(5 * 60 + 1)  # pending_max_age is five minutes
    expired = site.enter_code(site.code(secret))
    assert expired.status_code == 303 and expired.headers["location"] == "/auth/login"
    assert "Your sign-in expired" in site.get("/auth/login").text
    assert site.get("/members").status_code == 302
    assert site.get("/auth/login/code").headers["location"] == "/auth/login"


def test_the_code_page_without_a_password_first(site: Site) -> None:
    assert site.get("/auth/login/code").headers["location"] == "/auth/login"
    refused = site.enter_code("123456")
    assert refused.status_code == 303 and refused.headers["location"] == "/auth/login"


def test_a_recovery_code_works_once(enrolled: tuple[Site, str, list[str]]) -> None:
    site, _, codes = enrolled
    site.sign_in()
    used = site.enter_code(codes[0].upper().replace("-", " "))  # case and spacing do not matter
    assert used.status_code == 303
    members = site.get("/members")
    assert members.text == "members: ann"
    assert "You used a recovery code: 9 left." in site.get("/auth/two-factor").text
    site.sign_out()
    site.sign_in()
    assert site.enter_code(codes[0]).status_code == 400  # spent
    assert site.enter_code(codes[1]).status_code == 303


def test_new_recovery_codes_replace_the_old(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, old = enrolled
    site.sign_in()
    site.enter_code(site.code(secret))
    wrong = site.post("/auth/two-factor/recovery-codes", {"password": "nope"}, "/auth/two-factor")
    assert wrong.status_code == 400 and "That is not your current password." in wrong.text
    made = site.post("/auth/two-factor/recovery-codes", {"password": PASSWORD}, "/auth/two-factor")
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    new = codes_on(made.text)
    assert len(new) == 10 and not set(new) & set(old)
    site.sign_out()
    site.sign_in()
    assert site.enter_code(old[0]).status_code == 400
    assert site.enter_code(new[0]).status_code == 303


def test_the_code_step_is_throttled(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, _ = enrolled
    for _ in range(2):  # two password steps, five wrong codes each: ten in the hour
        site.sign_in()
        for _ in range(5):
            site.enter_code("000000")
    site.sign_in()
    refused = site.enter_code(site.code(secret))  # the right code, the 11th attempt
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(3600 - 35)
    assert "Too many attempts. Try again in 1 hour." in refused.text
    assert site.get("/members").status_code == 302
    site.clock.advance(3600)
    site.sign_in()
    assert site.enter_code(site.code(secret)).status_code == 303


def test_no_code_throttle(auth_database: Database) -> None:
    site = Site(auth_database, code_throttle=None)
    try:
        site.sign_in()
        secret, _ = site.enrol()
        site.sign_out()
        site.clock.advance(30)
        for _ in range(3):
            site.sign_in()
            for _ in range(5):
                site.enter_code("000000")
        site.sign_in()
        assert site.enter_code(site.code(secret)).status_code == 303
    finally:
        site.close()


# -- turning it off ------------------------------------------------------------------------
def test_disable_asks_the_password(enrolled: tuple[Site, str, list[str]]) -> None:
    site, secret, _ = enrolled
    site.sign_in()
    site.enter_code(site.code(secret))
    form = site.get("/auth/two-factor/disable")
    assert form.status_code == 200 and 'autocomplete="current-password"' in form.text
    wrong = site.post("/auth/two-factor/disable", {"password": "nope"})
    assert wrong.status_code == 400 and "That is not your current password." in wrong.text
    assert "Two-factor sign-in is on." in site.get("/auth/two-factor").text
    done = site.post("/auth/two-factor/disable", {"password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/auth/two-factor"
    assert "Two-factor sign-in is off." in site.get("/auth/two-factor").text
    site.sign_out()
    assert site.sign_in().headers["location"] == "/members"  # the password is enough again
    assert site.get("/auth/two-factor/disable").headers["location"] == "/auth/two-factor"


def test_the_password_forms_of_two_factor_are_throttled(
    enrolled: tuple[Site, str, list[str]],
) -> None:
    site, secret, _ = enrolled
    site.sign_in()
    site.enter_code(site.code(secret))
    for _ in range(10):
        assert site.post("/auth/two-factor/disable", {"password": "nope"}).status_code == 400
    refused = site.post("/auth/two-factor/disable", {"password": PASSWORD})
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    codes = site.post("/auth/two-factor/recovery-codes", {"password": PASSWORD}, "/auth/two-factor")
    assert codes.status_code == 429
    assert "Two-factor sign-in is on." in site.get("/auth/two-factor").text


def test_enrolment_is_throttled_by_its_password(site: Site) -> None:
    site.sign_in()
    secret = secret_on(site.get("/auth/two-factor/enable").text)
    for _ in range(10):
        wrong = {"code": site.code(secret), "password": "nope"}
        assert site.post("/auth/two-factor/enable", wrong).status_code == 400
    right = {"code": site.code(secret), "password": PASSWORD}
    refused = site.post("/auth/two-factor/enable", right)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "55"
    assert "Too many attempts. Try again in 55 seconds." in refused.text
    assert "Two-factor sign-in is off." in site.get("/auth/two-factor").text


def test_an_inactive_user_cannot_finish_signing_in(
    enrolled: tuple[Site, str, list[str]],
) -> None:
    site, secret, _ = enrolled
    site.sign_in()
    asyncio.run(site.users.update(site.user, is_active=False))
    refused = site.enter_code(site.code(secret))
    assert refused.headers["location"] == "/auth/login"
    assert site.get("/members").status_code == 302


def test_pending_expiry_follows_two_factor(auth_database: Database) -> None:
    site = Site(auth_database)
    site.two_factor.pending_max_age = timedelta(seconds=20)
    try:
        site.sign_in()
        secret, _ = site.enrol()
        site.sign_out()
        site.clock.advance(30)
        site.sign_in()
        site.clock.advance(21)
        assert site.enter_code(site.code(secret)).headers["location"] == "/auth/login"
    finally:
        site.close()
