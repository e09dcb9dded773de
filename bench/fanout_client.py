"""The fan-out benchmark's client: many WebSocket subscribers, one publish at a time.

    python -m bench.fanout_client CONFIG_JSON      (run by bench.scale_out, pinned to one CPU)

It opens ``subscribers`` WebSockets, alternating between the ``ws_urls`` (one
per server process), then for each round stamps the time, POSTs one message
``{"seq": N, "text": ...}`` to ``publish_url`` and waits until every socket has
received it. A round's *fan-out time* is from just before the publish request
to the moment the last subscriber has the message; each subscriber's
*delivery time* is from the same instant to its own arrival. The first
rounds, until one reaches every socket (a subscription may take a moment to
reach Redis), and then ``warmup`` more, are not counted.

It prints one JSON object on stdout: every counted round's fan-out time, the
delivery times of every subscriber in every counted round (milliseconds), and
what went wrong, if anything. Sockets are opened without compression, so no
server spends time deflating and all pay the same.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

TEXT = "Hello, subscribers!"
#: Sockets opened at once while connecting (a backlog of 1,000 handshakes helps nobody).
CONNECT_BATCH = 50
#: Rounds published before one reaches every socket, at most, before giving up.
MAX_SETTLE_ROUNDS = 20


@dataclass
class Round:
    """The arrivals of one message: a time per socket, or None while it has not come."""

    seq: int
    arrivals: list[float | None]
    missing: int
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Subscribers:
    """The open sockets and the round they are receiving."""

    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.current: Round | None = None
        self.readers: list[asyncio.Task[None]] = []
        self.errors: list[str] = []
        #: The text the first socket received last: checked against the expected bytes.
        self.sample = ""

    async def open(self, urls: list[str], count: int, open_timeout: float) -> None:
        async def one(index: int) -> ClientConnection:
            return await connect(
                urls[index % len(urls)],
                compression=None,
                open_timeout=open_timeout,
                max_size=2**20,
            )

        for start in range(0, count, CONNECT_BATCH):
            batch = range(start, min(start + CONNECT_BATCH, count))
            self.sockets += await asyncio.gather(*(one(i) for i in batch))
        for index, sock in enumerate(self.sockets):
            self.readers.append(asyncio.create_task(self._read(index, sock)))

    async def _read(self, index: int, sock: ClientConnection) -> None:
        try:
            async for raw in sock:
                arrived = time.perf_counter()
                current = self.current
                if current is None:
                    continue
                message = json.loads(raw)
                if message["data"]["seq"] != current.seq or current.arrivals[index] is not None:
                    continue  # a late copy of an earlier round
                current.arrivals[index] = arrived
                if index == 0:
                    self.sample = raw if isinstance(raw, str) else raw.decode()
                current.missing -= 1
                if current.missing == 0:
                    current.done.set()
        except Exception as exc:  # a socket the server closed: say so in the results
            self.errors.append(f"socket {index}: {type(exc).__name__}: {exc}")

    async def close(self) -> None:
        for start in range(0, len(self.sockets), CONNECT_BATCH):
            batch = self.sockets[start : start + CONNECT_BATCH]
            await asyncio.gather(*(sock.close() for sock in batch), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)


async def publish_round(
    subs: Subscribers, client: httpx.AsyncClient, url: str, seq: int, wait: float
) -> tuple[Round, float, float]:
    """Publish message ``seq``; the round, its start and the publish request's return time."""
    current = Round(seq, [None] * len(subs.sockets), len(subs.sockets))
    subs.current = current
    body = json.dumps({"seq": seq, "text": TEXT}).encode()
    started = time.perf_counter()
    answer = await client.post(url, content=body, headers={"content-type": "application/json"})
    returned = time.perf_counter()
    if answer.status_code >= 300:
        raise RuntimeError(f"POST {url} answered {answer.status_code}: {answer.text[:200]}")
    try:
        await asyncio.wait_for(current.done.wait(), wait)
    except TimeoutError:
        pass
    return current, started, returned


async def run(config: dict[str, Any]) -> dict[str, Any]:
    subscribers: int = config["subscribers"]
    timeout: float = config.get("round_timeout", 10.0)
    pause: float = config.get("pause", 0.05)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < subscribers + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, subscribers + 1024), hard))
    subs = Subscribers()
    result: dict[str, Any] = {"subscribers": subscribers, "rounds": [], "deliveries_ms": []}
    opened = time.perf_counter()
    await subs.open(config["ws_urls"], subscribers, timeout)
    result["connect_s"] = round(time.perf_counter() - opened, 3)
    seq = 0
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            settled = False
            for _ in range(MAX_SETTLE_ROUNDS):
                seq += 1
                current, _, _ = await publish_round(subs, client, config["publish_url"], seq, 2.0)
                if current.missing == 0:
                    settled = True
                    break
            if not settled:
                raise RuntimeError(
                    f"after {MAX_SETTLE_ROUNDS} publishes, {current.missing} of {subscribers} "
                    "subscribers still had not received one"
                )
            result["settle_rounds"] = seq
            for number in range(config["warmup"] + config["repeats"]):
                await asyncio.sleep(pause)
                seq += 1
                current, started, returned = await publish_round(
                    subs, client, config["publish_url"], seq, timeout
                )
                if number < config["warmup"]:
                    continue
                arrived = [t for t in current.arrivals if t is not None]
                result["rounds"].append(
                    {
                        "fanout_ms": round((max(arrived) - started) * 1000, 3)
                        if current.missing == 0
                        else None,
                        "publish_ms": round((returned - started) * 1000, 3),
                        "missing": current.missing,
                    }
                )
                result["deliveries_ms"] += [round((t - started) * 1000, 3) for t in arrived]
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        subs.current = None
        await subs.close()
    result["socket_errors"] = subs.errors[:10]
    result["sample"], result["sample_seq"] = subs.sample, seq
    return result


def main() -> int:
    config = json.loads(sys.argv[1])
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    try:
        result = run_loop(run(config))
    except Exception as exc:  # could not even connect: a result that says why
        result = {"error": f"{type(exc).__name__}: {exc}", "rounds": [], "deliveries_ms": []}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
