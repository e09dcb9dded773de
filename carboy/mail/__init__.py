"""carboy.mail: e-mail messages and the backends that send them (console, memory, SMTP).

Example:
    >>> from carboy import Carboy
    >>> from carboy.mail import EmailMessage, Mail, MemoryBackend
    >>> backend = MemoryBackend()
    >>> app = Carboy()
    >>> app.install(Mail(backend))
"""

from carboy.mail._backends import ConsoleBackend as ConsoleBackend
from carboy.mail._backends import MailBackend as MailBackend
from carboy.mail._backends import MailError as MailError
from carboy.mail._backends import MemoryBackend as MemoryBackend
from carboy.mail._backends import SMTPBackend as SMTPBackend
from carboy.mail._backends import backend_from_url as backend_from_url
from carboy.mail._message import Attachment as Attachment
from carboy.mail._message import EmailMessage as EmailMessage
from carboy.mail._message import validate_email as validate_email
from carboy.mail._module import Mail as Mail
from carboy.mail._module import MailSettings as MailSettings

__all__ = [
    "Attachment",
    "ConsoleBackend",
    "EmailMessage",
    "Mail",
    "MailBackend",
    "MailError",
    "MailSettings",
    "MemoryBackend",
    "SMTPBackend",
    "backend_from_url",
    "validate_email",
]
