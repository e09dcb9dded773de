"""The Celery backend for real: RabbitMQ broker, Redis results, `carboy worker` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carboy.tasks import CeleryBackend, ResultStatus, TaskResult, backend_from_url
from carboy.tasks._task import REGISTRY

SOLO = ("--pool", "solo")
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
RESULTS = "redis://127.0.0.1:6379/14"

PROJECT = """
import os
import pathlib
import time

from sqlalchemy.orm import Mapped

from carboy import Carboy
from carboy.db import Database, model_base
from carboy.tasks import Tasks, task

QUEUE = os.environ["TEST_QUEUE"]
Base = model_base()


class Note(Base):
    text: Mapped[str]


@task(name="proj.add", queue_name=QUEUE)
def add(a: int, b: int) -> int:
    return a + b


@task(name="proj.aadd", queue_name=QUEUE)
async def aadd(a: int, b: int) -> dict[str, int]:
    return {"sum": a + b, "pid": os.getpid()}


@task(name="proj.slow_write", queue_name=QUEUE)
def slow_write(path: str, seconds: float) -> str:
    pathlib.Path(path + ".started").write_text(str(os.getpid()))
    time.sleep(seconds)
    pathlib.Path(path).write_text("done")
    return "done"


@task(name="proj.flaky", queue_name=QUEUE, retries=2, retry_backoff=0.2)
def flaky(path: str) -> int:
    p = pathlib.Path(path)
    count = int(p.read_text()) + 1 if p.exists() else 1
    p.write_text(str(count))
    if count < 3:
        raise ValueError(f"attempt {count}")
    return count


@task(name="proj.count_notes", queue_name=QUEUE)
def count_notes() -> int:
    db = app.get_module(Database)  # the worker sees the app's database
    with db.transaction() as session:
        return session.query(Note).count()


app = Carboy()
app.install(Database(base=Base))
app.install(Tasks())
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
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Any]]:
    if not _services_up():
        pytest.skip("RabbitMQ (5672) and Redis (6379) are needed for the Celery tests")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    (tmp_path / "proj.py").write_text(textwrap.dedent(PROJECT))
    env = {
        "TEST_QUEUE": queue,
        "CARBOY_TASKS_URL": "celery+" + BROKER,
        "CARBOY_TASKS_RESULT_URL": RESULTS,
        "CARBOY_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "CARBOY_DEBUG": "true",
        "CARBOY_APP": "proj:app",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("proj", None)
    import proj  # type: ignore[import-not-found]  # written above

    proj.app.build()
    proj.app.get_module(proj.Database).create_all()
    yield tmp_path, proj
    backend = proj.app.get_module(proj.Tasks).backend
    with backend.celery.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)
    sys.modules.pop("proj", None)
    for name in [n for n in REGISTRY if n.startswith("proj.")]:
        del REGISTRY[name]


def _worker(tmp_path: Path) -> subprocess.Popen[bytes]:
    with (tmp_path / "worker.log").open("ab") as log:  # the worker keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "carboy", "worker", "-Q", os.environ["TEST_QUEUE"], *SOLO],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)
        worker.wait(timeout=30)


def _wait_for(result: TaskResult, status: ResultStatus, timeout: float = 30.0) -> TaskResult:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result.refresh()
        if result.status is status:
            return result
        time.sleep(0.1)
    raise AssertionError(f"task {result.task_name} stayed {result.status}, wanted {status}")


def test_a_worker_runs_tasks_and_any_process_reads_the_results(
    project: tuple[Path, Any],
) -> None:
    tmp_path, proj = project
    worker = _worker(tmp_path)
    try:
        first = proj.add.enqueue(2, 3)
        second = proj.aadd.enqueue(a=4, b=5)
        # Another process reads the results: a backend of its own on the same stores.
        reader = backend_from_url("celery+" + BROKER, RESULTS)
        assert isinstance(reader, CeleryBackend)
        _wait_for(first, ResultStatus.SUCCESSFUL)
        assert reader.get_result(first.id).return_value == 5
        found = _wait_for(second, ResultStatus.SUCCESSFUL).return_value
        assert found["sum"] == 9 and found["pid"] != os.getpid()
        # The worker loaded the app: its database, with our row in it.
        with proj.app.get_module(proj.Database).transaction() as session:
            session.add(proj.Note(text="hello"))
        assert _wait_for(proj.count_notes.enqueue(), ResultStatus.SUCCESSFUL).return_value == 1
        # Retries with backoff, through the broker.
        retried = _wait_for(proj.flaky.enqueue(str(tmp_path / "count")), ResultStatus.SUCCESSFUL)
        assert retried.return_value == 3
    finally:
        _stop(worker)


def test_a_task_killed_mid_run_is_delivered_again(project: tuple[Path, Any]) -> None:
    tmp_path, proj = project
    marker = tmp_path / "slow"
    worker = _worker(tmp_path)
    try:
        result = proj.slow_write.enqueue(str(marker), 3.0)
        deadline = time.monotonic() + 30
        while not Path(str(marker) + ".started").exists():
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.05)
        _stop(worker, signal.SIGKILL)  # mid-task: the message was never acknowledged
        assert not marker.exists()
        worker = _worker(tmp_path)
        _wait_for(result, ResultStatus.SUCCESSFUL, timeout=60)
        assert marker.read_text() == "done"
    finally:
        _stop(worker)


def test_a_task_enqueued_in_a_rolled_back_transaction_is_never_sent(
    project: tuple[Path, Any],
) -> None:
    _, proj = project
    db = proj.app.get_module(proj.Database)

    def order_then_fail() -> TaskResult:
        with db.transaction() as session:
            session.add(proj.Note(text="never"))
            result: TaskResult = proj.add.enqueue(1, 1)
            raise RuntimeError("roll back")
        return result  # pragma: no cover - unreachable

    with pytest.raises(RuntimeError):
        order_then_fail()
    backend = proj.app.get_module(proj.Tasks).backend
    with backend.celery.connection_for_write() as conn:
        declared = conn.default_channel.queue_declare(
            os.environ["TEST_QUEUE"], durable=True, auto_delete=False
        )
    assert declared.message_count == 0
    committed: TaskResult
    with db.transaction():
        committed = proj.add.enqueue(1, 1)
    with backend.celery.connection_for_write() as conn:
        declared = conn.default_channel.queue_declare(
            os.environ["TEST_QUEUE"], durable=True, auto_delete=False
        )
    assert declared.message_count == 1
    assert committed.id


def test_worker_refuses_a_backend_that_needs_none(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text(
        "from carboy import Carboy\nfrom carboy.tasks import Tasks\n"
        "app = Carboy(debug=True)\napp.install(Tasks())\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "carboy", "--app", "plain:app", "worker"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "CARBOY_TASKS_URL": "inprocess://"},
        timeout=60,
    )
    assert done.returncode != 0
    assert "needs no worker" in done.stderr
