"""The task decorator, its options and the result record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carboy.exceptions import ConfigurationError
from carboy.tasks import ResultStatus, TaskError, TaskResult, task
from carboy.tasks._task import REGISTRY


@task
def add(a: int, b: int) -> int:
    return a + b


@task(name="custom.name", queue_name="mail", priority=5, retries=2, retry_backoff=0.5)
async def mail(to: str) -> str:
    return to


def test_bare_and_with_options() -> None:
    assert add.name == f"{__name__}.add"
    assert (mail.name, mail.queue_name) == ("custom.name", "mail")
    assert (mail.priority, mail.retries) == (5, 2)
    assert REGISTRY["custom.name"] is mail
    assert mail.is_async and not add.is_async


def test_calling_runs_it_here() -> None:
    assert add(2, 3) == 5


def test_using_returns_a_changed_copy() -> None:
    later = add.using(priority=9, queue_name="slow", run_after=timedelta(minutes=5))
    assert (later.priority, later.queue_name) == (9, "slow")
    assert later.run_after is not None and later.run_after > datetime.now(UTC)
    assert add.priority == 0 and add.run_after is None
    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert add.using(run_after=at).run_after == at


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"priority": 101}, "priority"),
        ({"retries": -1}, "retries"),
        ({"time_limit": 0}, "time_limit"),
    ],
)
def test_bad_options_are_refused(options: dict[str, int], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        task(name=f"bad.{words}", **options)(lambda: None)  # type: ignore[arg-type]


def test_naive_run_after_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        add.using(run_after=datetime(2030, 1, 1))


def test_two_tasks_with_one_name_are_refused() -> None:
    task(name="dup.name")(lambda: 1)
    with pytest.raises(ConfigurationError, match="two tasks are named"):
        task(name="dup.name")(lambda: 2)


def test_backoff_doubles_up_to_the_cap() -> None:
    slow = task(name="t.backoff", retries=10, retry_backoff=1.0, retry_backoff_max=5.0)(lambda: 1)
    assert [slow.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


def test_should_retry_counts_and_filters() -> None:
    picky = task(name="t.picky", retries=1, retry_on=(ValueError,))(lambda: 1)
    assert picky.should_retry(ValueError(), 1)
    assert not picky.should_retry(ValueError(), 2)
    assert not picky.should_retry(KeyError(), 1)


def test_return_value_of_an_unfinished_or_failed_result() -> None:
    result = TaskResult("id1", "t", (), {})
    with pytest.raises(TaskError, match="has not finished"):
        _ = result.return_value
    result.status = ResultStatus.FAILED
    with pytest.raises(TaskError, match="failed"):
        _ = result.return_value
    with pytest.raises(TaskError, match="not bound"):
        result.refresh()
