"""carboy.forms in real headless Chromium, on the demo's contact page.

Sending an invalid form shows each error next to its field with what was
typed kept; typing into a field checks it live over htmx; a valid form with
a screenshot upload is saved; axe-core (vendored from the npm registry in
tests/e2e/assets, injected by the test) finds no serious or critical
accessibility violation on the form, blank or showing errors. Screenshots land
in the test's folder (and in ``$CARBOY_E2E_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CARBOY_E2E_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 900, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], errors


def htmx_settled(page: Any) -> None:
    """Wait until no htmx request is in flight and no swap is settling."""
    page.wait_for_selector(".htmx-request, .htmx-swapping, .htmx-settling", state="detached")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """What axe-core finds on the page, serious and critical only."""
    # Evaluated by the browser's devtools, not added as an inline <script>: the demo's
    # Content-Security-Policy refuses inline scripts without the request's nonce.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_contact_form_errors_live_validation_and_upload(
    page: Any, demo_url: str, shots: Path, tmp_path: Path
) -> None:
    page.goto(demo_url + "/contact")
    assert serious_violations(page) == []
    page.screenshot(path=str(shots / "forms-contact-blank.png"), full_page=True)

    # 1. An invalid form: each error next to its field, what was typed kept.
    page.fill("#id_name", "Ann <b>")
    page.fill("#id_email", "not-an-email")
    page.fill("#id_message", "short")
    page.click("#contact button[type=submit]")
    page.wait_for_selector("#id_email_errors")
    email = page.locator("#id_email")
    assert email.get_attribute("aria-invalid") == "true"
    assert email.get_attribute("aria-describedby") == "id_email_help id_email_errors"
    assert "valid email address" in page.locator("#id_email_errors").inner_text()
    assert "at least 10 characters" in page.locator("#id_message_errors").inner_text()
    assert page.locator("#id_name").input_value() == "Ann <b>"
    assert page.locator("#id_message").input_value() == "short"
    assert page.locator("#id_name_errors").count() == 0
    assert serious_violations(page) == []
    page.screenshot(path=str(shots / "forms-contact-errors.png"), full_page=True)

    # 2. Live validation: typing a valid address clears its error without a reload.
    checks: list[str] = []
    page.on("request", lambda r: checks.append(r.url) if r.url.endswith("/contact/check") else None)
    page.fill("#id_email", "ann@example.com")
    page.wait_for_selector("#id_email_errors", state="detached")
    assert page.locator("#id_email").get_attribute("aria-invalid") is None
    assert checks, "no htmx request was sent"
    # ...and a bad one shows its error as it is typed; focus and text stay in the field.
    page.fill("#id_message", "tiny")
    page.wait_for_selector("#id_message_errors")
    assert page.evaluate("document.activeElement.id") == "id_message"
    assert page.locator("#id_message").input_value() == "tiny"
    page.screenshot(path=str(shots / "forms-contact-live.png"), full_page=True)

    # 3. A valid form with a screenshot upload.
    from PIL import Image

    picture = tmp_path / "screenshot.png"
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (22, 50, 79)).save(buffer, "PNG")
    picture.write_bytes(buffer.getvalue())
    page.fill("#id_message", "Hello from the browser test, with a picture!")
    # The live check clears the message's error 400 ms later and the button moves up:
    # wait for it (as a user sees it) so the click cannot land where the button was.
    page.wait_for_selector("#id_message_errors", state="detached")
    page.select_option("#id_topic", "bug")
    page.set_input_files("#id_screenshot", str(picture))
    htmx_settled(page)
    page.click("#contact button[type=submit]")
    page.wait_for_selector("#thanks")
    assert page.locator("#thanks").inner_text() == "Thank you, Ann <b>!"
    saved = page.locator("#screenshot code").inner_text()
    assert saved.startswith("contact/") and saved.endswith(".png")
    page.screenshot(path=str(shots / "forms-contact-thanks.png"), full_page=True)
    # The stored file is served under media_url in debug mode.
    response = page.request.get(f"{demo_url}/media/{saved}")
    assert response.status == 200 and response.body() == picture.read_bytes()


def test_a_disguised_upload_is_refused_in_the_browser(
    page: Any, demo_url: str, tmp_path: Path
) -> None:
    fake = tmp_path / "cat.png"
    fake.write_text("<script>alert('gotcha')</script>")
    page.goto(demo_url + "/contact")
    page.fill("#id_name", "Eve")
    page.fill("#id_email", "eve@example.com")
    page.fill("#id_message", "Here is a cat picture for you.")
    page.set_input_files("#id_screenshot", str(fake))
    page.click("#contact button[type=submit]")
    page.wait_for_selector("#id_screenshot_errors")
    assert "not an image" in page.locator("#id_screenshot_errors").inner_text()
    assert page.locator("#id_name").input_value() == "Eve"
