"""One app over many processes: two servers, a Celery worker, Redis and RabbitMQ, for real.

A WebSocket client on process A receives what is published through process B;
a task enqueued through A runs on the worker and its result is read through B;
a value cached through A is read through B. (Sign-in through one process and
sign-out through the other is tested by carboy.auth's session tests.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port, start_server, stop_server

PROJECT = """
import os

from carboy import Carboy
from carboy.cache import Cache, Caching
from carboy.channels import Channels
from carboy.tasks import Tasks, task
from carboy.websockets import WebSocket

QUEUE = os.environ["TEST_QUEUE"]
app = Carboy()
channels = Channels()
app.install(channels)
app.install(Caching(Cache()))
app.install(Tasks())


@task(name="scale.double", queue_name=QUEUE)
def double(n: int) -> dict[str, int]:
    return {"value": n * 2, "pid": os.getpid()}


@app.get("/")
async def index() -> dict[str, int]:
    return {"pid": os.getpid()}


@app.websocket("/live")
async def live(ws: WebSocket) -> None:
    await channels.stream_websocket(ws, "news")


@app.post("/say")
async def say(text: str) -> dict[str, int]:
    await channels.apublish("news", {"text": text, "from": os.getpid()})
    return {"pid": os.getpid()}


@app.get("/listeners")
async def listeners() -> dict[str, int]:
    return {"n": channels.subscribers("news")}


@app.post("/tasks")
async def enqueue(n: int) -> dict[str, str]:
    return {"id": (await double.aenqueue(n)).id}


@app.get("/tasks/{id}")
async def result(id: str, tasks: Tasks) -> dict[str, object]:
    found = await tasks.backend.aget_result(id)
    done = found.status == "SUCCESSFUL"
    return {"status": str(found.status), "value": found.return_value if done else None}


@app.post("/cache/{key}")
async def put(key: str, value: str, cache: Cache) -> None:
    await cache.aset(key, value, ttl=60)


@app.get("/cache/{key}")
async def get(key: str, cache: Cache) -> dict[str, object]:
    return {"value": await cache.aget(key)}
"""


def _services_up() -> bool:
    import socket

    for port in (5672, 6379):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
    return True


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, str]]:
    if not _services_up():
        pytest.skip("RabbitMQ (5672) and Redis (6379) are needed for the scale-out test")
    (tmp_path / "scaleapp.py").write_text(textwrap.dedent(PROJECT))
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    env = {
        "TEST_QUEUE": queue,
        "CARBOY_APP": "scaleapp:app",
        "CARBOY_DEBUG": "true",
        "CARBOY_CHANNELS_URL": "redis://127.0.0.1:6379/11",
        "CARBOY_CACHE_URL": "redis://127.0.0.1:6379/11",
        "CARBOY_TASKS_URL": "celery+amqp://guest:guest@127.0.0.1:5672//",
        "CARBOY_TASKS_RESULT_URL": "redis://127.0.0.1:6379/11",
        "PYTHONPATH": str(tmp_path),
    }
    ports = [free_port(), free_port()]
    run = [sys.executable, "-m", "carboy", "run", "--host", "127.0.0.1", "--no-reload"]
    servers = [start_server([*run, "--port", str(p)], tmp_path, p, env) for p in ports]
    with (tmp_path / "worker.log").open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "carboy", "worker", "-Q", queue, "--pool", "solo"],
            cwd=tmp_path,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        for server in servers:
            stop_server(server)


def _until(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]  # a callable
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.1)


def test_one_site_over_two_processes_a_worker_and_redis(site: tuple[str, str]) -> None:
    from websockets.sync.client import connect

    a, b = site
    pid_a, pid_b = httpx.get(a).json()["pid"], httpx.get(b).json()["pid"]
    assert pid_a != pid_b
    # Realtime: subscribed on A, published through B.
    with connect(a.replace("http", "ws") + "/live", open_timeout=10) as ws:
        _until(lambda: httpx.get(a + "/listeners").json()["n"] == 1)
        time.sleep(0.3)  # the Redis SUBSCRIBE is on its way
        assert httpx.post(b + "/say", params={"text": "hello"}).json()["pid"] == pid_b
        message = json.loads(ws.recv(timeout=10))
    assert message == {"group": "news", "data": {"text": "hello", "from": pid_b}}
    # Tasks: enqueued through A, run by the worker, the result read through B.
    task_id = httpx.post(a + "/tasks", params={"n": 21}).json()["id"]
    _until(lambda: httpx.get(f"{b}/tasks/{task_id}").json()["status"] == "SUCCESSFUL")
    value = httpx.get(f"{b}/tasks/{task_id}").json()["value"]
    assert value["value"] == 42 and value["pid"] not in (pid_a, pid_b)
    # Cache: written through A, read through B.
    key = uuid.uuid4().hex
    httpx.post(f"{a}/cache/{key}", params={"value": "shared"})
    assert httpx.get(f"{b}/cache/{key}").json() == {"value": "shared"}
