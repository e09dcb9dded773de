"""The backends: console, memory and SMTP (against a real aiosmtpd server)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from carboy.mail import (
    ConsoleBackend,
    EmailMessage,
    MailBackend,
    MailError,
    MemoryBackend,
    SMTPBackend,
    backend_from_url,
)
from tests.mail.conftest import PASSWORD, USER, Server, free_port


def _msg(**fields: object) -> EmailMessage:
    values: dict[str, object] = {"to": ["ann@example.com"]}
    values.update(fields)
    return EmailMessage("Reset your password", "Open http://x.test/reset?t=abc", **values)  # type: ignore[arg-type]


def test_every_backend_is_a_mail_backend() -> None:
    for backend in (ConsoleBackend(), MemoryBackend(), SMTPBackend()):
        assert isinstance(backend, MailBackend)


# -- console -------------------------------------------------------------------
def test_console_prints_headers_and_readable_bodies() -> None:
    out = io.StringIO()
    msg = _msg(bcc=["hidden@example.com"], html="<p>Hï</p>")
    assert ConsoleBackend(out).send([msg], "shop@example.com") == 1
    text = out.getvalue()
    assert "Subject: Reset your password" in text
    assert "From: shop@example.com" in text
    assert "Bcc: hidden@example.com" in text  # shown, so a developer sees who gets it
    # The link is printed as is (not quoted-printable), so it can be clicked.
    assert "http://x.test/reset?t=abc" in text
    assert "[text/html]\n<p>Hï</p>" in text
    assert text.rstrip().endswith("-" * 79)


def test_console_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert asyncio.run(ConsoleBackend().asend([_msg(), _msg()])) == 2
    assert capsys.readouterr().out.count("Subject: Reset your password") == 2


def test_console_shows_attachments_by_name_and_size() -> None:
    from carboy.mail import Attachment

    out = io.StringIO()
    ConsoleBackend(out).send([_msg(attachments=[Attachment("a.pdf", b"%PDF", "application/pdf")])])
    assert "[application/pdf: a.pdf, 4 bytes]" in out.getvalue()


# -- memory --------------------------------------------------------------------
def test_memory_keeps_messages_with_the_sender_filled_in() -> None:
    backend = MemoryBackend()
    assert backend.send([_msg(), _msg(from_email="me@example.com")], "shop@example.com") == 2
    assert [m.from_email for m in backend.outbox] == ["shop@example.com", "me@example.com"]
    assert asyncio.run(backend.asend([_msg()])) == 1
    assert len(backend.outbox) == 3
    backend.clear()
    assert backend.outbox == []


def test_memory_refuses_what_smtp_would_refuse() -> None:
    backend = MemoryBackend()
    with pytest.raises(ValueError, match="not one e-mail address"):
        backend.send([_msg()], "not an address")
    assert backend.outbox == []


# -- SMTP ----------------------------------------------------------------------
def _parsed(server: Server, index: int = 0) -> email.message.EmailMessage:
    data = server.recorder.messages[index].data
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def test_smtp_delivers_to_every_recipient_but_shows_no_bcc(smtp_server: Server) -> None:
    backend = SMTPBackend("127.0.0.1", smtp_server.port)
    msg = _msg(cc=["carl@example.com"], bcc=["hidden@example.com"])
    assert backend.send([msg, _msg(to=["bob@example.com"])], "shop@example.com") == 2
    first, second = smtp_server.recorder.messages
    assert first.mail_from == "shop@example.com"
    assert first.rcpt_tos == ["ann@example.com", "carl@example.com", "hidden@example.com"]
    assert second.rcpt_tos == ["bob@example.com"]
    parsed = _parsed(smtp_server)
    assert parsed["Subject"] == "Reset your password"
    assert parsed["Bcc"] is None
    assert b"hidden@example.com" not in first.data
    assert not first.tls and not first.authenticated


def test_smtp_asend_does_not_block_the_loop(smtp_server: Server) -> None:
    backend = SMTPBackend("127.0.0.1", smtp_server.port)

    async def main() -> tuple[int, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        sent = await backend.asend([_msg()])
        ticker.cancel()
        return sent, ticks

    sent, ticks = asyncio.run(main())
    assert sent == 1 and ticks > 1
    assert len(smtp_server.recorder.messages) == 1


def test_smtp_sends_nothing_for_no_messages() -> None:
    # No server on this port: an empty batch does not even connect.
    assert SMTPBackend("127.0.0.1", free_port()).send([]) == 0


def test_smtp_local_hostname_is_the_ehlo_name(smtp_server: Server) -> None:
    SMTPBackend("127.0.0.1", smtp_server.port, local_hostname="app.example.com").send([_msg()])
    assert smtp_server.recorder.messages[0].helo == "app.example.com"


def test_starttls_and_login(starttls_server: Server, client_context: ssl.SSLContext) -> None:
    backend = SMTPBackend(
        "localhost",
        starttls_server.port,
        username=USER,
        password=PASSWORD,
        starttls=True,
        ssl_context=client_context,
    )
    assert backend.send([_msg()]) == 1
    received = starttls_server.recorder.messages[0]
    assert received.tls and received.authenticated


def test_starttls_checks_the_certificate_by_default(starttls_server: Server) -> None:
    # The test certificate is self-signed: the system's CAs do not trust it.
    backend = SMTPBackend(
        "localhost", starttls_server.port, username=USER, password=PASSWORD, starttls=True
    )
    port = starttls_server.port
    expected = rf"STARTTLS with SMTP server localhost:{port} failed.*CERT"
    with pytest.raises(MailError, match=expected):
        backend.send([_msg()])
    assert starttls_server.recorder.messages == []


def test_without_starttls_a_server_that_requires_it_refuses(starttls_server: Server) -> None:
    backend = SMTPBackend("localhost", starttls_server.port, username=USER, password=PASSWORD)
    with pytest.raises(MailError, match="offer AUTH only after TLS"):
        backend.send([_msg()])
    assert starttls_server.recorder.messages == []


def test_starttls_against_a_server_without_it_fails(smtp_server: Server) -> None:
    backend = SMTPBackend("127.0.0.1", smtp_server.port, starttls=True)
    with pytest.raises(MailError, match=r"STARTTLS with .* failed: SMTPNotSupportedError"):
        backend.send([_msg()])


def test_a_wrong_password_is_an_error(
    starttls_server: Server, client_context: ssl.SSLContext
) -> None:
    backend = SMTPBackend(
        "localhost",
        starttls_server.port,
        username=USER,
        password="wrong",
        starttls=True,
        ssl_context=client_context,
    )
    with pytest.raises(MailError, match="SMTPAuthenticationError"):
        backend.send([_msg()])
    assert starttls_server.recorder.messages == []


# aiosmtpd cannot tell that an SMTPS connection is TLS, so it warns about AUTH without TLS.
SMTPS_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


@pytest.mark.filterwarnings(SMTPS_WARNING)
def test_smtps_and_login(smtps_server: Server, client_context: ssl.SSLContext) -> None:
    backend = SMTPBackend(
        "localhost",
        smtps_server.port,
        username=USER,
        password=PASSWORD,
        ssl=True,
        ssl_context=client_context,
    )
    assert backend.send([_msg()]) == 1
    # (aiosmtpd does not mark implicit TLS on the session; the next test shows it is TLS.)
    assert smtps_server.recorder.messages[0].authenticated


@pytest.mark.filterwarnings(SMTPS_WARNING)
def test_plain_smtp_to_an_smtps_server_fails(smtps_server: Server) -> None:
    backend = SMTPBackend("localhost", smtps_server.port, timeout=2)
    with pytest.raises(MailError):
        backend.send([_msg()])


def test_a_refused_recipient_is_an_error(smtp_server: Server) -> None:
    smtp_server.recorder.refuse.add("ghost@example.com")
    backend = SMTPBackend("127.0.0.1", smtp_server.port)
    with pytest.raises(MailError, match=r"ghost@example\.com"):
        backend.send([_msg(to=["ghost@example.com"])])
    # Some accepted, some refused: still an error, naming the refused one.
    with pytest.raises(MailError, match=r"refused recipient\(s\) \['ghost@example.com'\]"):
        backend.send([_msg(to=["ann@example.com", "ghost@example.com"])])


def test_an_unreachable_server_is_an_error() -> None:
    port = free_port()
    with pytest.raises(MailError, match=f"Connecting to SMTP server 127.0.0.1:{port} failed"):
        SMTPBackend("127.0.0.1", port).send([_msg()])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_timeout_bounds_a_server_that_never_answers(silent_server: int) -> None:
    started = time.monotonic()
    with pytest.raises(MailError, match="timed out"):
        SMTPBackend("127.0.0.1", silent_server, timeout=0.3).send([_msg()])
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"starttls": True, "ssl": True}, "exclude each other"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"username": "app"}, "both username and password"),
    ],
)
def test_bad_smtp_options(options: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SMTPBackend(**options)  # type: ignore[arg-type]


def test_default_ports_follow_the_mode() -> None:
    assert SMTPBackend().port == 25
    assert SMTPBackend(starttls=True).port == 587
    assert SMTPBackend(ssl=True).port == 465


# -- URLs ------------------------------------------------------------------------
def test_backend_from_url() -> None:
    assert isinstance(backend_from_url("console://"), ConsoleBackend)
    assert isinstance(backend_from_url("memory://"), MemoryBackend)
    smtp = backend_from_url("smtp+starttls://app:p%40ss%3Aw@mail.example.com?timeout=3")
    assert isinstance(smtp, SMTPBackend)
    assert (smtp.host, smtp.port, smtp.username, smtp.password) == (
        "mail.example.com",
        587,
        "app",
        "p@ss:w",
    )
    assert smtp.starttls and not smtp.ssl and smtp.timeout == 3
    smtps = backend_from_url("smtps://mail.example.com:2465")
    assert isinstance(smtps, SMTPBackend) and smtps.ssl and smtps.port == 2465
    plain = backend_from_url("smtp://relay")
    assert isinstance(plain, SMTPBackend) and (plain.host, plain.port) == ("relay", 25)
    assert "secret" not in repr(backend_from_url("smtp://app:secret@relay"))


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://app:hunter2@mail.example.com", "scheme must be console, memory, smtp"),
        ("smtp://mail.example.com?tls=1", r"unknown option\(s\) \['tls'\]"),
        ("smtp://mail.example.com?timeout=soon", "could not convert"),
        ("smtp://mail.example.com:99999", "Port out of range"),
        ("smtp://app:hunter2@mail.example.com:99999", "app:\\*\\*\\*@"),
    ],
)
def test_bad_urls_say_why_without_the_password(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        backend_from_url(url)
    assert "hunter2" not in str(info.value)


def test_smtp_from_url_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="smtp, smtp\\+starttls or smtps"):
        SMTPBackend.from_url("console://")
