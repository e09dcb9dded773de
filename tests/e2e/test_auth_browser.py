"""The demo's accounts in real headless Chromium: sign up, verify, sign in and out, reset,
two-factor sign-in (enrol with a code, sign in with the next one).

The demo runs in debug mode, so its e-mails go to the console: the server's
output is a file here, and the links are read from it as a developer would.
Screenshots of each step land in the test's folder (and in
``$CARBOY_E2E_SCREENSHOTS`` when set, to look at them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, free_port, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "plum-tree-in-may-7"
NEW_PASSWORD = "a-new-orchard-in-june-9"


class Demo:
    """The demo served by uvicorn, with its console output in a file."""

    def __init__(self, url: str, log: Path, shots: Path) -> None:
        self.url = url
        self.log = log
        self.shots = shots

    def link(self, kind: str, to: str, after: int = 0, timeout: float = 10.0) -> str:
        """The newest link of an e-mail printed to the console for ``to``."""
        pattern = re.compile(
            rf"To: {re.escape(to)}\n.*?({re.escape(self.url)}/auth/{kind}/\S+)", re.S
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = pattern.findall(self.log.read_text(encoding="utf-8", errors="replace"))
            if len(found) > after:
                return str(found[-1])
            time.sleep(0.1)
        raise AssertionError(f"no {kind} e-mail to {to} in the console:\n{self.log.read_text()}")

    def mails_to(self, to: str) -> int:
        return self.log.read_text(encoding="utf-8", errors="replace").count(f"To: {to}\n")

    def shot(self, page: Any, name: str) -> Path:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("auth-demo")
    shots = Path(os.environ.get("CARBOY_E2E_SCREENSHOTS") or folder / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    demo_dir = ROOT / "examples" / "demo"
    env = {
        "CARBOY_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
        "CARBOY_DEBUG": "true",
        "CARBOY_SECRET_KEY": "carboy-e2e-auth-secret-key-" * 3,
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "carboy", "migrate"],
        cwd=demo_dir,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    log = folder / "console.log"
    with log.open("wb") as output:
        process = start_server(
            [sys.executable, "-m", "uvicorn", "demo.app:app", "--port", str(port),
             "--host", "127.0.0.1", "--log-level", "warning"],
            demo_dir,
            port,
            env,
            output,
        )  # fmt: skip
        try:
            yield Demo(f"http://127.0.0.1:{port}", log, shots)
        finally:
            stop_server(process)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def _sign_in(page: Any, demo: Demo, login: str, password: str) -> None:
    page.goto(demo.url + "/auth/login")
    page.get_by_label("Username or e-mail").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_up_verify_sign_in_members_sign_out(page: Any, demo: Demo) -> None:
    page.goto(demo.url + "/")
    page.click("#sign-up")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("E-mail address").fill("ann@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    demo.shot(page, "01-signup-form")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/auth/signup/sent")
    assert "ann@example.com" in page.locator("main").inner_text()
    demo.shot(page, "02-signup-sent")

    # Not verified yet: the right password is not enough.
    _sign_in(page, demo, "ann", PASSWORD)
    assert "Confirm your e-mail address first" in page.locator("[role=alert]").inner_text()
    assert page.locator("#signed-in-as").count() == 0

    page.goto(demo.link("verify", "ann@example.com"))
    demo.shot(page, "03-verify")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/auth/login")
    assert "confirmed" in page.locator("[role=status]").first.inner_text()

    _sign_in(page, demo, "ann", PASSWORD)
    page.wait_for_url("**/members/")
    assert page.locator("#lounge").inner_text() == "The members' lounge"
    assert page.locator("#signed-in-as").inner_text() == "ann"
    demo.shot(page, "04-members")

    page.click("#sign-out")
    page.wait_for_url(demo.url + "/")
    assert page.locator("#sign-in").count() == 1
    demo.shot(page, "05-signed-out")

    page.goto(demo.url + "/members/")
    page.wait_for_url("**/auth/login?next=%2Fmembers%2F")
    assert page.locator("h1").inner_text() == "Sign in"
    assert page.locator("[role=status]").inner_text() == "Sign in to see that page."
    demo.shot(page, "06-refused")


def test_password_reset_by_its_email(page: Any, demo: Demo) -> None:
    # A member of its own, signed up and verified through the pages.
    page.goto(demo.url + "/auth/signup")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("E-mail address").fill("bob@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/auth/signup/sent")
    page.goto(demo.link("verify", "bob@example.com"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/auth/login")

    page.get_by_role("link", name="Forgot your password?").click()
    sent_before = demo.mails_to("bob@example.com")
    page.get_by_label("E-mail address").fill("bob@example.com")
    demo.shot(page, "07-reset-form")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_url("**/auth/password/reset/sent")
    demo.shot(page, "08-reset-sent")

    link = demo.link("password/reset", "bob@example.com", after=0)
    assert demo.mails_to("bob@example.com") == sent_before + 1
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    demo.shot(page, "09-reset-confirm")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/auth/login")
    assert "password was changed" in page.locator("[role=status]").first.inner_text()

    _sign_in(page, demo, "bob", PASSWORD)  # the old password no longer works
    assert "do not match" in page.locator("[role=alert]").inner_text()
    _sign_in(page, demo, "bob@example.com", NEW_PASSWORD)
    page.wait_for_url("**/members/")
    assert page.locator("#signed-in-as").inner_text() == "bob"

    page.goto(link)  # used once: it no longer works
    assert "not valid" in page.locator("[role=alert]").inner_text()
    demo.shot(page, "10-reset-link-used")


def test_two_factor_enrol_sign_out_sign_in_with_a_code(page: Any, demo: Demo) -> None:
    import pyotp

    page.goto(demo.url + "/auth/signup")
    page.get_by_label("Username").fill("cara")
    page.get_by_label("E-mail address").fill("cara@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/auth/signup/sent")
    page.goto(demo.link("verify", "cara@example.com"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/auth/login")
    _sign_in(page, demo, "cara", PASSWORD)
    page.wait_for_url("**/members/")

    # From the members' lounge to the enrolment page.
    page.click("#two-factor")
    page.wait_for_url("**/auth/two-factor")
    assert page.locator("#two-factor-status").inner_text() == "Two-factor sign-in is off."
    page.click("#enable-two-factor")
    page.wait_for_url("**/auth/two-factor/enable")
    qr = page.locator("svg.qr")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 150
    secret = page.locator("#secret").inner_text().replace(" ", "")
    assert len(secret) == 32
    demo.shot(page, "11-two-factor-enable")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Turn on").click()
    codes = page.locator("#recovery-codes li")
    assert codes.count() == 10
    demo.shot(page, "12-two-factor-recovery-codes")
    page.get_by_role("link", name="I saved them").click()
    assert page.locator("#two-factor-status").inner_text() == "Two-factor sign-in is on."

    page.click("#sign-out")
    page.wait_for_url(demo.url + "/")
    _sign_in(page, demo, "cara", PASSWORD)
    page.wait_for_url("**/auth/login/code")
    assert page.locator("#signed-in-as").count() == 0  # the password alone signs no one in
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    assert "That code is not right" in page.locator("#id_code_errors").inner_text()
    demo.shot(page, "13-two-factor-code")
    # The code of the next step: the one of this step went to the enrolment.
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/members/")
    assert page.locator("#signed-in-as").inner_text() == "cara"
