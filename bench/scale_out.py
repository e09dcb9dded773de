"""The scale-out benchmark: WebSocket fan-out over Redis, and the enqueue rate to Celery.

    python -m bench.scale_out [--smoke] [--only carboy,django,celery] [--parts fanout,enqueue]

**Fan-out**: for carboy (``carboy.channels`` on Redis) and Django Channels
(channels_redis's ``RedisPubSubChannelLayer`` and its default
``RedisChannelLayer``, under uvicorn and daphne): two server processes of the
same app, pinned to CPU 0, sharing a redis-server of the run's own; a client
process pinned to CPU 1 opens the subscribers' WebSockets, half to each
server, and publishes one message at a time through an HTTP endpoint of the
first; each round is timed from the publish request to the last subscriber's
arrival (``bench/fanout_client.py``).

**Enqueue rate**: tasks per second sent to Celery on RabbitMQ by carboy.tasks
(``enqueue``, ``aenqueue``, ``aenqueue`` 32 at a time), by Celery itself
(``send_task``, ``delay``) and by Django's tasks API on its Celery backend,
each in its own interpreter pinned to CPU 0, to a queue of the run's own;
afterwards the queue must hold every message sent (``bench/enqueue.py``).

A full run writes ``bench/results/scale_out.json`` and rewrites the section of
``docs/benchmarks.md`` between its markers; ``--smoke`` (tiny numbers, to prove
that it works) writes ``bench/results/scale_out-smoke.{json,md}`` instead. See
``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import fanout_client, scale_report
from bench.enqueue import VARIANTS
from bench.process import (
    ROOT,
    ServerProcess,
    StartFailed,
    descendants,
    free_port,
    subprocess_env,
)
from bench.run import carboy_revision, machine_info, package_version

RESULTS_DIR = ROOT / "bench" / "results"
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
SERVER_CPU = 0
CLIENT_CPU = 1
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
PACKAGES = (
    "carboy", "uvicorn", "uvloop", "httptools", "websockets", "redis", "django", "channels",
    "channels-redis", "daphne", "twisted", "celery", "kombu", "django-tasks",
    "django-tasks-fennel",
)  # fmt: skip


@dataclass(frozen=True)
class FanoutTarget:
    """One app under one server: what the fan-out part starts twice."""

    name: str
    framework: str
    layer: str
    server: str
    app: str
    env: dict[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()

    def command(self, port: int) -> list[str]:
        if self.server == "daphne":
            return [
                sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                "-v", "0", self.app,
            ]  # fmt: skip
        command = [
            sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        if self.framework == "django":
            command += ["--lifespan", "off"]  # Channels' router has no lifespan handler
        return command


def _django(layer: str, server: str) -> FanoutTarget:
    label = {"pubsub": "RedisPubSubChannelLayer", "core": "RedisChannelLayer"}[layer]
    suffix = "" if server == "uvicorn" else f"-{server}"
    needs = ("django", "channels", "channels_redis") + (("daphne",) if server == "daphne" else ())
    return FanoutTarget(
        f"django-{layer}{suffix}",
        "django",
        label,
        server,
        "bench.apps.fanout_django:application",
        {"BENCH_CHANNEL_LAYER": layer},
        needs,
    )


FANOUT_TARGETS = (
    FanoutTarget(
        "carboy", "carboy", "RedisChannels", "uvicorn", "bench.apps.fanout_carboy:app", {}, ()
    ),
    _django("pubsub", "uvicorn"),
    _django("core", "uvicorn"),
    _django("pubsub", "daphne"),
    _django("core", "daphne"),
)
ENQUEUE_NEEDS = {"django": ("django", "django_tasks", "django_tasks_fennel")}


@dataclass(frozen=True)
class Settings:
    smoke: bool
    subscribers: int
    repeats: int
    warmup: int
    tasks: int
    task_rounds: int
    task_warmup: int
    concurrency: int
    raw_dir: Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale_out", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny numbers to prove it works; results under bench/results/scale_out-smoke.*",
    )
    parser.add_argument("--only", help="frameworks, comma-separated (of carboy,django,celery)")
    parser.add_argument("--parts", default="fanout,enqueue", help="fanout,enqueue (default both)")
    parser.add_argument("--subscribers", type=int, help="WebSockets (default 1000, smoke 50)")
    parser.add_argument("--repeats", type=int, help="counted publishes (default 30, smoke 3)")
    parser.add_argument("--warmup", type=int, help="publishes not counted (default 5, smoke 1)")
    parser.add_argument(
        "--tasks", type=int, help="tasks per enqueue round (default 5000, smoke 200)"
    )
    parser.add_argument("--task-rounds", type=int, help="enqueue rounds (default 3, smoke 1)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="aenqueue calls at once (default 32)"
    )
    parser.add_argument(
        "--redis-url",
        help="use this Redis (e.g. redis://127.0.0.1:6379/14; it is flushed) "
        "instead of a redis-server of the run's own",
    )
    parser.add_argument("--broker-url", default=BROKER_URL, help=f"RabbitMQ (default {BROKER_URL})")
    parser.add_argument("--results", type=Path, help="where the JSON goes")
    parser.add_argument(
        "--docs", type=Path, help=f"the page whose section is rewritten ({DOCS_PAGE})"
    )
    parser.add_argument(
        "--publish", action="store_true", help="rewrite the docs section even with --smoke"
    )
    return parser.parse_args(argv)


# --- Redis --------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of the run's own, on a free port, pinned with the client."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.server = ServerProcess(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            log_path,
            cpu=CLIENT_CPU,
        )  # fmt: skip

    def start(self) -> None:
        self.server.start()
        wait_redis(self.url, 10.0)

    def stop(self) -> None:
        self.server.stop()


def wait_redis(url: str, timeout: float) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise StartFailed(f"no Redis at {url} after {timeout:g}s") from None
                time.sleep(0.05)
    finally:
        client.close()


def flush_redis(url: str) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        client.flushdb()


def redis_version(url: str) -> str:
    import redis

    try:
        with redis.Redis.from_url(url, socket_timeout=2) as client:
            return str(client.info("server")["redis_version"])
    except redis.exceptions.RedisError as exc:
        return f"unavailable ({type(exc).__name__})"


# --- fan-out ------------------------------------------------------------------------


def missing_packages(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (``q`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


def expected_message(seq: int) -> str:
    """The exact text every subscriber must receive for message ``seq``, from every app."""
    data = {"seq": seq, "text": fanout_client.TEXT}
    return json.dumps({"group": "fanout", "data": data}, separators=(",", ":"))


def summarize_fanout(raw: dict[str, Any], subscribers: int) -> dict[str, Any]:
    """The figures of one target's client output: medians, p99s, messages per second."""
    rounds = raw.get("rounds", [])
    complete = [r["fanout_ms"] for r in rounds if r.get("fanout_ms") is not None]
    missing = sum(r.get("missing", 0) for r in rounds)
    if raw.get("error") or not rounds:
        return {"status": "failed", "detail": raw.get("error") or "no rounds measured"}
    if missing:
        return {
            "status": "lost_messages",
            "detail": f"{missing} deliveries missing over {len(rounds)} rounds",
        }
    if raw.get("sample") != expected_message(raw.get("sample_seq", -1)):
        return {
            "status": "failed_check",
            "detail": f"subscribers got {raw.get('sample', '')[:200]!r}, "
            f"not {expected_message(raw.get('sample_seq', -1))!r}",
        }
    median = statistics.median(complete)
    deliveries = raw["deliveries_ms"]
    return {
        "status": "ok",
        "fanout_ms_median": round(median, 2),
        "fanout_ms_p99": round(_quantile(complete, 0.99), 2),
        "delivery_ms_p50": round(_quantile(deliveries, 0.50), 2),
        "delivery_ms_p99": round(_quantile(deliveries, 0.99), 2),
        "publish_ms_median": round(statistics.median(r["publish_ms"] for r in rounds), 2),
        "messages_per_s": round(subscribers / (median / 1000), 0),
        "rounds": len(rounds),
    }


def peak_rss_kib(server: ServerProcess) -> int:
    """The peak resident memory (``VmHWM``) of the server's process tree, in KiB."""
    if server.proc is None:
        return 0
    total = 0
    for pid in descendants(server.proc.pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def run_fanout(target: FanoutTarget, settings: Settings, redis_url: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": target.name,
        "framework": target.framework,
        "layer": target.layer,
        "server": target.server,
        "subscribers": settings.subscribers,
    }
    absent = missing_packages(target.needs)
    if absent:
        return {**record, "status": "not_installed", "detail": ", ".join(absent)}
    flush_redis(redis_url)
    env = {**target.env, "BENCH_REDIS_URL": redis_url}
    ports = [free_port(), free_port()]
    servers = [
        ServerProcess(
            target.command(port),
            settings.raw_dir / f"{target.name}-{letter}.log",
            cpu=SERVER_CPU,
            env=env,
        )
        for port, letter in zip(ports, "AB", strict=True)
    ]
    try:
        for server, port in zip(servers, ports, strict=True):
            server.start()
            server.wait_ready(port, "/")
        config = {
            "subscribers": settings.subscribers,
            "ws_urls": [f"ws://127.0.0.1:{port}/ws" for port in ports],
            "publish_url": f"http://127.0.0.1:{ports[0]}/publish",
            "warmup": settings.warmup,
            "repeats": settings.repeats,
        }
        done = subprocess.run(
            ["taskset", "-c", str(CLIENT_CPU), sys.executable, "-m", "bench.fanout_client",
             json.dumps(config)],
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120 + 12 * (settings.repeats + settings.warmup + 20),
            check=False,
        )  # fmt: skip
        memory = [peak_rss_kib(server) for server in servers]
    except StartFailed as exc:
        return {**record, "status": "failed_start", "detail": str(exc)}
    except subprocess.TimeoutExpired:
        return {**record, "status": "failed", "detail": "the client did not finish in time"}
    finally:
        for server in servers:
            server.stop()
    try:
        raw = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {**record, "status": "failed", "detail": f"client: {done.stderr.strip()[-500:]}"}
    (settings.raw_dir / f"{target.name}-client.json").write_text(json.dumps(raw) + "\n")
    summary = summarize_fanout(raw, settings.subscribers)
    return {
        **record,
        **summary,
        "connect_s": raw.get("connect_s"),
        "rss_kib": memory,
        "fanout_ms": [r.get("fanout_ms") for r in raw.get("rounds", [])],
        "socket_errors": raw.get("socket_errors", []),
    }


# --- enqueue ------------------------------------------------------------------------


def queue_depth(broker_url: str, queue: str) -> int | None:
    """Messages in ``queue`` (None if it does not exist)."""
    from amqp.exceptions import NotFound
    from kombu import Connection

    with Connection(broker_url) as connection:
        try:
            return int(connection.channel().queue_declare(queue=queue, passive=True).message_count)
        except NotFound:
            return None


def delete_queue(broker_url: str, queue: str) -> None:
    from kombu import Connection

    with Connection(broker_url) as connection:
        connection.channel().queue_delete(queue=queue)


def rabbitmq_version(broker_url: str) -> str:
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=3) as connection:
            connection.connect()
            version = connection.connection.server_properties.get("version", b"?")
            return version.decode() if isinstance(version, bytes) else str(version)
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"


def run_enqueue(variant: str, settings: Settings, broker_url: str) -> dict[str, Any]:
    framework = variant.partition("_")[0]
    record: dict[str, Any] = {"variant": variant, "framework": framework}
    absent = missing_packages(ENQUEUE_NEEDS.get(framework, ()))
    if absent:
        return {**record, "status": "not_installed", "detail": ", ".join(absent)}
    queue = f"bench-scale-{uuid.uuid4().hex[:8]}-{variant}"
    config = {
        "broker": broker_url,
        "queue": queue,
        "tasks": settings.tasks,
        "rounds": settings.task_rounds,
        "warmup": settings.task_warmup,
        "concurrency": settings.concurrency,
    }
    try:
        done = subprocess.run(
            ["taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "bench.enqueue", variant,
             json.dumps(config)],
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120 + settings.tasks * settings.task_rounds / 20,
            check=False,
        )  # fmt: skip
        try:
            raw = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raw = {"error": f"{done.stderr.strip()[-500:]}"}
        if raw.get("status") == "not_installed":
            return {**record, "status": "not_installed", "detail": raw["error"]}
        if "error" in raw:
            return {**record, "status": "failed", "detail": raw["error"]}
        sent = raw["sent"]
        queued = queue_depth(broker_url, queue)
        deadline = time.monotonic() + 10
        while (queued or 0) < sent and time.monotonic() < deadline:
            time.sleep(0.2)  # the broker may still be routing the last messages
            queued = queue_depth(broker_url, queue)
    except subprocess.TimeoutExpired:
        return {**record, "status": "failed", "detail": "the enqueuer did not finish in time"}
    finally:
        delete_queue(broker_url, queue)
    rates = raw["rates"]
    return {
        **record,
        "status": "ok" if queued == sent else "lost_messages",
        "concurrency": raw["concurrency"],
        "rate_median": round(statistics.median(rates), 1),
        "rates": rates,
        "sent": sent,
        "queued": queued,
        **({} if queued == sent else {"detail": f"{sent} sent, {queued} in the queue"}),
    }


# --- the run ------------------------------------------------------------------------


def _pick(raw: str | None, known: tuple[str, ...], what: str) -> list[str]:
    if not raw:
        return list(known)
    chosen = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return chosen


def settings_from(args: argparse.Namespace) -> Settings:
    smoke = args.smoke

    def pick(value: int | None, full: int, small: int) -> int:
        return value if value is not None else (small if smoke else full)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return Settings(
        smoke=smoke,
        subscribers=pick(args.subscribers, 1000, 50),
        repeats=pick(args.repeats, 30, 3),
        warmup=pick(args.warmup, 5, 1),
        tasks=pick(args.tasks, 5000, 200),
        task_rounds=pick(args.task_rounds, 3, 1),
        task_warmup=20 if smoke else 200,
        concurrency=args.concurrency,
        raw_dir=RESULTS_DIR / "raw" / f"scale_out-{stamp}",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    frameworks = _pick(args.only, ("carboy", "django", "celery"), "frameworks")
    parts = _pick(args.parts, ("fanout", "enqueue"), "parts")
    targets = [t for t in FANOUT_TARGETS if t.framework in frameworks] if "fanout" in parts else []
    variants = (
        [v for v in VARIANTS if v.partition("_")[0] in frameworks] if "enqueue" in parts else []
    )
    name = "scale_out-smoke" if settings.smoke else "scale_out"
    json_path = args.results or RESULTS_DIR / f"{name}.json"
    settings.raw_dir.mkdir(parents=True, exist_ok=True)
    print(f"load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    redis: PrivateRedis | None = None
    redis_url = args.redis_url
    fanout: list[dict[str, Any]] = []
    enqueue: list[dict[str, Any]] = []
    started = datetime.now(UTC)
    machine = machine_info()
    versions = {name: package_version(name) for name in PACKAGES}
    versions["python"] = sys.version.split()[0]
    versions["rabbitmq"] = rabbitmq_version(args.broker_url) if variants else "not used"
    try:
        if targets:
            if redis_url is None:
                redis = PrivateRedis(settings.raw_dir / "redis.log")
                redis.start()
                redis_url = redis.url
            versions["redis-server"] = redis_version(redis_url)
            for target in targets:
                record = run_fanout(target, settings, redis_url)
                fanout.append(record)
                print(
                    f"fan-out {target.name:<22} {scale_report.describe_fanout(record)}", flush=True
                )
        for variant in variants:
            record = run_enqueue(variant, settings, args.broker_url)
            enqueue.append(record)
            print(f"enqueue {variant:<28} {scale_report.describe_enqueue(record)}", flush=True)
    finally:
        if redis is not None:
            redis.stop()

    versions["carboy revision"] = carboy_revision()
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results = {
        "meta": {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": "smoke" if settings.smoke else "full",
            "command": "python -m bench.scale_out "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "settings": {
                "subscribers": settings.subscribers,
                "repeats": settings.repeats,
                "warmup": settings.warmup,
                "tasks": settings.tasks,
                "task_rounds": settings.task_rounds,
                "task_warmup": settings.task_warmup,
                "concurrency": settings.concurrency,
                "server_cpu": SERVER_CPU,
                "client_cpu": CLIENT_CPU,
                "redis": "private redis-server" if redis is not None else "given (--redis-url)",
            },
            "machine": machine,
            "versions": versions,
            "commands": command_lines(),
        },
        "fanout": fanout,
        "enqueue": enqueue,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    section = scale_report.render_section(results)
    print(f"results: {json_path}")
    if settings.smoke and not args.publish:
        md_path = json_path.with_suffix(".md")
        md_path.write_text(section)
        print(f"section: {md_path} (a smoke run leaves {DOCS_PAGE.name} alone)")
    else:
        page = args.docs or DOCS_PAGE
        page.write_text(scale_report.splice(page.read_text(), section))
        print(f"section rewritten in {page}")
    print()
    print(section)
    return 0 if all(r["status"] in ("ok", "not_installed") for r in fanout + enqueue) else 1


def command_lines() -> dict[str, str]:
    """Each fan-out target's server command line, for port 8000, as the docs show it."""
    lines = {}
    for target in FANOUT_TARGETS:
        parts = target.command(8000)
        parts[0] = "python"
        env = "".join(f"{key}={value} " for key, value in target.env.items())
        lines[target.name] = f"{env}taskset -c {SERVER_CPU} " + " ".join(parts)
    return lines


if __name__ == "__main__":
    sys.exit(main())
