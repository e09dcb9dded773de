"""Response checks, run before and after each measurement.

A framework gets a score for a test only if its response passes the check
(the TechEmpower rules, as far as one response shows them). A check returns
the extra request headers wrk must send (the session cookie for ``/page``);
it raises :class:`NotImplementedRoute` when the route answers 404 and
:class:`CheckFailed` when the answer is wrong.
"""

from __future__ import annotations

import html
import http.client
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    ADDITIONAL_FORTUNE,
    BENCH_PASSWORD,
    BENCH_USERNAME,
    DATABASE_URL,
    FORTUNES,
    MAX_QUERIES,
    MESSAGE,
    PLAINTEXT,
    WORLD_ROWS,
)

USER_AGENT = "carboy-bench"


class CheckFailed(Exception):
    """The response is wrong: no score for this framework on this test."""


class NotImplementedRoute(Exception):
    """The route answers 404: the framework does not implement this test (yet)."""


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise CheckFailed(f"body is not JSON: {self.body[:200]!r}") from exc


@dataclass
class Client:
    port: int
    host: str = "127.0.0.1"
    timeout: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            raw = conn.getresponse()
            return Response(raw.status, raw.msg, raw.read())
        finally:
            conn.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)


Check = Callable[[Client, int, dict[str, str]], dict[str, str]]


def _expect_ok(response: Response, path: str, content_type: str) -> None:
    if response.status == 404:
        raise NotImplementedRoute(f"GET {path} -> 404")
    if response.status != 200:
        raise CheckFailed(f"GET {path} -> {response.status}: {response.body[:300]!r}")
    if not response.content_type.lower().startswith(content_type):
        raise CheckFailed(f"GET {path}: content-type {response.content_type!r}, not {content_type}")


def _get(client: Client, path: str, content_type: str) -> Response:
    response = client.get(path)
    _expect_ok(response, path, content_type)
    return response


def _check_world(value: Any, where: str) -> tuple[int, int]:
    if not isinstance(value, dict) or set(value) != {"id", "randomNumber"}:
        raise CheckFailed(f'{where}: expected {{"id": .., "randomNumber": ..}}, got {value!r}')
    row_id, number = value["id"], value["randomNumber"]
    if not (isinstance(row_id, int) and isinstance(number, int)):
        raise CheckFailed(f"{where}: id and randomNumber must be integers, got {value!r}")
    if not (1 <= row_id <= WORLD_ROWS and 1 <= number <= WORLD_ROWS):
        raise CheckFailed(f"{where}: out of range: {value!r}")
    return row_id, number


def _check_worlds(client: Client, path: str, count: int) -> list[tuple[int, int]]:
    worlds = _get(client, path, "application/json").json()
    if not isinstance(worlds, list) or len(worlds) != count:
        size = len(worlds) if isinstance(worlds, list) else type(worlds).__name__
        raise CheckFailed(f"GET {path}: expected a list of {count} rows, got {size}")
    return [_check_world(world, f"GET {path}") for world in worlds]


def check_plaintext(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    response = _get(client, "/plaintext", "text/plain")
    if response.body != PLAINTEXT:
        raise CheckFailed(f"GET /plaintext: body {response.body[:100]!r}")
    return {}


def check_json(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    value = _get(client, "/json", "application/json").json()
    if value != {"message": MESSAGE}:
        raise CheckFailed(f"GET /json: {value!r}")
    return {}


def check_db(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    _check_world(_get(client, "/db", "application/json").json(), "GET /db")
    return {}


def _check_clamping(client: Client, base: str) -> None:
    """The ``queries`` parameter rules: missing, empty, not a number, < 1 -> 1; > 500 -> 500."""
    for raw, count in (
        ("", 1),
        ("foo", 1),
        ("0", 1),
        ("-3", 1),
        (str(MAX_QUERIES + 1), MAX_QUERIES),
    ):
        _check_worlds(client, f"{base}?queries={raw}", count)
    _check_worlds(client, base, 1)


def check_queries(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    _check_worlds(client, f"/queries?queries={queries}", queries)
    _check_clamping(client, "/queries")
    return {}


_FORTUNE_ROW = re.compile(r"<tr>\s*<td>\s*(\d+)\s*</td>\s*<td>(.*?)</td>\s*</tr>", re.DOTALL)


def check_fortunes(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    response = _get(client, "/fortunes", "text/html")
    if "charset=utf-8" not in response.content_type.lower().replace(" ", ""):
        raise CheckFailed(f"GET /fortunes: content-type {response.content_type!r} lacks utf-8")
    text = response.text()
    if "<script>" in text:
        raise CheckFailed("GET /fortunes: the <script> fortune is not escaped")
    rows = [(int(row_id), html.unescape(message)) for row_id, message in _FORTUNE_ROW.findall(text)]
    expected = sorted(
        [*enumerate(FORTUNES, start=1), (0, ADDITIONAL_FORTUNE)], key=lambda row: row[1]
    )
    if rows != expected:
        raise CheckFailed(f"GET /fortunes: rows {rows!r} are not the sorted fortunes")
    if not text.lstrip().lower().startswith("<!doctype html>"):
        raise CheckFailed("GET /fortunes: not an HTML document")
    return {}


def check_updates(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    import psycopg

    worlds = _check_worlds(client, f"/updates?queries={queries}", queries)
    with psycopg.connect(DATABASE_URL) as conn:
        stored: dict[int, int] = dict(
            conn.execute(
                "SELECT id, randomnumber FROM world WHERE id = ANY(%s)",
                ([row_id for row_id, _ in worlds],),
            ).fetchall()
        )
    for row_id, number in worlds:
        if stored.get(row_id) != number:
            raise CheckFailed(
                f"GET /updates: row {row_id} answered {number} but the database holds "
                f"{stored.get(row_id)} (the update was not persisted)"
            )
    _check_worlds(client, "/updates?queries=foo", 1)
    return {}


def _cookies(response: Response) -> str:
    pairs = []
    for header in response.headers.get_all("set-cookie") or []:
        name_value = header.split(";", 1)[0].strip()
        if "=" in name_value and name_value.split("=", 1)[1]:
            pairs.append(name_value)
    return "; ".join(pairs)


def check_page(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    """Log in once (POST /login), then GET /page with the session cookie."""
    return _check_page(client, "/page", headers)


def check_page_sync(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    """The same page from a sync handler: GET /page-sync with the session cookie."""
    return _check_page(client, "/page-sync", headers)


def _check_page(client: Client, path: str, headers: dict[str, str]) -> dict[str, str]:
    if not headers:
        form = urlencode({"username": BENCH_USERNAME, "password": BENCH_PASSWORD}).encode()
        login = client.request(
            "POST",
            "/login",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": USER_AGENT,
            },
        )
        if login.status in (404, 405):
            raise NotImplementedRoute(f"POST /login -> {login.status} (no auth yet)")
        if not 200 <= login.status < 400:
            raise CheckFailed(f"POST /login -> {login.status}: {login.body[:300]!r}")
        cookie = _cookies(login)
        if not cookie:
            raise CheckFailed("POST /login set no cookie")
        headers = {"Cookie": cookie, "User-Agent": USER_AGENT}
    response = client.get(path, headers=headers)
    _expect_ok(response, path, "text/html")
    text = response.text()
    if f"<strong>{BENCH_USERNAME}</strong>" not in text:
        raise CheckFailed(f"GET {path}: the signed-in user's name is not on the page")
    shown = html.unescape(text)
    missing = [message for message in FORTUNES if message not in shown]
    if missing or "<script>" in text:
        raise CheckFailed(f"GET {path}: fortunes missing or not escaped: {missing[:2]!r}")
    return headers


#: The path wrk requests for the ``users`` test; the check also asks for other ids.
USERS_PATH = "/users/4217"


def check_users(client: Client, queries: int, headers: dict[str, str]) -> dict[str, str]:
    """``/users/{id:int}``: the id comes back as a JSON integer, whatever the id."""
    for user_id in (4217, 1, 987654321):
        path = f"/users/{user_id}"
        value = _get(client, path, "application/json").json()
        if value != {"id": user_id} or not isinstance(value["id"], int):
            raise CheckFailed(f'GET {path}: expected {{"id": {user_id}}}, got {value!r}')
    return {}
