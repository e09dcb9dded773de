"""The welcome e-mail: a background task, enqueued when a new account is ready.

``make demo`` runs tasks in the app's own process (``tasks_url`` defaults to
``inprocess://``). In production set ``CARBOY_TASKS_URL`` to a Celery broker
(``celery+amqp://...`` or ``celery+redis://...``) and start ``carboy worker``:
the same task then runs on the worker, with the app's settings and modules.
"""

from __future__ import annotations

from typing import Any

from carboy import Request
from carboy.mail import EmailMessage, Mail
from carboy.tasks import task

#: The demo's mail module (the console in debug mode), installed by demo.app.
mail = Mail(default_from="demo@localhost")

WELCOME = """Hello {name},

Welcome to the carboy demo. Your account is ready: sign in, leave a comment
under a blog post, and watch it appear in every other open tab.

-- the carboy demo
"""


@task(name="demo.send_welcome", retries=3, retry_backoff=5.0)
async def send_welcome(address: str, name: str) -> None:
    """Send the welcome e-mail (retried by the task backend if the mail server fails)."""
    message = EmailMessage("Welcome to the carboy demo", WELCOME.format(name=name), to=[address])
    await mail.asend(message)


async def welcome_new_member(request: Request, user: Any) -> None:
    """``Auth.on_signup`` hook: the welcome e-mail goes out in the background."""
    if user.email:
        await send_welcome.aenqueue(user.email, user.display_name)
