"""The e-mail a program sends: addresses, subject, text and HTML bodies, attachments."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.errors import HeaderParseError

# Headers the message sets itself; an extra header of these names would make two.
_OWN_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "content-type"}
)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message.

    Example:
        >>> Attachment("report.csv", b"a,b\\n1,2\\n", "text/csv").maintype
        'text'
    """

    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"

    @property
    def maintype(self) -> str:
        """The part before the slash of ``mimetype`` (``"text"``)."""
        return self.mimetype.partition("/")[0]

    @property
    def subtype(self) -> str:
        """The part after the slash of ``mimetype`` (``"csv"``)."""
        return self.mimetype.partition("/")[2]


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One e-mail: who it goes to, what it says; a backend sends it.

    Every address and header is checked when the message is made: a line break
    in the subject or an address (header injection) or an address that is not
    one raises ``ValueError``, so input from a form can never add recipients.

    Args:
        subject: One line.
        body: The plain-text body (always sent; the HTML body is an alternative).
        to: Recipients (``"ann@example.com"`` or ``"Ann <ann@example.com>"``).
        from_email: The sender; None takes the :class:`~carboy.mail.Mail` module's
            ``default_from``.
        cc: Copied recipients, shown to all.
        bcc: Hidden recipients: they receive it, no header names them.
        reply_to: Where replies go.
        html: An HTML version of ``body``, for clients that show HTML.
        headers: More headers (``{"X-Campaign": "spring"}``).
        attachments: Files sent with it.

    Example:
        >>> msg = EmailMessage("Welcome", "Hello Ann!", to=["ann@example.com"])
        >>> msg.recipients()
        ['ann@example.com']
        >>> EmailMessage("Hi\\nBcc: x@evil.example", "...", to=["ann@example.com"])
        Traceback (most recent call last):
        ...
        ValueError: EmailMessage subject contains a line break (header injection?): ...
    """

    subject: str
    body: str
    to: Sequence[str] = ()
    from_email: str | None = None
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    reply_to: Sequence[str] = ()
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: Sequence[Attachment] = ()

    def __post_init__(self) -> None:
        # Tuples: the message is a value, not something a backend can change.
        for name in ("to", "cc", "bcc", "reply_to", "attachments"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"EmailMessage {name}= takes a list of addresses, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "headers", dict(self.headers))
        _check_line("subject", self.subject)
        if self.from_email is not None:
            _check_address("from_email", self.from_email)
        for name in ("to", "cc", "bcc", "reply_to"):
            for address in getattr(self, name):
                _check_address(name, address)
        for key, value in self.headers.items():
            if not key or any(c in key for c in ":\r\n ") or not key.isascii():
                raise ValueError(f"EmailMessage header name {key!r} is not a valid header name")
            if key.lower() in _OWN_HEADERS:
                raise ValueError(
                    f"EmailMessage header {key!r} is set by the message itself; use its "
                    "field (subject=, to=, reply_to=...)"
                )
            _check_line(f"header {key!r}", value)
        if not self.recipients():
            raise ValueError("EmailMessage has no recipients: give to=, cc= or bcc=")

    def recipients(self) -> list[str]:
        """Every address it is delivered to: ``to``, ``cc`` and ``bcc``."""
        return [*self.to, *self.cc, *self.bcc]

    def to_mime(self, default_from: str = "webmaster@localhost") -> email.message.EmailMessage:
        """The message as the standard library's MIME object (what goes over SMTP).

        ``bcc`` is left out of the headers. ``Date`` and ``Message-ID`` are set.

        Example:
            >>> mime = EmailMessage("Hi", "Hello", to=["ann@example.com"]).to_mime()
            >>> mime["To"]
            'ann@example.com'
        """
        mime = email.message.EmailMessage(policy=email.policy.SMTP)
        sender = self.from_email or default_from
        mime["Subject"] = self.subject
        mime["From"] = sender
        if self.to:
            mime["To"] = ", ".join(self.to)
        if self.cc:
            mime["Cc"] = ", ".join(self.cc)
        if self.reply_to:
            mime["Reply-To"] = ", ".join(self.reply_to)
        mime["Date"] = email.utils.formatdate(localtime=True)
        domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or None
        mime["Message-ID"] = email.utils.make_msgid(domain=domain)
        for key, value in self.headers.items():
            mime[key] = value
        mime.set_content(self.body)
        if self.html is not None:
            mime.add_alternative(self.html, subtype="html")
        for item in self.attachments:
            mime.add_attachment(
                item.content,
                maintype=item.maintype or "application",
                subtype=item.subtype or "octet-stream",
                filename=item.filename,
            )
        return mime


def _check_line(what: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(
            f"EmailMessage {what} contains a line break (header injection?): {value!r}"
        )


def validate_email(value: str) -> str:
    """The e-mail address in ``value`` (one, nothing else), or ``ValueError``.

    A display name is dropped (``"Ann <ann@example.com>"`` gives
    ``"ann@example.com"``); a line break, a second address or anything that is
    not an address raises. What a sign-up or reset form should check.

    Example:
        >>> validate_email(" ann@example.com ")
        'ann@example.com'
        >>> validate_email("ann@example.com, eve@evil.example")
        Traceback (most recent call last):
        ...
        ValueError: 'ann@example.com, eve@evil.example' is not one e-mail address
    """
    return _parse_address(value.strip(), f"{value.strip()!r} is not one e-mail address")


def _check_address(what: str, value: str) -> None:
    _check_line(what, value)
    _parse_address(value, f"EmailMessage {what}: {value!r} is not one e-mail address")


def _parse_address(value: str, error: str) -> str:
    if "\r" in value or "\n" in value or len(value) > 320:
        raise ValueError(error)
    try:
        header = email.policy.default.header_factory("to", value)
        addresses = header.addresses
    except (HeaderParseError, IndexError, ValueError):  # the stdlib parser raises all three
        addresses = ()
    else:
        if header.defects:
            addresses = ()
    if len(addresses) != 1 or not (addresses[0].username and addresses[0].domain):
        raise ValueError(error)
    spec: str = addresses[0].addr_spec
    return spec
