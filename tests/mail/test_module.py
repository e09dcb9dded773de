"""The Mail module: the backend it picks, injection, the sender, its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from carboy import Carboy, Settings
from carboy.exceptions import ConfigurationError
from carboy.mail import (
    ConsoleBackend,
    EmailMessage,
    Mail,
    MailSettings,
    MemoryBackend,
    SMTPBackend,
)
from carboy.testing import TestClient
from tests.mail.conftest import Server

SECRET = "mail-tests-secret-key-" * 3


def _app(debug: bool = True) -> Carboy:
    return Carboy(settings=Settings(debug=debug, secret_key=SECRET))


def _msg(**fields: object) -> EmailMessage:
    return EmailMessage("Hi", "Hello", **{"to": ["ann@example.com"], **fields})  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_mail_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CARBOY_MAIL_URL", raising=False)
    monkeypatch.delenv("CARBOY_MAIL_DEFAULT_FROM", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_handlers_inject_mail_and_send_sync_and_async() -> None:
    backend = MemoryBackend()
    app = _app()
    app.install(Mail(backend, default_from="shop@example.com"))

    @app.post("/async")
    async def send_async(mail: Mail) -> dict[str, int]:
        return {"sent": await mail.asend(_msg(), _msg(to=["bob@example.com"]))}

    @app.post("/sync")
    def send_sync(mail: Mail) -> dict[str, int]:
        return {"sent": mail.send(_msg(from_email="me@example.com"))}

    with TestClient(app) as client:
        assert client.post("/async").json() == {"sent": 2}
        assert client.post("/sync").json() == {"sent": 1}
    assert [(m.to, m.from_email) for m in backend.outbox] == [
        (("ann@example.com",), "shop@example.com"),
        (("bob@example.com",), "shop@example.com"),
        (("ann@example.com",), "me@example.com"),
    ]


def test_debug_defaults_to_the_console(capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(debug=True)
    mail = Mail()
    app.install(mail)
    app.build()
    assert isinstance(mail.backend, ConsoleBackend)
    mail.send(_msg())
    assert "Subject: Hi" in capsys.readouterr().out
    assert app.run_checks() == []


def test_production_defaults_to_smtp_on_localhost_and_the_deploy_check_warns() -> None:
    app = _app(debug=False)
    mail = Mail()
    app.install(mail)
    app.build()  # a warning, deploy-only: the app starts
    assert isinstance(mail.backend, SMTPBackend)
    assert (mail.backend.host, mail.backend.port) == ("localhost", 25)
    [warning] = app.run_checks()
    assert warning.id == "mail.W001" and warning.deploy and not warning.is_error


def test_the_url_setting_picks_the_backend(
    monkeypatch: pytest.MonkeyPatch, smtp_server: Server
) -> None:
    monkeypatch.setenv("CARBOY_MAIL_URL", f"smtp://127.0.0.1:{smtp_server.port}?timeout=3")
    monkeypatch.setenv("CARBOY_MAIL_DEFAULT_FROM", "Shop <shop@example.com>")
    app = _app(debug=False)
    mail = Mail()
    app.install(mail)
    app.build()
    assert isinstance(mail.backend, SMTPBackend) and mail.backend.timeout == 3
    assert mail.default_from == "Shop <shop@example.com>"
    assert mail.send(_msg()) == 1
    assert smtp_server.recorder.messages[0].mail_from == "shop@example.com"
    assert app.run_checks() == []  # configured: no warning


def test_the_url_setting_from_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CARBOY_MAIL_URL=memory://\n", encoding="utf-8")
    app = _app(debug=True)
    mail = Mail()
    app.install(mail)
    app.build()
    assert isinstance(mail.backend, MemoryBackend)


def test_console_or_memory_in_production_warns_at_deploy() -> None:
    app = _app(debug=False)
    app.install(Mail(settings=MailSettings(url="console://")))
    app.build()
    [warning] = app.run_checks()
    assert warning.id == "mail.W002" and warning.deploy
    assert "ConsoleBackend (from CARBOY_MAIL_URL)" in warning.message
    app = _app(debug=False)
    app.install(Mail(MemoryBackend()))
    app.build()
    assert [m.id for m in app.run_checks()] == ["mail.W002"]


def test_an_explicit_backend_wins_over_the_setting() -> None:
    backend = MemoryBackend()
    mail = Mail(backend, settings=MailSettings(url="console://"))
    app = _app()
    app.install(mail)
    app.build()
    assert mail.backend is backend


def test_a_bad_url_stops_the_build_without_its_password() -> None:
    app = _app()
    app.install(Mail(settings=MailSettings(url="smtp://app:hunter2@relay?tls=1")))
    with pytest.raises(ConfigurationError, match=r"CARBOY_MAIL_URL: .*unknown option") as info:
        app.build()
    assert "hunter2" not in str(info.value)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="takes a mail backend"):
        Mail(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not one e-mail address"):
        Mail(MemoryBackend(), default_from="nobody")


def test_no_backend_before_the_build_says_when_it_comes() -> None:
    with pytest.raises(ConfigurationError, match="picks one when the app builds"):
        Mail().send(_msg())
    assert Mail().default_from == "webmaster@localhost"
    assert "MemoryBackend" in repr(Mail(MemoryBackend()))
