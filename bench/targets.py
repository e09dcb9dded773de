"""Issue 18's performance targets, judged from a run's summary rows.

Each target compares one framework under one server with a reference (a
framework under a server, or the fastest peer under a server) on a set of
tests; a row per test says whether the measured ratio reaches the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.suite import FRAMEWORKS_BY_NAME

#: The reference under a server of the same binary: the ASGI twin of granian's RSGI interface.
ASGI_TWIN = {"granian-rsgi": "granian"}
#: Where the bare RSGI callable runs, for rows under either granian interface.
RSGI_TWIN = {"granian": "granian-rsgi", "granian-rsgi": "granian-rsgi"}
#: The reference "the fastest peer" stands for.
BEST_PEER = "best peer"

FAST_TESTS = ("plaintext", "json", "users")
DB_TESTS = ("db", "queries", "fortunes", "updates")

Index = dict[tuple[str, str, str], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    title: str
    framework: str
    server: str
    reference: str  # a framework name, or BEST_PEER
    reference_server: str
    tests: tuple[str, ...]
    minimum: float


def _peer_targets() -> tuple[Target, ...]:
    pairs = (("uvicorn", "uvicorn"), ("granian", "granian"), ("granian-rsgi", "granian"))
    blacksheep = tuple(
        Target(
            f"{server}: carboy ≥ 1.10x BlackSheep ({reference})",
            "carboy",
            server,
            "blacksheep",
            reference,
            FAST_TESTS,
            1.10,
        )
        for server, reference in pairs
    )
    database = tuple(
        Target(
            f"{server}: carboy ≥ 1.15x the fastest peer ({reference})",
            "carboy",
            server,
            BEST_PEER,
            reference,
            DB_TESTS,
            1.15,
        )
        for server, reference in pairs
    )
    return blacksheep + database


TARGETS: tuple[Target, ...] = (
    Target(
        "granian: carboy RSGI ≥ 1.05x bare ASGI",
        "carboy",
        "granian-rsgi",
        "bare",
        "granian",
        FAST_TESTS,
        1.05,
    ),
    Target(
        "granian: carboy RSGI ≥ 0.95x bare RSGI",
        "carboy",
        "granian-rsgi",
        "bare_rsgi",
        "granian-rsgi",
        FAST_TESTS,
        0.95,
    ),
    Target(
        "granian: carboy ASGI ≥ 0.95x bare ASGI",
        "carboy",
        "granian",
        "bare",
        "granian",
        FAST_TESTS,
        0.95,
    ),
    Target(
        "uvicorn: carboy ≥ 0.90x bare ASGI",
        "carboy",
        "uvicorn",
        "bare",
        "uvicorn",
        ("plaintext", "json"),
        0.90,
    ),
    *_peer_targets(),
)


def best_peer(index: Index, test: str, server: str) -> dict[str, Any] | None:
    """The fastest peer's row for ``test`` under ``server`` (None if no peer passed)."""
    rows = [
        row
        for (row_test, framework, row_server), row in index.items()
        if row_test == test
        and row_server == server
        and FRAMEWORKS_BY_NAME.get(framework) is not None
        and FRAMEWORKS_BY_NAME[framework].peer
        and row.get("rps")
    ]
    return max(rows, key=lambda row: row["rps"], default=None)


def evaluate(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One verdict per (target, test): ``met``, ``not met`` or ``not measured``."""
    index: Index = {(r["test"], r["framework"], r["server"]): r for r in summary}
    verdicts = []
    for target in TARGETS:
        for test in target.tests:
            row = index.get((test, target.framework, target.server))
            if target.reference == BEST_PEER:
                ref = best_peer(index, test, target.reference_server)
            else:
                ref = index.get((test, target.reference, target.reference_server))
            verdict: dict[str, Any] = {
                "target": target.title,
                "test": test,
                "minimum": target.minimum,
                "rps": row.get("rps") if row else None,
                "reference": ref["framework"] if ref else target.reference,
                "reference_rps": ref.get("rps") if ref else None,
                "ratio": None,
                "verdict": "not measured",
            }
            if verdict["rps"] and verdict["reference_rps"]:
                ratio = verdict["rps"] / verdict["reference_rps"]
                verdict["ratio"] = ratio
                verdict["verdict"] = "met" if ratio >= target.minimum else "not met"
            verdicts.append(verdict)
    return verdicts


def render(summary: list[dict[str, Any]]) -> list[str]:
    """The markdown section: the targets table."""
    out = [
        "## Issue 18 targets",
        "",
        "Each row divides carboy's median req/s by its reference's, measured in this run; "
        "*met* when the ratio reaches the target. Under granian, *RSGI* is carboy served "
        "through `app.__rsgi__` (`granian --interface rsgi`), *ASGI* the same app under "
        "`--interface asgi`; a reference in parentheses is the server it ran under. "
        "*The fastest peer* is the fastest of the peers on that test under that server.",
        "",
        "| target | test | carboy req/s | reference | reference req/s | ratio | verdict |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for v in evaluate(summary):
        framework = FRAMEWORKS_BY_NAME.get(v["reference"])
        label = framework.label if framework else v["reference"]
        rps = "—" if v["rps"] is None else f"{v['rps']:,.0f}"
        ref_rps = "—" if v["reference_rps"] is None else f"{v['reference_rps']:,.0f}"
        ratio = "—" if v["ratio"] is None else f"{v['ratio']:.2f}x"
        mark = {"met": "**met**", "not met": "not met"}.get(v["verdict"], v["verdict"])
        out.append(
            f"| {v['target']} | {v['test']} | {rps} | {label} | {ref_rps} | {ratio} | {mark} |"
        )
    out.append("")
    return out
