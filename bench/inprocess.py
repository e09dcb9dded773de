"""Drive each app's callable directly, N times, with no server and no network.

    python -m bench.inprocess [--only NAMES] [--tests plaintext,json,/users/42] [-n N]
    python -m bench.inprocess --callgrind [--run] --only carboy --tests plaintext
    python -m bench.inprocess --interface rsgi [--callgrind --run] ...

A figure that does not move with machine noise the way wrk's does: nanoseconds
per request for the plaintext and JSON tests (or any path), each app driven in
one asyncio loop with a fake scope, ``receive`` and ``send``, next to the bare
ASGI callable. *+ns* is the framework's own cost per request over the bare
app; *ratio* is the design target's figure (carboy: at most about 1.10).

Each framework runs in its own interpreter (``--one NAME``), pinned to one CPU,
so that imports of one framework cannot slow another. Flask is driven through
WSGI (a fake environ and ``start_response``), which is not the same path but
shows its cost on the same scale.

``--interface rsgi`` drives granian's RSGI interface instead: a fake RSGI scope
and protocol (``response_bytes`` and the rest record or discard), the bare RSGI
callables as the baselines, and carboy through ``app.__rsgi__`` after its
``__rsgi_init__`` (the lifespan's start-up, as granian runs it).

``--callgrind`` prints the ``valgrind --tool=callgrind`` commands that count
*instructions* per request: two runs that differ only in the number of
requests, so start-up cancels out: ``(Ir(2N) - Ir(N)) / N``. With ``--run``
it runs them and prints that figure; open the output files with
``callgrind_annotate`` or KCachegrind to see where the instructions go.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from pathlib import Path
from typing import Any

from bench.common import MESSAGE, PLAINTEXT
from bench.process import ROOT, last_error, subprocess_env
from bench.suite import FRAMEWORKS, FRAMEWORKS_BY_NAME, RSGI_BASELINE, Framework

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]

DEFAULT_TESTS = ("plaintext", "json")
TEST_PATHS = {"plaintext": "/plaintext", "json": "/json"}
_REQUEST = {"type": "http.request", "body": b"", "more_body": False}
_HEADERS = ((b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*"))
RESULTS_PATH = ROOT / "bench" / "results" / "inprocess.json"


# --- the fake server --------------------------------------------------------------------


def make_scope(path: str, query: bytes, state: dict[str, Any]) -> dict[str, Any]:
    """A new scope per request, shaped like uvicorn's (which also builds one per request)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": list(_HEADERS),
        "state": state.copy(),
    }


class Receive:
    """The request body once, then wait (as a server does until the client disconnects)."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False

    async def __call__(self) -> Message:
        if not self.done:
            self.done = True
            return _REQUEST
        await asyncio.get_running_loop().create_future()  # until the app cancels us
        raise AssertionError("unreachable")


async def _discard(message: Message) -> None:
    return None


class Capture:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {bytes(k).lower(): bytes(v) for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


async def lifespan_startup(app: ASGIApp, limit_s: float = 30.0) -> tuple[str, dict[str, Any]]:
    """Run the app's start-up as a server would; ("ok" | "unsupported" | "failed: ..", state)."""
    state: dict[str, Any] = {}
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
    reply = asyncio.ensure_future(outbox.get())
    done, _ = await asyncio.wait({task, reply}, timeout=limit_s, return_when="FIRST_COMPLETED")
    if reply in done:
        message = reply.result()
        if message["type"] == "lifespan.startup.complete":
            return "ok", state
        return f"failed: {message.get('message', '')}", state
    reply.cancel()
    if task in done:  # the app raised or returned: no lifespan support (Django)
        return "unsupported", state
    task.cancel()
    return "failed: timed out", state


# --- the fake RSGI server ---------------------------------------------------------------


class RSGIHeaders:
    """Request headers as granian gives them: lower-case names, text values."""

    __slots__ = ("_values",)

    def __init__(self, raw: tuple[tuple[bytes, bytes], ...]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in raw:
            self._values.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def get(self, key: str, default: Any = None) -> Any:
        values = self._values.get(key)
        return values[0] if values else default

    def get_all(self, key: str) -> list[str]:
        return list(self._values.get(key, ()))

    def items(self) -> list[tuple[str, str]]:
        return [(name, value) for name, values in self._values.items() for value in values]


class RSGIScope:
    """One request's RSGI scope (granian makes a new one per request, so does this)."""

    __slots__ = ("headers", "path", "query_string")
    proto = "http"
    http_version = "1.1"
    rsgi_version = "1.5"
    server = "127.0.0.1:8000"
    client = "127.0.0.1:50000"
    scheme = "http"
    method = "GET"
    authority = None

    def __init__(self, path: str, query: str, headers: RSGIHeaders) -> None:
        self.path = path
        self.query_string = query
        self.headers = headers


class RSGIProtocol:
    """An HTTP protocol object: the request has no body; the response is kept or dropped."""

    __slots__ = ("body", "keep", "status")

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.status = 0
        self.body = b""

    async def __call__(self) -> bytes:
        return b""

    async def client_disconnect(self) -> None:
        await asyncio.get_running_loop().create_future()

    def response_empty(self, status: int, headers: Any) -> None:
        self.response_bytes(status, headers, b"")

    def response_str(self, status: int, headers: Any, body: str) -> None:
        self.response_bytes(status, headers, body.encode())

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        if self.keep:
            self.status, self.body = status, body

    def response_file(self, status: int, headers: Any, file: str) -> None:
        raise NotImplementedError("bench.inprocess serves no files")

    def response_stream(self, status: int, headers: Any) -> Any:
        raise NotImplementedError("bench.inprocess streams nothing")


# --- one framework, in this process -----------------------------------------------------


def _check(test: str, status: int, body: bytes) -> str | None:
    if status == 404:
        return "not implemented (404)"
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    if test == "plaintext" and body != PLAINTEXT:
        return f"body {body[:100]!r}"
    if test == "json":
        try:
            value = json.loads(body)
        except ValueError:
            value = None
        if value != {"message": MESSAGE}:
            return f"body {body[:100]!r}"
    return None


def _status(problem: str) -> str:
    return "not implemented" if problem.startswith("not implemented") else "wrong answer"


def _split(target: str) -> tuple[str, bytes]:
    path = TEST_PATHS.get(target, target)
    path, _, query = path.partition("?")
    return path, query.encode()


async def time_asgi(
    app: ASGIApp, tests: list[str], n: int, repeat: int, warmup: int, lifespan: bool
) -> dict[str, Any]:
    status, state = await lifespan_startup(app) if lifespan else ("skipped", {})
    out: dict[str, Any] = {"lifespan": status, "tests": {}}
    for test in tests:
        path, query = _split(test)
        capture = Capture()
        await app(make_scope(path, query, state), Receive(), capture)
        problem = _check(test, capture.status, capture.body)
        if problem:
            out["tests"][test] = {"status": _status(problem), "detail": problem}
            continue
        for _ in range(warmup):
            await app(make_scope(path, query, state), Receive(), _discard)
        samples = []
        for _ in range(repeat):
            gc.collect()
            started = time.perf_counter_ns()
            for _ in range(n):
                await app(make_scope(path, query, state), Receive(), _discard)
            samples.append((time.perf_counter_ns() - started) / n)
        out["tests"][test] = _stats(samples)
    return out


RSGIApp = Callable[[Any, Any], Awaitable[None]]


async def time_rsgi(
    app: RSGIApp, tests: list[str], n: int, repeat: int, warmup: int, lifespan: str
) -> dict[str, Any]:
    """Like :func:`time_asgi`, over RSGI: a new scope per request (granian makes one too; its
    headers are a view of the parsed request, built once here so as not to time the fake)."""
    out: dict[str, Any] = {"lifespan": lifespan, "tests": {}}
    for test in tests:
        path, query = _split(test)
        text = query.decode()
        headers = RSGIHeaders(_HEADERS)
        check = RSGIProtocol(keep=True)
        await app(RSGIScope(path, text, headers), check)
        problem = _check(test, check.status, check.body)
        if problem:
            out["tests"][test] = {"status": _status(problem), "detail": problem}
            continue
        drop = RSGIProtocol(keep=False)
        for _ in range(warmup):
            await app(RSGIScope(path, text, headers), drop)
        samples = []
        for _ in range(repeat):
            gc.collect()
            started = time.perf_counter_ns()
            for _ in range(n):
                await app(RSGIScope(path, text, headers), drop)
            samples.append((time.perf_counter_ns() - started) / n)
        out["tests"][test] = _stats(samples)
    return out


def make_environ(path: str, query: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query.decode(),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _call_wsgi(app: WSGIApp, path: str, query: bytes) -> tuple[int, bytes]:
    status: list[str] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
        status.append(line)
        return lambda data: None

    result = app(make_environ(path, query), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(status[0].split()[0]), body


def time_wsgi(app: WSGIApp, tests: list[str], n: int, repeat: int, warmup: int) -> dict[str, Any]:
    out: dict[str, Any] = {"lifespan": "n/a (WSGI)", "tests": {}}
    for test in tests:
        path, query = _split(test)
        code, body = _call_wsgi(app, path, query)
        problem = _check(test, code, body)
        if problem:
            out["tests"][test] = {"status": _status(problem), "detail": problem}
            continue
        for _ in range(warmup):
            _call_wsgi(app, path, query)
        samples = []
        for _ in range(repeat):
            gc.collect()
            started = time.perf_counter_ns()
            for _ in range(n):
                _call_wsgi(app, path, query)
            samples.append((time.perf_counter_ns() - started) / n)
        out["tests"][test] = _stats(samples)
    return out


def _stats(samples: list[float]) -> dict[str, Any]:
    return {
        "status": "ok",
        "ns_best": round(min(samples)),
        "ns_median": round(statistics.median(samples)),
        "samples_ns": [round(x) for x in samples],
    }


def run_one(args: argparse.Namespace) -> int:
    """``--one NAME``: import one app and time it; prints one JSON line."""
    framework = FRAMEWORKS_BY_NAME[args.one]
    result: dict[str, Any] = {"framework": framework.name, "interface": framework.interface}
    try:
        module = importlib.import_module(framework.module)
        app = module.app
    except Exception as exc:
        result.update(status="failed_import", detail=f"{type(exc).__name__}: {exc}")
        print("INPROCESS_JSON " + json.dumps(result), flush=True)
        return 0
    tests = args.tests.split(",")
    if framework.interface == "wsgi":
        result.update(time_wsgi(app, tests, args.n, args.repeat, args.warmup))
    elif args.interface == "rsgi":
        result["interface"] = "rsgi"
        result.update(_run_rsgi(app, tests, args))
    else:
        if args.loop == "uvloop":
            import uvloop

            runner: Callable[[Coroutine[Any, Any, Any]], Any] = uvloop.run
        else:
            runner = asyncio.run
        timed = time_asgi(app, tests, args.n, args.repeat, args.warmup, not args.no_lifespan)
        result.update(runner(timed))
    result["status"] = "ok"
    print("INPROCESS_JSON " + json.dumps(result), flush=True)
    # Skip interpreter teardown: open pools and threads may otherwise hang or
    # add work that callgrind would count.
    os._exit(0)


def _run_rsgi(app: Any, tests: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Time an RSGI callable, or an ASGI app's ``__rsgi__``, on a loop of its own."""
    if args.loop == "uvloop":
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    lifespan = "n/a (RSGI callable)"
    serve = app
    if hasattr(app, "__rsgi__"):
        lifespan = "skipped"
        if not args.no_lifespan and hasattr(app, "__rsgi_init__"):
            app.__rsgi_init__(loop)  # as granian calls it: the loop is not running yet
            lifespan = "ok"
        serve = app.__rsgi__
    timed = time_rsgi(serve, tests, args.n, args.repeat, args.warmup, lifespan)
    return loop.run_until_complete(timed)


# --- the driver: one subprocess per framework -------------------------------------------


def _worker_command(framework: Framework, args: argparse.Namespace, n: int) -> list[str]:
    command = [
        sys.executable, "-m", "bench.inprocess", "--one", framework.name,
        "--tests", args.tests, "-n", str(n), "--repeat", str(args.repeat),
        "--warmup", str(args.warmup), "--loop", args.loop, "--interface", args.interface,
    ]  # fmt: skip
    if args.no_lifespan:
        command.append("--no-lifespan")
    return command


def _run_worker(command: list[str], cpu: int | None) -> dict[str, Any]:
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(
        command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("INPROCESS_JSON ")), None)
    if line is None:
        return {"status": "failed", "detail": last_error(done.stderr)}
    result: dict[str, Any] = json.loads(line.removeprefix("INPROCESS_JSON "))
    return result


def _table(results: dict[str, dict[str, Any]], tests: list[str], baseline: str = "bare") -> str:
    bare = results.get(baseline, {}).get("tests", {})
    width = 28
    lines = [
        f"{'':<11}" + "".join(f"{test:>{width}}" for test in tests),
        f"{'framework':<11}" + "".join(f"{'ns/req':>11}{'+ns':>9}{'ratio':>8}" for _ in tests),
    ]
    for name, result in results.items():
        if result.get("status") != "ok":
            lines.append(f"{name:<11}  {result.get('status')}: {result.get('detail', '')}")
            continue
        cells = []
        for test in tests:
            figure = result["tests"].get(test, {})
            if figure.get("status") != "ok":
                cells.append(f"{figure.get('status', 'n/a'):>{width}}")
                continue
            ns = figure["ns_best"]
            base = bare.get(test, {}).get("ns_best")
            extra = f"{ns - base:+,d}" if base else "—"
            ratio = f"{ns / base:.2f}x" if base else "—"
            cells.append(f"{ns:>11,d}{extra:>9}{ratio:>8}")
        lines.append(f"{name:<11}" + "".join(cells))
    return "\n".join(lines)


def callgrind(args: argparse.Namespace, frameworks: list[Framework]) -> int:
    out_dir = ROOT / "bench" / "results" / "raw" / "callgrind"
    n = args.n
    print(
        "Instructions per request = (Ir(n=2N) - Ir(n=N)) / N, from two runs under callgrind.\n"
        f"N = {n}; lower it (-n) if valgrind is too slow. Commands:\n"
    )
    plans = []
    for framework in frameworks:
        for test in args.tests.split(","):
            one = argparse.Namespace(**{**vars(args), "tests": test, "repeat": 1})
            pair = []
            for count in (n, 2 * n):
                safe = re.sub(r"[^A-Za-z0-9_.-]", "_", test)
                out = out_dir / f"{framework.name}.{safe}.n{count}.out"
                command = [
                    "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    *_worker_command(framework, one, count),
                ]  # fmt: skip
                pair.append((command, out))
                print(f"cd {ROOT} && PYTHONHASHSEED=0 " + " ".join(command))
            plans.append((framework.name, test, pair))
    print(f"\nThen: callgrind_annotate {out_dir}/<name>.<test>.n{2 * n}.out | head -60")
    if not args.run:
        print("(add --run to run them now)")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**subprocess_env(), "PYTHONHASHSEED": "0"}
    print()
    for name, test, pair in plans:
        totals = []
        for command, out in pair:
            subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
            totals.append(_callgrind_total(out))
        first, second = totals
        if first is None or second is None:
            print(f"{name:<10} {test:<12} failed (see {pair[0][1].parent})")
            continue
        per_request = (second - first) / n
        print(f"{name:<10} {test:<12} {per_request:>12,.0f} instructions/request")
    return 0


def _callgrind_total(path: Path) -> int | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    match = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--only", help="frameworks, comma-separated (bare is always added)")
    parser.add_argument(
        "--tests",
        default=",".join(DEFAULT_TESTS),
        help="plaintext, json, or paths such as /users/42 (comma-separated)",
    )
    parser.add_argument("-n", type=int, default=20_000, help="requests per timed repeat")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats (best is reported)")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed requests first")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--cpu", type=int, default=0, help="pin each run to this CPU (-1: no)")
    parser.add_argument("--no-lifespan", action="store_true", help="skip the lifespan start-up")
    parser.add_argument(
        "--interface",
        choices=("asgi", "rsgi"),
        default="asgi",
        help="asgi (bare ASGI baseline), or rsgi: the bare RSGI callables and carboy's __rsgi__",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_PATH, help="where to save results")
    parser.add_argument("--callgrind", action="store_true", help="print the callgrind commands")
    parser.add_argument("--run", action="store_true", help="with --callgrind: run them")
    parser.add_argument("--one", choices=list(FRAMEWORKS_BY_NAME), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _serves(framework: Framework, interface: str) -> bool:
    """Whether ``framework`` runs under ``interface`` here (Flask: through WSGI, under asgi)."""
    if interface == "rsgi":
        return framework.interface == "rsgi" or framework.rsgi
    return framework.interface == "asgi" or framework.name == "flask"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one:
        return run_one(args)
    names = [x.strip() for x in args.only.split(",")] if args.only else None
    baseline = RSGI_BASELINE if args.interface == "rsgi" else "bare"
    frameworks = [
        f for f in FRAMEWORKS
        if (names is None or f.name in names or f.name == baseline)
        and _serves(f, args.interface)
    ]  # fmt: skip
    if args.callgrind:
        if names is not None and baseline not in names:
            frameworks = [f for f in frameworks if f.name != baseline]
        return callgrind(args, frameworks)
    tests = args.tests.split(",")
    cpu = None if args.cpu < 0 else args.cpu
    print(
        f"{args.repeat} x {args.n:,} requests per test, best repeat shown; loop: {args.loop}; "
        f"CPU: {cpu if cpu is not None else 'any'}"
    )
    results: dict[str, dict[str, Any]] = {}
    for framework in frameworks:
        results[framework.name] = _run_worker(_worker_command(framework, args, args.n), cpu)
        status = results[framework.name].get("lifespan", "")
        print(f"  {framework.name}: done (lifespan: {status})", flush=True)
    print()
    print(_table(results, tests, baseline))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "n": args.n,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "loop": args.loop,
        "interface": args.interface,
    }
    args.json.write_text(json.dumps({"settings": settings, "results": results}, indent=1) + "\n")
    print(f"\nsaved: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
