"""The enqueue-rate benchmark's driver: one way of sending tasks to Celery, in its own interpreter.

    python -m bench.enqueue VARIANT CONFIG_JSON     (run by bench.scale_out, pinned to one CPU)

It sends ``warmup`` tasks, then ``rounds`` times ``tasks`` tasks, one after the
other (or ``concurrency`` at a time for the ``*_concurrent`` variants), each a
call to a no-op task with one integer argument, to ``queue`` on ``broker``. No
worker runs: what is timed is the sending side, from the first call to the
return of the last. bench.scale_out then checks that the queue holds every
message sent. It prints one JSON object: the seconds and tasks per second of
each round.

Every variant uses Celery's settings as carboy's ``CeleryBackend`` sets them
(JSON, late acknowledgement, no result store), so they differ only in the
code between the call and kombu's publish.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

#: What carboy's CeleryBackend sets that bears on sending; plain Celery gets the same.
CELERY_CONF: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "task_track_started": True,
    "result_extended": True,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "enable_utc": True,
    "broker_connection_retry_on_startup": True,
    "task_default_queue": "default",
}
TASK_NAME = "bench.scale_out.noop"

Send = Callable[[int], object]
ASend = Callable[[int], Awaitable[object]]


def noop(n: int) -> int:
    """The task every variant enqueues (never run: no worker)."""
    return n


# --- the variants: each returns a function that sends task number n -------------


def carboy_backend(config: dict[str, Any]) -> Any:
    from carboy import Carboy
    from carboy.settings import Settings
    from carboy.tasks import Tasks, task

    app = Carboy(Settings(debug=True, tasks_url="celery+" + config["broker"]))
    app.install(Tasks())
    app.build()
    return task(name=TASK_NAME, queue_name=config["queue"])(noop)


def carboy_enqueue(config: dict[str, Any]) -> Send:
    return carboy_backend(config).enqueue  # type: ignore[no-any-return]


def carboy_aenqueue(config: dict[str, Any]) -> ASend:
    return carboy_backend(config).aenqueue  # type: ignore[no-any-return]


def _celery_app(config: dict[str, Any]) -> Any:
    from celery import Celery

    app = Celery("bench", broker=config["broker"], set_as_current=False)
    app.conf.update(CELERY_CONF)
    return app


def celery_send_task(config: dict[str, Any]) -> Send:
    app = _celery_app(config)
    queue = config["queue"]
    return lambda n: app.send_task(TASK_NAME, args=[n], queue=queue)


def celery_delay(config: dict[str, Any]) -> Send:
    app = _celery_app(config)
    task = app.task(name=TASK_NAME, queue=config["queue"])(noop)
    return task.delay  # type: ignore[no-any-return]


def _django_task(config: dict[str, Any]) -> Any:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.apps.enqueue_django"
    os.environ["BENCH_BROKER_URL"] = config["broker"]
    os.environ["BENCH_QUEUE"] = config["queue"]
    import django

    django.setup()
    from django_tasks import task

    return task(queue_name=config["queue"])(noop)


def django_enqueue(config: dict[str, Any]) -> Send:
    return _django_task(config).enqueue  # type: ignore[no-any-return]


def django_aenqueue(config: dict[str, Any]) -> ASend:
    return _django_task(config).aenqueue  # type: ignore[no-any-return]


SYNC: dict[str, Callable[[dict[str, Any]], Send]] = {
    "carboy_enqueue": carboy_enqueue,
    "celery_send_task": celery_send_task,
    "celery_delay": celery_delay,
    "django_enqueue": django_enqueue,
}
ASYNC: dict[str, Callable[[dict[str, Any]], ASend]] = {
    "carboy_aenqueue": carboy_aenqueue,
    "carboy_aenqueue_concurrent": carboy_aenqueue,
    "django_aenqueue": django_aenqueue,
}
VARIANTS = (
    "carboy_enqueue",
    "carboy_aenqueue",
    "carboy_aenqueue_concurrent",
    "celery_send_task",
    "celery_delay",
    "django_enqueue",
    "django_aenqueue",
)


# --- timing -------------------------------------------------------------------------


def time_sync(send: Send, config: dict[str, Any]) -> list[float]:
    for n in range(config["warmup"]):
        send(n)
    seconds = []
    for _ in range(config["rounds"]):
        started = time.perf_counter()
        for n in range(config["tasks"]):
            send(n)
        seconds.append(time.perf_counter() - started)
    return seconds


async def time_async(send: ASend, config: dict[str, Any], concurrency: int) -> list[float]:
    async def batch(count: int) -> None:
        if concurrency <= 1:
            for n in range(count):
                await send(n)
            return
        numbers = iter(range(count))

        async def lane() -> None:
            for n in numbers:  # the lanes share one iterator: each number is sent once
                await send(n)

        await asyncio.gather(*(lane() for _ in range(concurrency)))

    await batch(config["warmup"])
    seconds = []
    for _ in range(config["rounds"]):
        started = time.perf_counter()
        await batch(config["tasks"])
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(variant: str, config: dict[str, Any]) -> dict[str, Any]:
    if variant in SYNC:
        seconds = time_sync(SYNC[variant](config), config)
        concurrency = 1
    else:
        concurrency = config.get("concurrency", 32) if variant.endswith("_concurrent") else 1
        send = ASYNC[variant](config)
        seconds = asyncio.run(time_async(send, config, concurrency))
    return {
        "variant": variant,
        "concurrency": concurrency,
        "sent": config["warmup"] + config["rounds"] * config["tasks"],
        "seconds": [round(s, 4) for s in seconds],
        "rates": [round(config["tasks"] / s, 1) for s in seconds],
    }


def main() -> int:
    variant, config = sys.argv[1], json.loads(sys.argv[2])
    if variant not in VARIANTS:
        print(json.dumps({"error": f"unknown variant {variant!r}"}))
        return 2
    try:
        result = measure(variant, config)
    except ImportError as exc:
        result = {"variant": variant, "status": "not_installed", "error": str(exc)}
    except Exception as exc:
        result = {"variant": variant, "error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
