"""One site over many processes, for real: two servers, Celery workers, Redis, RabbitMQ, PostgreSQL.

Nothing but settings makes the app below shared: ``database_url`` (PostgreSQL, a
database of its own), ``sessions_url`` (the sessions in that database),
``cache_url`` and ``channels_url`` (a Redis server of the test's own, so that it
can be restarted without disturbing other tests), ``tasks_url`` (Celery on
RabbitMQ, a queue of the test's own) and ``tasks_result_url`` (that Redis).

In one run: a WebSocket client on process A receives what is published through
process B; a task enqueued through A runs on the worker and its result is read
through B; a value cached through A is read through B; a sign-in through A is
honoured by B, and a sign-out through B by both; the worker is killed with
SIGKILL mid-task and the task completes on a new worker; Redis is restarted,
and publishing and caching work again within seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import ClientConnection

from tests.e2e.conftest import free_port, start_server, stop_server

PROJECT = """
import asyncio
import os
import time
from pathlib import Path

from carboy import Carboy, Request
from carboy.auth import Auth, login_required
from carboy.cache import Cache, Caching
from carboy.channels import Channels
from carboy.db import Database
from carboy.tasks import Tasks, task
from carboy.websockets import WebSocket

QUEUE = os.environ["TEST_QUEUE"]

app = Carboy()
channels = Channels()
app.install(Database())
app.install(Auth())
app.install(channels)
app.install(Caching(Cache()))
app.install(Tasks())


@task(name="scale.double", queue_name=QUEUE)
def double(n: int) -> dict[str, int]:
    return {"value": n * 2, "pid": os.getpid()}


@task(name="scale.slow", queue_name=QUEUE)
def slow(marker: str, seconds: float) -> dict[str, int]:
    Path(marker + ".started").write_text(str(os.getpid()))
    time.sleep(seconds)
    return {"pid": os.getpid()}


@app.get("/")
async def index() -> dict[str, int]:
    return {"pid": os.getpid()}


@app.websocket("/live")
async def live(ws: WebSocket) -> None:
    await channels.stream_websocket(ws, "news")


@app.websocket("/members/live")
async def members_live(ws: WebSocket) -> None:
    await channels.stream_websocket(ws, "members", require_login=True)


@app.post("/say", extra={"csrf_exempt": True})
async def say(text: str) -> dict[str, int]:
    await channels.apublish("news", {"text": text, "from": os.getpid()})
    return {"pid": os.getpid()}


@app.get("/listeners")
async def listeners() -> dict[str, int]:
    return {"n": channels.subscribers("news")}


@app.post("/tasks", extra={"csrf_exempt": True})
async def enqueue(n: int) -> dict[str, str]:
    return {"id": (await double.aenqueue(n)).id}


@app.post("/slow", extra={"csrf_exempt": True})
async def enqueue_slow(marker: str, seconds: float) -> dict[str, str]:
    return {"id": (await slow.aenqueue(marker, seconds)).id}


@app.get("/tasks/{id}")
async def result(id: str, tasks: Tasks) -> dict[str, object]:
    found = await tasks.backend.aget_result(id)
    done = found.status == "SUCCESSFUL"
    return {"status": str(found.status), "value": found.return_value if done else None}


@app.post("/cache/{key}", extra={"csrf_exempt": True})
async def put(key: str, value: str, cache: Cache) -> None:
    await cache.aset(key, value, ttl=60)


@app.get("/cache/{key}")
async def get(key: str, cache: Cache) -> dict[str, object]:
    return {"value": await cache.aget(key)}


@app.get("/me")
@login_required
async def me(request: Request) -> dict[str, object]:
    return {"user": request.user.username, "pid": os.getpid()}
"""

PASSWORD = "correct horse battery staple 9"


def _reachable(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _until(check: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        assert time.monotonic() < deadline, f"never happened within {timeout}s: {what}"
        time.sleep(0.1)


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test can restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _until(lambda: _reachable(self.port), 10, "redis-server started")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class Site:
    a: str
    b: str
    tmp: Path
    env: dict[str, str]
    redis: RedisServer
    worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> None:
        with (self.tmp / "worker.log").open("ab") as log:
            self.worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "carboy",
                    "worker",
                    "-Q",
                    self.env["TEST_QUEUE"],
                    "--pool",
                    "solo",
                ],
                cwd=self.tmp,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop_worker(self, sig: int = signal.SIGTERM) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(sig)
            try:
                self.worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait(timeout=10)
        self.worker = None

    def log(self) -> str:
        return (self.tmp / "worker.log").read_text(errors="replace")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database of this test's own, dropped afterwards."""
    import psycopg

    name = f"scale_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is needed for the scale-out test ({exc})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def site(tmp_path: Path, postgres_database: str) -> Iterator[Site]:
    if not _reachable(5672) or shutil.which("redis-server") is None:
        pytest.skip("RabbitMQ (5672) and a redis-server binary are needed for the scale-out test")
    redis = RedisServer(tmp_path)
    redis.start()
    (tmp_path / "scaleapp.py").write_text(textwrap.dedent(PROJECT))
    env = {
        "TEST_QUEUE": f"scale-{uuid.uuid4().hex[:8]}",
        "CARBOY_APP": "scaleapp:app",
        "CARBOY_DEBUG": "true",
        "CARBOY_SECRET_KEY": "scale-out-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "CARBOY_DATABASE_URL": postgres_database,
        "CARBOY_SESSIONS_URL": "database://",
        "CARBOY_CHANNELS_URL": redis.url,
        "CARBOY_CACHE_URL": redis.url,
        "CARBOY_TASKS_URL": "celery+amqp://guest:guest@127.0.0.1:5672//",
        "CARBOY_TASKS_RESULT_URL": redis.url,
        "CARBOY_USER_PASSWORD": PASSWORD,
        "PYTHONPATH": str(tmp_path),
    }
    full_env = {**os.environ, **env}
    for command in (["migrate"], ["createuser", "--username", "ann", "--no-input"]):
        subprocess.run(
            [sys.executable, "-m", "carboy", *command], cwd=tmp_path, env=full_env, check=True
        )
    ports = [free_port(), free_port()]
    run = [sys.executable, "-m", "carboy", "run", "--host", "127.0.0.1", "--no-reload"]
    logs = [(tmp_path / f"server-{p}.log").open("ab") for p in ports]
    servers = [
        start_server([*run, "--port", str(p)], tmp_path, p, env, output=log)
        for p, log in zip(ports, logs, strict=True)
    ]
    found = Site(
        f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", tmp_path, env, redis
    )
    found.start_worker()
    try:
        yield found
    finally:
        found.stop_worker()
        for server in servers:
            stop_server(server)
        for log in logs:
            log.close()
        redis.kill()


def _csrf(page: str) -> dict[str, str]:
    """The CSRF field of a page's form, when the page has one."""
    match = re.search(r'name="csrf_token"\s+value="([^"]+)"', page)
    return {"csrf_token": match.group(1)} if match else {}


def _sign_in(base: str) -> dict[str, str]:
    """Sign ann in through ``base``; the session cookie it sets."""
    with httpx.Client(base_url=base) as client:
        form = client.get("/auth/login")
        answer = client.post(
            "/auth/login",
            data={"login": "ann", "password": PASSWORD, **_csrf(form.text)},
        )
        assert answer.status_code == 303, answer.text
        return dict(client.cookies)


def _sign_out(base: str, cookies: dict[str, str]) -> None:
    with httpx.Client(base_url=base, cookies=cookies) as client:
        page = client.get("/auth/logout")
        answer = client.post("/auth/logout", data=_csrf(page.text))
        assert answer.status_code == 303, answer.text


def _ws(base: str, path: str, headers: dict[str, str] | None = None) -> ClientConnection:
    from websockets.sync.client import connect

    return connect(base.replace("http", "ws") + path, open_timeout=10, additional_headers=headers)


def test_one_site_over_two_processes_a_worker_redis_and_postgres(site: Site) -> None:
    from websockets.exceptions import InvalidStatus

    a, b = site.a, site.b
    pid_a, pid_b = httpx.get(a).json()["pid"], httpx.get(b).json()["pid"]
    assert pid_a != pid_b

    # Realtime: subscribed on A, published through B.
    with _ws(a, "/live") as ws:
        _until(lambda: httpx.get(a + "/listeners").json()["n"] == 1, what="subscribed")
        time.sleep(0.3)  # the Redis SUBSCRIBE is on its way
        assert httpx.post(b + "/say", params={"text": "hello"}).json()["pid"] == pid_b
        message = json.loads(ws.recv(timeout=10))
    assert message == {"group": "news", "data": {"text": "hello", "from": pid_b}}

    # Tasks: enqueued through A, run by the worker, the result read through B.
    task_id = httpx.post(a + "/tasks", params={"n": 21}).json()["id"]
    _until(
        lambda: httpx.get(f"{b}/tasks/{task_id}").json()["status"] == "SUCCESSFUL",
        what="the task ran\n" + site.log(),
    )
    value = httpx.get(f"{b}/tasks/{task_id}").json()["value"]
    assert value["value"] == 42 and value["pid"] not in (pid_a, pid_b)

    # Cache: written through A, read through B.
    key = uuid.uuid4().hex
    httpx.post(f"{a}/cache/{key}", params={"value": "shared"})
    assert httpx.get(f"{b}/cache/{key}").json() == {"value": "shared"}

    # Sessions on PostgreSQL: signed in through A, honoured by B, on pages and sockets.
    cookies = _sign_in(a)
    seen = httpx.get(b + "/me", cookies=cookies)
    assert seen.json().get("user") == "ann", (seen.status_code, seen.text, cookies)
    assert httpx.get(a + "/me", cookies=cookies).json()["user"] == "ann"
    # A protected channel refuses an anonymous handshake.
    with pytest.raises(InvalidStatus), _ws(b, "/members/live"):
        pass
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    with _ws(b, "/members/live", {"Cookie": cookie_header}):
        pass  # ann's session opens it on B
    # Signed out through B: the same cookie is refused by both.
    _sign_out(b, cookies)
    for base in (a, b):
        refused = httpx.get(base + "/me", cookies=cookies, headers={"Accept": "application/json"})
        assert refused.status_code == 401, (base, refused.text)

    # The worker is killed mid-task: the task completes on a new worker.
    marker = str(site.tmp / "slow")
    slow_id = httpx.post(a + "/slow", params={"marker": marker, "seconds": 3}).json()["id"]
    _until(lambda: Path(marker + ".started").exists(), what="the slow task started\n" + site.log())
    first_pid = Path(marker + ".started").read_text()
    site.stop_worker(signal.SIGKILL)
    Path(marker + ".started").unlink()
    site.start_worker()
    _until(
        lambda: httpx.get(f"{b}/tasks/{slow_id}").json()["status"] == "SUCCESSFUL",
        timeout=60,
        what="the killed task ran again\n" + site.log(),
    )
    assert Path(marker + ".started").read_text() != first_pid

    # Redis restarted (killed, then started on the same port, empty): within seconds
    # a socket subscribed before the restart gets what is published, and caching works.
    with _ws(a, "/live") as ws:
        _until(lambda: httpx.get(a + "/listeners").json()["n"] == 1, what="subscribed")
        site.redis.kill()
        time.sleep(0.5)
        site.redis.start()
        restarted = time.monotonic()

        def delivered() -> bool:
            httpx.post(b + "/say", params={"text": "again"}, timeout=2)
            try:
                return bool(json.loads(ws.recv(timeout=0.5))["data"]["text"] == "again")
            except TimeoutError:
                return False

        _until(delivered, timeout=15, what="publishing after the Redis restart")
    key = uuid.uuid4().hex

    def cached() -> bool:
        httpx.post(f"{a}/cache/{key}", params={"value": "back"}, timeout=2)
        return bool(httpx.get(f"{b}/cache/{key}", timeout=2).json() == {"value": "back"})

    _until(cached, timeout=15, what="caching after the Redis restart")
    assert time.monotonic() - restarted < 15
