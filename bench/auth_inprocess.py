"""What ``carboy.auth`` costs a request, in-process: the same app with and without ``Auth``.

    python -m bench.auth_inprocess [--rounds 5] [-n 20000] [--cpu 1] [--only NAMES]
    python -m bench.auth_inprocess --callgrind [-n 2000] [--only NAMES]

Each variant is a carboy app in its production configuration (debug off, the
``Host`` header checked, the security headers on), driven directly with a fake
scope as ``bench.inprocess`` does, in its own interpreter pinned to one CPU.
The variants run round-robin ``--rounds`` times, so drift on a shared machine
falls on all of them alike; the table gives, per variant, the median over the
rounds of each run's median, and the extra nanoseconds over the bare app
answering the same handler. ``--callgrind`` counts instructions per request
instead (``valgrind --tool=callgrind``, two runs of N and 2N requests, so
start-up cancels out): a figure a busy machine does not move.

Variants (``GET /plaintext`` needs nothing of the request; ``GET /whoami``
returns ``request.user.display_name``):

- ``bare`` and ``bare-whoami``: no middleware;
- ``noop``: one pure-ASGI middleware that only calls the app (the price of a layer);
- ``auth``: ``app.install(Auth(users=MemoryUserStore(), pages=None))``, no cookie;
- ``auth-whoami``: the same, the handler reads ``request.user``, no cookie;
- ``auth-signed-in``: the same handler with the cookie ``POST /login`` set
  (the default signed-cookie store; the user in a ``MemoryUserStore``, so the
  figure is the middleware's and not a database's).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.inprocess import Capture, Receive, _callgrind_total, _discard
from bench.process import ROOT, last_error, subprocess_env
from carboy import Carboy, Request

_REQUEST_HEADERS = ((b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*"))
USERNAME = "bench"
PASSWORD = "bench-password"

#: variant -> (path, whether it sends the signed-in cookie, the bare variant it is compared to)
VARIANTS: dict[str, tuple[str, bool, str]] = {
    "bare": ("/plaintext", False, "bare"),
    "noop": ("/plaintext", False, "bare"),
    "auth": ("/plaintext", False, "bare"),
    "bare-whoami": ("/whoami", False, "bare-whoami"),
    "auth-whoami": ("/whoami", False, "bare-whoami"),
    "auth-signed-in": ("/whoami", True, "bare-whoami"),
}


def make_app(variant: str) -> Carboy:
    """The carboy app of one variant (built)."""
    from carboy.auth import Auth, MemoryUserStore, PasswordHasher, login
    from carboy.settings import Settings

    app = Carboy(
        Settings(
            debug=False,
            secret_key="carboy-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
            allowed_hosts=["127.0.0.1", "localhost"],
        )
    )

    @app.get("/plaintext", media_type="text/plain")
    async def plaintext() -> str:
        return "Hello, World!"

    @app.get("/whoami", media_type="text/plain")
    async def whoami(request: Request) -> str:
        return request.user.display_name or "anonymous"

    if variant == "noop":

        class Noop:
            def __init__(self, app: Any) -> None:
                self.app = app

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                await self.app(scope, receive, send)

        app.add_middleware(Noop)
    if variant.startswith("auth"):
        # The smallest argon2id parameters: /login runs once, untimed.
        users = MemoryUserStore(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        app.install(Auth(users=users, pages=None))

        @app.post("/login")
        async def sign_in(request: Request) -> str:
            user = await users.get_by_login(USERNAME)
            if user is None or not await users.check_password(user, PASSWORD):
                return "no"
            await login(request, user)
            return "ok"

        app.state.users = users
    app.build()
    return app


def scope(path: str, method: str = "GET", cookie: bytes | None = None) -> dict[str, Any]:
    headers = list(_REQUEST_HEADERS)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


async def _sign_in(app: Any) -> bytes:
    users = app.state.users
    await users.create(username=USERNAME, password=PASSWORD)
    capture = Capture()
    await app(scope("/login", "POST"), Receive(), capture)
    cookie = capture.headers.get(b"set-cookie", b"").split(b";", 1)[0]
    if capture.body != b"ok" or not cookie:
        raise RuntimeError(f"POST /login: {capture.status} {capture.body!r}, cookie {cookie!r}")
    return cookie


async def time_variant(variant: str, n: int, repeat: int, warmup: int) -> dict[str, Any]:
    """Median and best ns per request of one variant, after checking its answer."""
    path, signed_in, _ = VARIANTS[variant]
    app = make_app(variant)
    cookie = await _sign_in(app) if signed_in else None
    capture = Capture()
    await app(scope(path, cookie=cookie), Receive(), capture)
    expected = {"/plaintext": b"Hello, World!", "/whoami": b"bench" if signed_in else b"anonymous"}
    if capture.status != 200 or capture.body != expected[path]:
        raise RuntimeError(f"{variant}: GET {path} -> {capture.status} {capture.body!r}")
    make: Callable[[], dict[str, Any]] = lambda: scope(path, cookie=cookie)  # noqa: E731
    for _ in range(warmup):
        await app(make(), Receive(), _discard)
    samples = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter_ns()
        for _ in range(n):
            await app(make(), Receive(), _discard)
        samples.append((time.perf_counter_ns() - started) / n)
    headers = {k.decode(): v.decode() for k, v in capture.headers.items()}
    return {
        "ns_median": statistics.median(samples),
        "ns_best": min(samples),
        "headers": headers,
    }


def run_one(args: argparse.Namespace) -> int:
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(time_variant(args.one, args.n, args.repeat, args.warmup))
    else:
        result = asyncio.run(time_variant(args.one, args.n, args.repeat, args.warmup))
    print("AUTH_INPROCESS_JSON " + json.dumps(result), flush=True)
    return 0


def _command(variant: str, args: argparse.Namespace, n: int) -> list[str]:
    return [
        sys.executable, "-m", "bench.auth_inprocess", "--one", variant,
        "-n", str(n), "--repeat", str(args.repeat), "--warmup", str(args.warmup),
        "--loop", args.loop,
    ]  # fmt: skip


def _run(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    command = _command(variant, args, args.n)
    if args.cpu >= 0:
        command = ["taskset", "-c", str(args.cpu), *command]
    done = subprocess.run(
        command, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("AUTH_INPROCESS_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("AUTH_INPROCESS_JSON "))
            return result
    raise RuntimeError(f"{variant} failed: {last_error(done.stderr)}")


def instructions(variant: str, args: argparse.Namespace) -> float:
    """Instructions per request of ``variant`` under callgrind: (Ir(2N) - Ir(N)) / N."""
    out_dir = ROOT / "bench" / "results" / "raw" / "callgrind"
    out_dir.mkdir(parents=True, exist_ok=True)
    one = argparse.Namespace(**{**vars(args), "repeat": 1, "warmup": 200})
    totals = []
    for n in (args.n, 2 * args.n):
        out = out_dir / f"auth.{variant}.n{n}.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        command += _command(variant, one, n)
        env = {**subprocess_env(), "PYTHONHASHSEED": "0"}
        subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=False)
        total = _callgrind_total(out)
        if total is None:
            raise RuntimeError(f"{variant}: callgrind gave no total (see {out})")
        totals.append(total)
    return (totals[1] - totals[0]) / args.n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.auth_inprocess", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs per variant")
    parser.add_argument("-n", type=int, default=20_000, help="requests per timed repeat")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats per run")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed requests first")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--cpu", type=int, default=1, help="pin each run to this CPU (-1: no)")
    parser.add_argument("--only", help="variants, comma-separated (their bare ones are added)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead")
    parser.add_argument("--one", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return run_one(args)
    names = list(VARIANTS)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        wanted |= {VARIANTS[name][2] for name in wanted}
        names = [name for name in names if name in wanted]
    if args.callgrind:
        counts = {name: instructions(name, args) for name in names}
        print(f"{'variant':<16}{'path':<12}{'instr/req':>11}{'+instr':>9}")
        for name in names:
            path, _, base = VARIANTS[name]
            extra = counts[name] - counts[base] if base in counts else float("nan")
            print(f"{name:<16}{path:<12}{counts[name]:>11,.0f}{extra:>+9,.0f}")
        return 0
    print(
        f"{args.rounds} rounds x {args.repeat} x {args.n:,} requests per variant; "
        f"loop: {args.loop}; CPU: {args.cpu if args.cpu >= 0 else 'any'}; medians"
    )
    runs: dict[str, list[float]] = {name: [] for name in names}
    headers: dict[str, dict[str, str]] = {}
    for _ in range(args.rounds):
        for name in names:
            result = _run(name, args)
            runs[name].append(result["ns_median"])
            headers[name] = result["headers"]
    print(f"\n{'variant':<16}{'path':<12}{'ns/req':>9}{'+ns':>8}   runs (ns)   vary")
    medians = {name: statistics.median(values) for name, values in runs.items()}
    for name in names:
        path, _, base = VARIANTS[name]
        extra = medians[name] - medians[base] if base in medians else float("nan")
        spread = " ".join(f"{x:.0f}" for x in runs[name])
        vary = headers[name].get("vary", "-")
        print(f"{name:<16}{path:<12}{medians[name]:>9.0f}{extra:>+8.0f}   {spread}   {vary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
