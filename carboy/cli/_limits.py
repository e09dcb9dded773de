"""The connection limits ``carboy run`` gives the server it starts.

Neither uvicorn nor granian bounds everything by default: uvicorn with
httptools takes a 64 MiB header and 500,000 headers, and neither of its
HTTP implementations closes a connection that sends its head one byte at a
time. carboy passes production-safe values to both, as ``carboy run`` flags.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

_F = TypeVar("_F", bound=Callable[..., Any])

#: hyper (under granian) refuses a read buffer under 8 KiB.
_MIN_HEADER_SIZE = 8192
#: hyper's own limit on the number of headers; granian does not expose it.
GRANIAN_MAX_HEADERS = 100


@dataclass(frozen=True)
class ServerLimits:
    """What one connection may send and how long it may take, for either server."""

    max_header_size: int = 16 * 1024
    max_headers: int = GRANIAN_MAX_HEADERS
    header_timeout: float = 10.0
    keep_alive_timeout: int = 5
    limit_concurrency: int = 1000

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn.run() options: h11 (httptools has no header-size limit), wrapped."""
        from carboy.cli._uvicorn import LimitedH11Protocol

        return {
            # A partial, not a subclass made here: worker processes unpickle it.
            "http": functools.partial(
                LimitedH11Protocol,
                header_timeout=self.header_timeout,
                max_headers=self.max_headers,
                max_header_size=self.max_header_size,
            ),
            "h11_max_incomplete_event_size": self.max_header_size,
            "timeout_keep_alive": self.keep_alive_timeout,
            "limit_concurrency": self.limit_concurrency,
        }

    def granian_options(self) -> dict[str, Any]:
        """Granian() options: hyper's read buffer and header timeout, and backpressure."""
        from granian.http import HTTP1Settings

        return {
            "http1_settings": HTTP1Settings(
                header_read_timeout=int(self.header_timeout * 1000),
                max_buffer_size=self.max_header_size,
            ),
            "backpressure": self.limit_concurrency,
        }

    def check_granian(self) -> None:
        """Refuse the limits granian cannot take, rather than ignore them."""
        default = ServerLimits()
        if self.max_headers != default.max_headers:
            raise click.UsageError(
                f"--max-headers is fixed at {GRANIAN_MAX_HEADERS} under granian "
                "(hyper's limit); drop it or use --server uvicorn."
            )
        if self.keep_alive_timeout != default.keep_alive_timeout:
            raise click.UsageError(
                "--keep-alive-timeout is uvicorn's; under granian --header-timeout also "
                "bounds an idle keep-alive connection."
            )


def limit_options(command: _F) -> _F:
    """The ``carboy run`` flags behind :class:`ServerLimits`, with its defaults."""
    d = ServerLimits()
    options = [
        click.option(
            "--max-header-size",
            default=d.max_header_size,
            show_default=True,
            type=click.IntRange(min=_MIN_HEADER_SIZE),
            help="Largest request head (request line and headers) in bytes; bigger gets 431.",
        ),
        click.option(
            "--max-headers",
            default=d.max_headers,
            show_default=True,
            type=click.IntRange(min=1),
            help="Most headers in one request; more gets 431 (fixed at 100 under granian).",
        ),
        click.option(
            "--header-timeout",
            default=d.header_timeout,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Seconds a client has to send a request's head; slower connections are closed.",
        ),
        click.option(
            "--keep-alive-timeout",
            default=d.keep_alive_timeout,
            show_default=True,
            type=click.IntRange(min=1),
            help="Seconds an idle keep-alive connection stays open (uvicorn).",
        ),
        click.option(
            "--limit-concurrency",
            default=d.limit_concurrency,
            show_default=True,
            type=click.IntRange(min=1),
            help="Most connections/requests at once per worker; past it uvicorn answers 503, "
            "granian waits.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
