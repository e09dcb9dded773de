"""The immediate and in-process backends, in an app, with retries, delays, limits and commits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Mapped

from carboy import Carboy
from carboy.db import AsyncSession, Database, Session, model_base
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.settings import Settings
from carboy.tasks import (
    ImmediateBackend,
    InProcessBackend,
    InvalidTask,
    ResultStatus,
    ResultUnavailable,
    TaskError,
    Tasks,
    backend_from_url,
    default_backend,
    task,
)
from carboy.testing import TestClient

done: list[Any] = []


@task(name="tests.record")
def record(value: Any) -> Any:
    done.append(value)
    return value


@task(name="tests.arecord")
async def arecord(value: Any) -> Any:
    await asyncio.sleep(0)
    done.append(value)
    return {"got": value}


attempts: list[int] = []


@task(name="tests.flaky", retries=2, retry_backoff=0.01)
def flaky(fail_times: int) -> str:
    attempts.append(1)
    if len(attempts) <= fail_times:
        raise ValueError(f"attempt {len(attempts)}")
    return "ok"


@task(name="tests.slow", time_limit=0.05)
async def slow() -> None:
    await asyncio.sleep(1)


@pytest.fixture(autouse=True)
def _reset() -> None:
    done.clear()
    attempts.clear()


def test_immediate_runs_before_enqueue_returns() -> None:
    backend = ImmediateBackend()
    result = record.using(backend=backend).enqueue(3)
    assert done == [3]
    assert (result.status, result.return_value, result.attempts) == (ResultStatus.SUCCESSFUL, 3, 1)
    assert backend.get_result(result.id).return_value == 3


def test_immediate_retries_then_fails_with_every_traceback() -> None:
    result = flaky.using(backend=ImmediateBackend()).enqueue(5)
    assert result.status is ResultStatus.FAILED and result.attempts == 3
    assert [e.exception_class for e in result.errors] == ["builtins.ValueError"] * 3
    assert "attempt 3" in result.errors[-1].traceback
    with pytest.raises(TaskError, match="ValueError"):
        _ = result.return_value


def test_immediate_retry_that_succeeds() -> None:
    result = flaky.using(backend=ImmediateBackend()).enqueue(1)
    assert (result.status, result.attempts, len(result.errors)) == (ResultStatus.SUCCESSFUL, 2, 1)


def test_immediate_refuses_run_after() -> None:
    with pytest.raises(InvalidTask, match="later"):
        record.using(backend=ImmediateBackend()).enqueue_in(10, 1)


@pytest.mark.anyio
async def test_immediate_async_enqueue_and_time_limit() -> None:
    backend = ImmediateBackend()
    result = await arecord.using(backend=backend).aenqueue(1)
    assert result.return_value == {"got": 1}
    timed_out = await slow.using(backend=backend).aenqueue()
    assert timed_out.status is ResultStatus.FAILED
    assert timed_out.errors[-1].exception_class.endswith("TaskTimeout")
    with pytest.raises(ResultUnavailable):
        await backend.aget_result("nope")


def test_immediate_from_a_thread_running_a_loop() -> None:
    async def inside() -> Any:
        return record.using(backend=ImmediateBackend()).enqueue(7)  # sync call on a loop

    assert asyncio.run(inside()).return_value == 7


def _app(tmp_path: Path, backend: Any = None, **settings: Any) -> tuple[Carboy, Tasks]:
    app = Carboy(Settings(debug=True, **settings), root=tmp_path)
    tasks = Tasks(backend=backend)
    app.install(tasks)

    @app.post("/async/{value}")
    async def enqueue_async(value: str) -> dict[str, str]:
        return {"id": (await arecord.aenqueue(value)).id}

    @app.post("/sync/{value}")
    def enqueue_sync(value: str) -> dict[str, str]:
        return {"id": record.enqueue(value).id}

    @app.get("/results/{id}")
    async def result(id: str, tasks: Tasks) -> dict[str, Any]:
        found = await tasks.backend.aget_result(id)
        ok = found.status is ResultStatus.SUCCESSFUL
        return {"status": found.status, "value": found.return_value if ok else None}

    return app, tasks


def _wait(client: TestClient, result_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/results/{result_id}").json()
        if body["status"] in ("SUCCESSFUL", "FAILED"):
            return body
        time.sleep(0.01)
    raise AssertionError(f"task {result_id} did not finish")


def test_in_process_is_the_default_and_runs_beside_requests(tmp_path: Path) -> None:
    app, tasks = _app(tmp_path)
    with TestClient(app) as client:
        first = client.post("/async/a").json()["id"]
        second = client.post("/sync/b").json()["id"]
        assert _wait(client, first) == {"status": "SUCCESSFUL", "value": {"got": "a"}}
        assert _wait(client, second) == {"status": "SUCCESSFUL", "value": "b"}
        assert default_backend() is tasks.backend
    assert isinstance(tasks.backend, InProcessBackend)
    assert sorted(done) == ["a", "b"]


def test_the_tasks_url_setting_picks_the_backend(tmp_path: Path) -> None:
    """settings.tasks_url: inprocess://, immediate://, celery+... (tests/tasks/test_celery.py)."""
    for url, kind in (("inprocess://", InProcessBackend), ("immediate://", ImmediateBackend)):
        app, tasks = _app(tmp_path, tasks_url=url)
        app.build()
        assert isinstance(tasks.backend, kind)
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        backend_from_url("rq://localhost")


def test_in_process_delays_retries_and_limits(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, backend=InProcessBackend(concurrency=2))
    with TestClient(app) as client:
        started = time.monotonic()
        later = record.enqueue_in(0.2, "later")
        assert later.status is ResultStatus.READY
        retried = flaky.enqueue(1)
        limited = slow.enqueue()
        assert _wait(client, retried.id) == {"status": "SUCCESSFUL", "value": "ok"}
        assert _wait(client, later.id)["value"] == "later"
        assert time.monotonic() - started >= 0.2
        assert _wait(client, limited.id)["status"] == "FAILED"
        later.refresh()
        assert later.status is ResultStatus.SUCCESSFUL and later.attempts == 1
        assert later.started_at is not None and later.finished_at is not None


def test_in_process_outside_a_running_app_is_loud(tmp_path: Path) -> None:
    _app(tmp_path)[0].build()
    with pytest.raises(TaskError, match="while the app runs"):
        record.enqueue(1)


def test_in_process_concurrency_must_be_positive() -> None:
    with pytest.raises(ConfigurationError):
        InProcessBackend(concurrency=0)


def test_periodic_tasks_run_in_process(tmp_path: Path) -> None:
    app, tasks = _app(tmp_path)
    tasks.periodic(record, 0.05, "tick")
    with TestClient(app):
        time.sleep(0.3)
    assert done.count("tick") >= 2
    with pytest.raises(ConfigurationError, match="positive"):
        tasks.periodic(record, 0)
    assert tasks.beat_schedule()["tests.record-0"]["args"] == ["tick"]


Base = model_base()


class Order(Base):
    item: Mapped[str]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_task_enqueued_in_a_transaction_that_rolls_back_never_runs(
    kind: str, tmp_path: Path
) -> None:
    app = Carboy(Settings(debug=True), root=tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}", base=Base)
    app.install(db)
    app.install(Tasks(backend=ImmediateBackend()))

    @app.post("/sync/{item}")
    def sync_order(item: str, session: Session) -> None:
        session.add(Order(item=item))
        record.enqueue(item)
        assert done == []  # not before the commit
        if item == "bad":
            raise HTTPException(400, "rolled back")

    @app.post("/async/{item}")
    async def async_order(item: str, session: AsyncSession) -> None:
        session.add(Order(item=item))
        await arecord.aenqueue(item)
        assert done == []
        if item == "bad":
            raise HTTPException(400, "rolled back")

    app.build()
    db.create_all()
    with TestClient(app) as client:
        assert client.post(f"/{kind}/bad").status_code == 400
        assert done == []
        assert client.post(f"/{kind}/good").status_code in (200, 204)
        assert done == ["good"]
