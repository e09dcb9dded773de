"""Start a server pinned to one CPU, wait until it answers, measure its memory, stop it."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class StartFailed(RuntimeError):
    """The server exited or did not answer in time; the message ends with its log."""


def last_error(text: str) -> str:
    """The line of a traceback that names the exception (else the last line)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if not line[0].isspace() and ("Error" in line or "Exception" in line) and ":" in line:
            return line.strip()
    return lines[-1].strip() if lines else "no output"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def subprocess_env() -> dict[str, str]:
    """The environment for servers and cold-start runs: the repo on ``sys.path``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def descendants(pid: int) -> list[int]:
    """``pid`` and all its children, recursively (from ``/proc/PID/task/*/children``)."""
    found = [pid]
    index = 0
    while index < len(found):
        task_dir = Path(f"/proc/{found[index]}/task")
        index += 1
        try:
            tasks = list(task_dir.iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                found += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class ServerProcess:
    """One server process group, started in its own session so it can be stopped whole."""

    def __init__(
        self,
        command: Sequence[str],
        log_path: Path,
        cpu: int | None = 0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = [*(["taskset", "-c", str(cpu)] if cpu is not None else []), *command]
        self.log_path = log_path
        self.env = {**subprocess_env(), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(
        self, port: int, path: str, timeout: float = 30.0, status: int | None = None
    ) -> float:
        """Seconds from start until the server answers ``path`` (with ``status``, if given)."""
        if self.proc is None:
            raise StartFailed("not started")
        started = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                raise StartFailed(f"exited {self.proc.returncode}: {last_error(tail)}\n{tail}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if status is None or response.status == status:
                    return time.perf_counter() - started
            except OSError:
                pass
            finally:
                conn.close()
            if time.perf_counter() - started > timeout:
                raise StartFailed(f"no answer on port {port} after {timeout:g}s\n{self.log_tail()}")
            time.sleep(0.05)

    def memory(self) -> tuple[int, int, int]:
        """(total RSS KiB of the process tree, largest single process KiB, process count)."""
        if self.proc is None:
            return 0, 0, 0
        sizes = [rss_kib(pid) for pid in descendants(self.proc.pid)]
        sizes = [size for size in sizes if size]
        return sum(sizes), max(sizes, default=0), len(sizes)

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session made it the group leader
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=grace)
        except ProcessLookupError:
            pass
        # Children of a server that died first may outlive it in the same group.
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
