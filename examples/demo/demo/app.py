"""The demo's app: one Carboy instance and the modules installed on it."""

from __future__ import annotations

from carboy import Carboy
from carboy.auth import Auth, PagesConfig
from carboy.db import Database
from carboy.mail import Mail
from demo.api import api
from demo.blog import blog
from demo.chat import chat
from demo.members import members
from demo.pages import pages


def create_app() -> Carboy:
    """Build the demo app (a factory, so tests get a fresh one each time)."""
    app = Carboy(name="demo")
    app.install(pages)
    app.install(api)
    app.install(chat)
    app.install(blog)
    app.install(members)
    app.install(Database())
    # Sign-up (with e-mail verification), sign-in, sign-out and password reset under /auth/.
    # In debug mode the e-mails are printed to the console: open the link from there.
    app.install(Mail(default_from="demo@localhost"))
    app.install(Auth(pages=PagesConfig(signup=True, login_redirect="/members/")))
    return app


app = create_app()
