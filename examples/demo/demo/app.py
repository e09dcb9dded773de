"""The demo's app: one Carboy instance and the modules installed on it."""

from __future__ import annotations

from carboy import Carboy
from carboy.db import Database
from demo.api import api
from demo.blog import blog
from demo.chat import chat
from demo.pages import pages


def create_app() -> Carboy:
    """Build the demo app (a factory, so tests get a fresh one each time)."""
    app = Carboy(name="demo")
    app.install(pages)
    app.install(api)
    app.install(chat)
    app.install(blog)
    app.install(Database())
    return app


app = create_app()
