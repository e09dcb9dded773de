"""The demo's API docs page in real headless Chromium, under its strict CSP.

The page must load with an empty console (a CSP violation is a console error),
and "Try it out" on the posts list must get a 200 from the live server.
Screenshots land in the test's folder (and ``$CARBOY_E2E_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _save(page: Any, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    wanted = os.environ.get("CARBOY_E2E_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / path.name)


def test_docs_load_under_the_csp_and_try_it_out_gets_a_200(
    browser: Any, demo_url: str, tmp_path: Path
) -> None:
    context = browser.new_context()
    home = context.new_page()
    home.goto(demo_url + "/")
    href = home.get_attribute("#api-docs", "href")  # the site's navigation links the docs
    assert href == "/api/docs"
    home.close()
    page = context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    try:
        response = page.goto(demo_url + href)
        assert response is not None and response.status == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe" not in csp
        page.wait_for_selector("#operations-posts-posts_list", timeout=20_000)
        assert page.locator(".opblock").count() >= 10
        _save(page, tmp_path, "api-docs")
        operation = page.locator("#operations-posts-posts_list")
        operation.locator(".opblock-summary").click()
        operation.locator(".try-out__btn").click()
        operation.locator(".execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=20_000)
        assert status.inner_text().strip() == "200"
        body = operation.locator(
            ".live-responses-table .microlight, .live-responses-table pre"
        ).first.inner_text()
        assert '"items"' in body
        _save(page, tmp_path, "api-docs-try-it-out")
        assert problems == [], problems
    finally:
        context.close()
