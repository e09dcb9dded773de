"""The mail battery as one module: ``app.install(Mail(...))``; handlers take ``mail: Mail``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from carboy.exceptions import ConfigurationError
from carboy.mail._backends import (
    DEFAULT_FROM,
    ConsoleBackend,
    MailBackend,
    MemoryBackend,
    SMTPBackend,
    backend_from_url,
)
from carboy.mail._message import EmailMessage
from carboy.modules import CheckLevel, CheckMessage, Module

if TYPE_CHECKING:
    from carboy.app import Carboy


class MailSettings(BaseSettings):
    """Mail configuration from the environment or ``.env`` (``CARBOY_MAIL_URL``...).

    Example:
        >>> MailSettings(url="smtp+starttls://app:secret@mail.example.com:587").default_from
        'webmaster@localhost'
    """

    model_config = SettingsConfigDict(
        env_prefix="CARBOY_MAIL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    url: SecretStr | None = Field(
        default=None,
        description="Where mail goes: 'smtp://host:25', 'smtp+starttls://user:pass@host:587', "
        "'smtps://user:pass@host:465' (add '?timeout=5'), 'console://' or 'memory://'. "
        "Unset: the console in debug mode, SMTP on localhost:25 otherwise.",
    )
    default_from: str = Field(
        default=DEFAULT_FROM, description="Sender of messages that name none."
    )


class Mail(Module):
    """Sends e-mail through one backend; inject it into handlers as ``mail: Mail``.

    Args:
        backend: Where mail goes. None: the ``CARBOY_MAIL_URL`` setting if set, else
            :class:`ConsoleBackend` in debug mode and :class:`SMTPBackend` on
            ``localhost:25`` in production (``carboy check --deploy`` warns).
        default_from: The sender of messages without ``from_email``; defaults to the
            ``CARBOY_MAIL_DEFAULT_FROM`` setting (``webmaster@localhost``).
        settings: Read these instead of the environment.

    Example:
        >>> from carboy import Carboy
        >>> from carboy.mail import EmailMessage, Mail, MemoryBackend
        >>> app = Carboy()
        >>> app.install(Mail(MemoryBackend(), default_from="shop@example.com"))
        >>> @app.post("/welcome")
        ... async def welcome(mail: Mail) -> str:
        ...     await mail.asend(EmailMessage("Welcome", "Hi!", to=["ann@example.com"]))
        ...     return "sent"
    """

    def __init__(
        self,
        backend: MailBackend | None = None,
        *,
        default_from: str | None = None,
        settings: MailSettings | None = None,
    ) -> None:
        super().__init__("mail", root=Path(__file__).parent)
        if backend is not None and not isinstance(backend, MailBackend):
            raise ConfigurationError(
                f"Mail(backend=...) takes a mail backend (send and asend methods), got {backend!r}"
            )
        if default_from is not None:
            # The same check a message's own sender gets.
            EmailMessage("", "", to=[default_from], from_email=default_from)
        self._backend = backend
        self._default_from = default_from
        self._settings = settings
        self._configured_by = "Mail(backend=...)" if backend is not None else ""
        self.provide(Mail, self)
        self.check(self._check)

    def setup(self, app: Carboy) -> None:
        """Pick the backend and sender from the settings (runs at build)."""
        settings = self._settings if self._settings is not None else MailSettings()
        if self._default_from is None:
            self._default_from = settings.default_from
        if self._backend is not None:
            return
        if settings.url is not None:
            try:
                self._backend = backend_from_url(settings.url.get_secret_value())
            except ValueError as exc:
                raise ConfigurationError(f"CARBOY_MAIL_URL: {exc}") from None
            self._configured_by = "CARBOY_MAIL_URL"
        elif app.debug:
            self._backend = ConsoleBackend()
        else:
            self._backend = SMTPBackend()

    @property
    def backend(self) -> MailBackend:
        """The backend in use (known once the app is built, or when given)."""
        if self._backend is None:
            raise ConfigurationError(
                "Mail has no backend yet: it picks one when the app builds (the first "
                "request or app.build()); or pass Mail(backend=...)"
            )
        return self._backend

    @property
    def default_from(self) -> str:
        """The sender of messages that name none."""
        return self._default_from if self._default_from is not None else DEFAULT_FROM

    def send(self, *messages: EmailMessage) -> int:
        """Send ``messages`` now, from sync code (a ``def`` handler, a command); the count.

        Raises:
            MailError: Sending failed (nothing is dropped silently).

        Example:
            >>> mail.send(EmailMessage("Report", "All good.", to=["ops@example.com"]))
            1
        """
        return self.backend.send(messages, self.default_from)

    async def asend(self, *messages: EmailMessage) -> int:
        """Send ``messages`` from async code without blocking the loop; the count.

        Raises:
            MailError: Sending failed.

        Example:
            >>> await mail.asend(EmailMessage("Hi", "Hello!", to=["ann@example.com"]))
            1
        """
        return await self.backend.asend(messages, self.default_from)

    def _check(self, app: Carboy) -> list[CheckMessage]:
        found: list[CheckMessage] = []
        if app.debug:
            return found
        if not self._configured_by:
            found.append(
                CheckMessage(
                    "mail.W001",
                    "Mail goes to an SMTP server on localhost:25, the default; no mail "
                    "backend is configured",
                    "Set CARBOY_MAIL_URL (smtp+starttls://user:password@host:587) or pass "
                    "Mail(backend=SMTPBackend(...)).",
                    obj="Mail",
                    level=CheckLevel.WARNING,
                    deploy=True,
                )
            )
        elif isinstance(self._backend, ConsoleBackend | MemoryBackend):
            found.append(
                CheckMessage(
                    "mail.W002",
                    f"Mail uses {type(self._backend).__name__} (from {self._configured_by}) "
                    "in production: nothing is delivered",
                    "Configure an SMTP backend for production.",
                    obj="Mail",
                    level=CheckLevel.WARNING,
                    deploy=True,
                )
            )
        return found

    def __repr__(self) -> str:
        return f"<Mail backend={self._backend!r} default_from={self.default_from!r}>"
