"""The demo in a real browser: htmx partials, a validated form, the WebSocket chat."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def test_home_page_search_swaps_results_with_htmx(page: Any, demo_url: str) -> None:
    requests: list[dict[str, str]] = []
    page.on("request", lambda r: requests.append(r.headers) if "q=" in r.url else None)
    page.goto(demo_url + "/")
    assert page.locator("#results li").count() == 6
    page.fill("#search", "fla")
    # (A locator wait: wait_for_function would evaluate a string, which the CSP refuses.)
    expect(page.locator("#results li")).to_have_count(1)
    expected = "Flask: One file, plugins for everything else."
    assert page.locator("#results li").inner_text() == expected
    # The swap came from an htmx request answered with the partial block only.
    assert any(h.get("hx-request") == "true" for h in requests)
    assert page.locator("header").count() == 1
    page.fill("#search", "<script>zzz")
    page.wait_for_selector("#results li.empty")
    assert "<script>zzz" in page.locator("#results li.empty").inner_text()


def test_contact_form_shows_errors_then_thanks(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/contact")
    page.fill("input[name=name]", "Ann")
    page.fill("input[name=email]", "not-an-email")
    page.fill("textarea[name=message]", "short")
    page.click("#contact button[type=submit]")
    page.wait_for_selector("#id_email_errors")
    assert "valid email address" in page.locator("#id_email_errors").inner_text()
    assert page.locator("#id_message_errors").count() == 1
    assert page.locator("input[name=name]").input_value() == "Ann"  # nothing typed is lost
    page.fill("input[name=email]", "ann@example.com")
    page.fill("textarea[name=message]", "Hello from the browser test!")
    page.click("#contact button[type=submit]")
    assert page.locator("#thanks").inner_text() == "Thank you, Ann!"


def test_chat_round_trip_over_websocket(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/chat/")
    page.wait_for_selector("body[data-connected=yes]")
    page.fill("#text", "hello <b>there</b>")
    page.press("#text", "Enter")
    page.wait_for_selector("#log li")
    assert page.locator("#log li").first.inner_text() == "web: hello <b>there</b>"


def test_blog_navigation(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/")
    page.click("nav >> text=Blog")
    page.wait_for_selector("#posts li")
    assert page.locator("#posts li").count() == 3
    page.click("text=Growing into modules")
    page.wait_for_selector("article h1")
    assert page.locator("article h1").inner_text() == "Growing into modules"


def test_pages_load_under_the_strict_csp_with_no_violation(
    page: Any, demo_url: str, tmp_path: Any
) -> None:
    """The demo sends a nonce policy; nothing on its pages is inline without the nonce."""
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    home = page.goto(demo_url + "/")
    assert "script-src 'self' 'nonce-" in home.headers["content-security-policy"]
    page.fill("#search", "fla")  # htmx runs (a static script) and swaps without inline styles
    expect(page.locator("#results li")).to_have_count(1)
    page.goto(demo_url + "/chat/")
    page.wait_for_selector("body[data-connected=yes]")  # the chat script is a static file
    for path in ("/contact", "/auth/login", "/auth/signup"):
        page.goto(demo_url + path)
    page.screenshot(path=str(tmp_path / "demo-sign-up.png"), full_page=True)
    assert [m for m in console if "Content Security Policy" in m] == []
