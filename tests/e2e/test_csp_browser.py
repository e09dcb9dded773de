"""A strict Content-Security-Policy and CSRF protection in real headless Chromium.

``tests/e2e/csp_site.py`` is served by uvicorn. The browser runs an inline
script that carries the request's nonce and blocks one that does not (the
console says so); the auth sign-in page loads styled and without a CSP error;
a form posted from another origin of the same site (another port: the session
cookie goes along) is refused with 403 and writes nothing, while the page's
own form works. Screenshots land in the test's folder (and in
``$CARBOY_E2E_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, free_port, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    port = free_port()
    env = {"CARBOY_DEBUG": "true", "CARBOY_SECRET_KEY": "carboy-e2e-csp-secret-key-" * 3}
    server = [sys.executable, "-m", "uvicorn", "tests.e2e.csp_site:app", "--port", str(port)]
    process = start_server(
        [*server, "--host", "127.0.0.1", "--log-level", "warning"],
        ROOT,
        port,
        env,
    )
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("CARBOY_E2E_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Console:
    """What the page logged, and the CSP violations the browser reported."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", lambda message: self.messages.append(f"{message.type}: {message.text}"))

    def csp_errors(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_an_inline_script_runs_with_the_nonce_and_is_blocked_without(
    page: Any, site_url: str
) -> None:
    console = Console(page)
    response = page.goto(site_url + "/inline")
    policy = response.headers["content-security-policy"]
    assert "'nonce-" in policy
    expect(page.locator("body")).to_have_attribute("data-with-nonce", "ran")
    assert page.evaluate("document.body.dataset.withoutNonce") is None
    color = "el => getComputedStyle(el).color"
    assert page.eval_on_selector("#styled", color) == "rgb(1, 2, 3)"
    assert page.eval_on_selector("#unstyled", color) != "rgb(9, 9, 9)"
    errors = console.csp_errors()
    # Chromium: "Executing inline script violates the following Content Security Policy
    # directive ..." and "Applying inline style violates ...".
    assert len(errors) == 2, console.messages
    assert any("inline script" in e.lower() for e in errors), errors
    assert any("inline style" in e.lower() for e in errors), errors
    # A fresh nonce each load.
    again = page.goto(site_url + "/inline").headers["content-security-policy"]
    assert again != policy


def test_the_htmx_include_works_with_no_csp_error(page: Any, site_url: str) -> None:
    """carboy/htmx.html: htmx swaps under the strict policy, and injects no inline <style>."""
    console = Console(page)
    page.goto(site_url + "/htmx")
    page.click("#load")
    expect(page.locator("#swapped")).to_have_text("swapped in")
    # The indicator rules come from carboy/htmx.css: hidden while no request runs.
    assert page.eval_on_selector("#spinner", "el => getComputedStyle(el).opacity") == "0"
    assert page.evaluate("document.querySelectorAll('style').length") == 0
    assert console.csp_errors() == [], console.messages


def test_the_sign_in_page_loads_styled_with_no_csp_error(
    page: Any, site_url: str, shots: Path
) -> None:
    console = Console(page)
    page.goto(site_url + "/auth/login")
    assert page.locator("h1").inner_text() == "Sign in"
    # The auth pages' own <style> carries the nonce, so it applies.
    width = page.eval_on_selector("main.auth", "el => getComputedStyle(el).maxWidth")
    assert width == "416px"  # 26rem
    page.screenshot(path=str(shots / "csp-sign-in.png"), full_page=True)
    assert console.csp_errors() == []
    # Signing in works through the CSRF check: the form carries its token.
    page.fill("#id_login", "ann")
    page.fill("#id_password", "plum-tree-in-may-7")
    page.click("button[type=submit]")
    page.wait_for_url(site_url + "/")
    assert console.csp_errors() == []


def test_a_form_from_another_origin_of_the_site_is_refused(page: Any, site_url: str) -> None:
    """Another port is another origin but the same site: the session cookie goes along."""
    console = Console(page)
    page.goto(site_url + "/form")  # the visitor's session, with its CSRF secret
    before = httpx.get(site_url + "/notes/count").json()["count"]
    evil = f"http://127.0.0.1:{free_port()}/prize"
    page.route(
        evil,
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                f'<form id="f" method="post" action="{site_url}/notes">'
                '<input name="note" value="forged"><input name="csrf_token" value="guess">'
                '<button id="go">Win</button></form>'
            ),
        ),
    )
    page.goto(evil)
    with page.expect_response(site_url + "/notes") as refused:
        page.click("#go")
    assert refused.value.status == 403
    page.wait_for_load_state()
    assert "CSRF check failed" in page.content()
    assert httpx.get(site_url + "/notes/count").json()["count"] == before
    # The site's own form, with its token, is accepted.
    page.goto(site_url + "/form")
    with page.expect_response(site_url + "/notes") as accepted:
        page.click("#send")
    assert accepted.value.status == 200
    assert page.locator("#saved").inner_text() == "saved mine"
    assert httpx.get(site_url + "/notes/count").json()["count"] == before + 1
    assert console.csp_errors() == []
