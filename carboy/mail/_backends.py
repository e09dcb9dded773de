"""Where e-mail goes: the backend protocol and the console, memory and SMTP backends."""

from __future__ import annotations

import smtplib
import socket
import ssl as _ssl
import sys
import threading
from collections.abc import Sequence
from typing import IO, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit

from carboy.concurrency import run_sync
from carboy.mail._message import EmailMessage

DEFAULT_FROM = "webmaster@localhost"


class MailError(Exception):
    """Sending failed: the server refused, could not be reached, or timed out.

    The message names the server; the original error is the ``__cause__``.
    """


@runtime_checkable
class MailBackend(Protocol):
    """What sends messages: ``send`` for sync code, ``asend`` for async code.

    Both return how many messages were sent and raise :class:`MailError` when
    sending fails (never silently). ``default_from`` is the sender of a message
    that names none.

    Example:
        >>> class Discard:
        ...     def send(self, messages, default_from=DEFAULT_FROM) -> int:
        ...         return len(messages)
        ...     async def asend(self, messages, default_from=DEFAULT_FROM) -> int:
        ...         return len(messages)
        >>> isinstance(Discard(), MailBackend)
        True
    """

    def send(self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM) -> int:
        """Send ``messages``; the number sent."""
        ...

    async def asend(
        self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM
    ) -> int:
        """Send ``messages`` without blocking the event loop; the number sent."""
        ...


class ConsoleBackend:
    """Prints each message, as it would go over SMTP, to standard output.

    The default in debug mode: a password-reset link shows in the terminal of
    ``carboy run``. Nothing is delivered.

    Args:
        stream: Where to write; standard output (looked up at each send) if None.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> ConsoleBackend(out).send([EmailMessage("Hi", "Hello", to=["ann@example.com"])])
        1
        >>> "Subject: Hi" in out.getvalue()
        True
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM) -> int:
        """Write ``messages`` to the stream; the number written."""
        texts = [_printable(m, default_from) for m in messages]
        stream = self.stream if self.stream is not None else sys.stdout
        with self._lock:  # one message's lines never interleave with another's
            for text in texts:
                stream.write(text)
                stream.write("\n" + "-" * 79 + "\n")
            stream.flush()
        return len(texts)

    async def asend(
        self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM
    ) -> int:
        """:meth:`send`: writing a few lines to a terminal does not need a thread."""
        return self.send(messages, default_from)


def _printable(message: EmailMessage, default_from: str) -> str:
    mime = message.to_mime(default_from)
    if message.bcc:
        mime["Bcc"] = ", ".join(message.bcc)  # shown here, never sent in headers
    # Text parts are printed as text (not base64/quoted-printable): links must be clickable.
    head = "".join(f"{key}: {value}\n" for key, value in mime.items())
    parts = [head]
    for part in mime.walk():
        if part.is_multipart():
            continue
        if part.get_content_maintype() == "text" and not part.get_filename():
            parts.append(f"\n[{part.get_content_type()}]\n{part.get_content()}")
        else:
            size = len(part.get_payload(decode=True) or b"")
            parts.append(f"\n[{part.get_content_type()}: {part.get_filename()}, {size} bytes]\n")
    return "".join(parts)


class MemoryBackend:
    """Keeps sent messages in :attr:`outbox`, for tests.

    Example:
        >>> backend = MemoryBackend()
        >>> backend.send([EmailMessage("Hi", "Hello", to=["ann@example.com"])])
        1
        >>> backend.outbox[0].subject
        'Hi'
    """

    def __init__(self) -> None:
        #: Every message sent, oldest first, with the sender filled in.
        self.outbox: list[EmailMessage] = []
        self._lock = threading.Lock()

    def send(self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM) -> int:
        """Append ``messages`` to the outbox; the number appended."""
        filled = [_with_sender(m, default_from) for m in messages]
        for message in filled:
            message.to_mime(default_from)  # what SMTP would refuse to build fails here too
        with self._lock:
            self.outbox.extend(filled)
        return len(filled)

    async def asend(
        self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM
    ) -> int:
        """:meth:`send`, from async code."""
        return self.send(messages, default_from)

    def clear(self) -> None:
        """Empty the outbox."""
        with self._lock:
            self.outbox.clear()


def _with_sender(message: EmailMessage, default_from: str) -> EmailMessage:
    if message.from_email is not None:
        return message
    return EmailMessage(
        message.subject,
        message.body,
        to=message.to,
        from_email=default_from,
        cc=message.cc,
        bcc=message.bcc,
        reply_to=message.reply_to,
        html=message.html,
        headers=message.headers,
        attachments=message.attachments,
    )


class SMTPBackend:
    """Sends through an SMTP server (``smtplib``), one connection per batch.

    Args:
        host: The server.
        port: Its port: 25 (relay), 587 (submission with ``starttls``), 465 (``ssl``).
        username: Log in with this user (after TLS, when TLS is on).
        password: And this password.
        starttls: Upgrade the connection with STARTTLS before anything else; the
            server must offer it, or sending fails.
        ssl: Speak TLS from the first byte (SMTPS, port 465). Not with ``starttls``.
        timeout: Seconds any one network operation may take (connect, each reply).
        ssl_context: The TLS settings; by default the system's trusted CAs and
            host name checking (``ssl.create_default_context()``).
        local_hostname: The name sent in EHLO; the machine's FQDN if None.

    Async code (``asend``) runs the same client in carboy's thread pool.

    Example:
        >>> backend = SMTPBackend("smtp.example.com", 587, username="app",
        ...                       password="secret", starttls=True)
        >>> backend.port
        587
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 10.0,
        ssl_context: _ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if starttls and ssl:
            raise ValueError(
                "SMTPBackend: starttls=True and ssl=True exclude each other; starttls "
                "upgrades a plain connection (port 587), ssl is TLS from the start (port 465)"
            )
        if timeout <= 0:
            raise ValueError(f"SMTPBackend: timeout must be positive, got {timeout!r}")
        if (username is None) != (password is None):
            raise ValueError("SMTPBackend: give both username and password, or neither")
        self.host = host
        self.port = port if port is not None else (465 if ssl else 587 if starttls else 25)
        self.username = username
        self.password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname

    @classmethod
    def from_url(cls, url: str) -> SMTPBackend:
        """A backend from a URL: ``smtp://``, ``smtp+starttls://`` or ``smtps://``.

        User and password (percent-encoded) and ``?timeout=`` are read from it.

        Example:
            >>> SMTPBackend.from_url("smtp+starttls://app:s%40cret@mail.example.com").password
            's@cret'
        """
        parts = urlsplit(url)
        modes = {"smtp": (False, False), "smtp+starttls": (True, False), "smtps": (False, True)}
        if parts.scheme not in modes:
            raise ValueError(
                f"Mail URL {_redact(url)!r}: the scheme must be smtp, smtp+starttls or smtps"
            )
        starttls, use_ssl = modes[parts.scheme]
        options = dict(parse_qsl(parts.query))
        unknown = sorted(set(options) - {"timeout"})
        if unknown:
            raise ValueError(f"Mail URL {_redact(url)!r}: unknown option(s) {unknown}")
        try:
            timeout = float(options.get("timeout", 10.0))
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"Mail URL {_redact(url)!r}: {exc}") from None
        return cls(
            parts.hostname or "localhost",
            port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            starttls=starttls,
            ssl=use_ssl,
            timeout=timeout,
        )

    def send(self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM) -> int:
        """Open a connection, send ``messages`` over it, close it; the number sent.

        Raises:
            MailError: The server could not be reached, refused TLS, the login or a
                recipient, or did not answer within ``timeout``.
        """
        if not messages:
            return 0
        mimes = [(m.to_mime(default_from), m.recipients()) for m in messages]
        where = f"SMTP server {self.host}:{self.port}"
        step = "connecting to"
        try:
            with self._connect() as client:
                if self.starttls:
                    step = "STARTTLS with"
                    client.starttls(context=self._context())
                    client.ehlo()
                if self.username is not None and self.password is not None:
                    step = "logging in to"
                    client.login(self.username, self.password)
                step = "sending through"
                for mime, recipients in mimes:
                    refused = client.send_message(mime, to_addrs=recipients)
                    if refused:
                        raise MailError(f"{where} refused recipient(s) {sorted(refused)}")
        except MailError:
            raise
        except (smtplib.SMTPException, OSError, _ssl.SSLError) as exc:
            hint = ""
            if isinstance(exc, smtplib.SMTPNotSupportedError) and step == "logging in to":
                hint = " (a server may offer AUTH only after TLS: starttls=True or ssl=True)"
            kind = "timed out" if isinstance(exc, socket.timeout) else "failed"
            raise MailError(f"{step[0].upper()}{step[1:]} {where} {kind}: {exc!r}{hint}") from exc
        return len(mimes)

    async def asend(
        self, messages: Sequence[EmailMessage], default_from: str = DEFAULT_FROM
    ) -> int:
        """:meth:`send` in carboy's thread pool (smtplib blocks)."""
        return await run_sync(self.send, messages, default_from)

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )

    def _context(self) -> _ssl.SSLContext:
        return self.ssl_context if self.ssl_context is not None else _ssl.create_default_context()

    def __repr__(self) -> str:
        mode = " starttls" if self.starttls else " ssl" if self.ssl else ""
        user = f" user={self.username!r}" if self.username else ""
        return f"<SMTPBackend {self.host}:{self.port}{mode}{user}>"


def backend_from_url(url: str) -> MailBackend:
    """The backend a URL names: ``console://``, ``memory://`` or an SMTP URL.

    Example:
        >>> backend_from_url("console://")  # doctest: +ELLIPSIS
        <carboy.mail._backends.ConsoleBackend object at ...>
    """
    scheme = urlsplit(url).scheme
    if scheme == "console":
        return ConsoleBackend()
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("smtp", "smtp+starttls", "smtps"):
        return SMTPBackend.from_url(url)
    raise ValueError(
        f"Mail URL {_redact(url)!r}: the scheme must be console, memory, smtp, "
        "smtp+starttls or smtps"
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
