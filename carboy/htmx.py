"""Small helpers for htmx response headers (``HX-*``).

What htmx sent is on the request (``request.htmx``); these set what the
server tells htmx to do next.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from carboy import _json
from carboy.responses import Response

_R = TypeVar("_R", bound=Response)
_TRIGGER_HEADERS = {
    "receive": "HX-Trigger",
    "settle": "HX-Trigger-After-Settle",
    "swap": "HX-Trigger-After-Swap",
}
# Characters that keep a URL intact while percent-encoding spaces, CR/LF and non-ASCII.
_URL_SAFE = ":/%#?=@[]!$&'()*+,;~"


def hx_redirect(url: str) -> Response:
    """A response that makes htmx load ``url`` as a full page (``HX-Redirect``).

    Example:
        >>> @app.post("/logout")
        ... async def logout() -> Response:
        ...     return hx_redirect("/")
    """
    return Response(headers={"HX-Redirect": quote(url, safe=_URL_SAFE)})


def hx_refresh() -> Response:
    """A response that makes htmx reload the whole page (``HX-Refresh: true``).

    Example:
        >>> return hx_refresh()
    """
    return Response(headers={"HX-Refresh": "true"})


def hx_trigger(
    response: _R,
    event: str,
    detail: Any = None,
    *,
    after: Literal["receive", "settle", "swap"] = "receive",
) -> _R:
    """Make htmx fire ``event`` in the browser (``HX-Trigger``); returns ``response``.

    Call it several times for several events. ``detail`` (any JSON value) is
    passed to the event's listeners as ``event.detail``. ``after`` picks when
    it fires: on receipt, after the swap, or after settling.

    Example:
        >>> response = render("cart.html", ctx)
        >>> hx_trigger(response, "cart-updated", {"count": 3})
        <TemplateResponse 200 'cart.html'>
    """
    if not event or any(ch in event for ch in "\r\n\0"):
        raise ValueError(f"Invalid htmx event name {event!r}")
    name = _TRIGGER_HEADERS[after]
    events = _parse_trigger(response.headers.get(name))
    events[event] = detail
    # Plain names when possible ("a, b"), JSON when a detail or an odd name needs it.
    if all(value is None for value in events.values()) and all(
        key.isascii() and "," not in key and key == key.strip() for key in events
    ):
        value = ", ".join(events)
    else:
        # Plain JSON types first (datetimes in carboy's format); ASCII for a header.
        value = json.dumps(_json.jsonable(events), ensure_ascii=True, separators=(",", ":"))
    response.headers[name] = value
    return response


def hx_push_url(response: _R, url: str | Literal[False]) -> _R:
    """Push ``url`` into the browser history (``HX-Push-Url``); ``False`` prevents it.

    Example:
        >>> hx_push_url(render("search.html", ctx, block="results"), "/search?q=jinja")
        <TemplateResponse 200 'search.html' block='results'>
    """
    response.headers["HX-Push-Url"] = "false" if url is False else quote(url, safe=_URL_SAFE)
    return response


def hx_retarget(response: _R, selector: str) -> _R:
    """Swap the content into ``selector`` instead of the element's target (``HX-Retarget``).

    Example:
        >>> hx_retarget(render("form.html", ctx, block="errors", status_code=422), "#errors")
        <TemplateResponse 422 'form.html' block='errors'>
    """
    response.headers["HX-Retarget"] = _header_text(selector, "selector")
    return response


def hx_reswap(response: _R, swap: str) -> _R:
    """Change how the content is swapped, e.g. ``"outerHTML"`` (``HX-Reswap``).

    Example:
        >>> hx_reswap(render("row.html", ctx), "outerHTML")
        <TemplateResponse 200 'row.html'>
    """
    response.headers["HX-Reswap"] = _header_text(swap, "swap")
    return response


def _parse_trigger(current: str | None) -> dict[str, Any]:
    if not current:
        return {}
    if current.lstrip().startswith("{"):
        parsed = json.loads(current)
        if isinstance(parsed, dict):
            return parsed
    return {name.strip(): None for name in current.split(",") if name.strip()}


def _header_text(value: str, what: str) -> str:
    if not value.isascii():
        raise ValueError(f"The htmx {what} {value!r} must be ASCII")
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError(f"The htmx {what} {value!r} contains a line break")
    return value
