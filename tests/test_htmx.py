"""htmx response helpers: the HX-* headers they set."""

from __future__ import annotations

import json

import pytest

from carboy.htmx import hx_push_url, hx_redirect, hx_refresh, hx_reswap, hx_retarget, hx_trigger
from carboy.responses import HTMLResponse, Response
from carboy.templating import TemplateResponse, render


def test_hx_redirect() -> None:
    response = hx_redirect("/posts/7?tab=comments")
    assert response.status_code == 200
    assert response.body == b""
    assert response.headers["hx-redirect"] == "/posts/7?tab=comments"


def test_hx_redirect_encodes_line_breaks_and_non_ascii() -> None:
    response = hx_redirect("/a\r\nSet-Cookie: x=1/é")
    assert response.headers["hx-redirect"] == "/a%0D%0ASet-Cookie:%20x=1/%C3%A9"
    assert "set-cookie" not in response.headers


def test_hx_refresh() -> None:
    response = hx_refresh()
    assert response.headers["hx-refresh"] == "true"
    assert response.body == b""


def test_hx_trigger_names_only() -> None:
    response = HTMLResponse("ok")
    assert hx_trigger(response, "saved") is response
    assert response.headers["hx-trigger"] == "saved"
    hx_trigger(response, "closed")
    assert response.headers["hx-trigger"] == "saved, closed"
    assert response.headers.getlist("hx-trigger") == ["saved, closed"]


def test_hx_trigger_with_detail_switches_to_json() -> None:
    response = hx_trigger(HTMLResponse("ok"), "saved")
    hx_trigger(response, "cart-updated", {"count": 3, "name": "Crème"})
    value = response.headers["hx-trigger"]
    assert value == '{"saved":null,"cart-updated":{"count":3,"name":"Cr\\u00e8me"}}'
    assert json.loads(value) == {"saved": None, "cart-updated": {"count": 3, "name": "Crème"}}
    hx_trigger(response, "third")
    assert json.loads(response.headers["hx-trigger"])["third"] is None


def test_hx_trigger_replaces_same_event_detail() -> None:
    response = hx_trigger(Response(), "n", 1)
    hx_trigger(response, "n", 2)
    assert response.headers["hx-trigger"] == '{"n":2}'


def test_hx_trigger_odd_names_use_json() -> None:
    response = hx_trigger(Response(), "a,b")
    assert json.loads(response.headers["hx-trigger"]) == {"a,b": None}
    response = hx_trigger(Response(), "café")
    assert response.headers["hx-trigger"] == '{"caf\\u00e9":null}'


@pytest.mark.parametrize(
    ("after", "header"),
    [
        ("receive", "hx-trigger"),
        ("settle", "hx-trigger-after-settle"),
        ("swap", "hx-trigger-after-swap"),
    ],
)
def test_hx_trigger_timing(after: str, header: str) -> None:
    response = hx_trigger(Response(), "done", after=after)  # type: ignore[arg-type]
    assert response.headers[header] == "done"
    assert [k for k in response.headers if k.startswith("hx-")] == [header]


@pytest.mark.parametrize("event", ["", "a\r\nb", "x\n", "\0"])
def test_hx_trigger_rejects_bad_event_names(event: str) -> None:
    with pytest.raises(ValueError, match="Invalid htmx event name"):
        hx_trigger(Response(), event)


def test_hx_trigger_on_template_response_keeps_type() -> None:
    response = hx_trigger(render("cart.html"), "cart-updated")
    assert isinstance(response, TemplateResponse)
    assert response.headers["hx-trigger"] == "cart-updated"


def test_hx_push_url() -> None:
    assert hx_push_url(Response(), "/search?q=a b").headers["hx-push-url"] == "/search?q=a%20b"
    assert hx_push_url(Response(), False).headers["hx-push-url"] == "false"


def test_hx_retarget_and_reswap() -> None:
    response = hx_reswap(hx_retarget(Response(), "#errors"), "outerHTML")
    assert response.headers["hx-retarget"] == "#errors"
    assert response.headers["hx-reswap"] == "outerHTML"


@pytest.mark.parametrize("value", ["#a\r\nX-Evil: 1", "#ünï"])
def test_hx_retarget_rejects_header_breaking_values(value: str) -> None:
    with pytest.raises(ValueError, match="The htmx selector"):
        hx_retarget(Response(), value)
    with pytest.raises(ValueError, match="The htmx swap"):
        hx_reswap(Response(), value)
