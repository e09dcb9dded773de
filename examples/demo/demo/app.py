"""The demo's app: one Carboy instance and the modules installed on it."""

from __future__ import annotations

from carboy import Carboy
from carboy.auth import Auth, PagesConfig, TokenBackend, TwoFactor
from carboy.cache import Caching
from carboy.channels import Channels
from carboy.db import Database
from carboy.forms import Forms
from carboy.middleware import SecurityHeaders
from carboy.tasks import Tasks
from demo.admin import admin
from demo.api import api
from demo.blog import blog
from demo.chat import chat
from demo.members import members
from demo.pages import pages
from demo.welcome import mail, welcome_new_member

#: A strict Content-Security-Policy: scripts and styles from this site or carrying the
#: request's nonce (``csp_nonce()`` in templates), no plugins, no framing, forms post here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
    "style-src 'self' 'nonce-{nonce}'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app() -> Carboy:
    """Build the demo app (a factory, so tests get a fresh one each time)."""
    app = Carboy(
        name="demo", security=SecurityHeaders(content_security_policy=CONTENT_SECURITY_POLICY)
    )
    # The cache: the API's quotas and the sign-in throttles count in it. In this process
    # by default, shared by every process over Redis with CARBOY_CACHE_URL=redis://...
    app.install(Caching())
    app.install(pages)
    app.install(api)
    app.install(chat)
    app.install(blog)
    app.install(members)
    app.install(Database())
    # Live comments: in this process by default, over Redis with CARBOY_CHANNELS_URL.
    app.install(Channels())
    # Background work (the welcome e-mail): in this process by default, on Celery
    # workers (`carboy worker`) with CARBOY_TASKS_URL=celery+amqp://...
    app.install(Tasks())
    # Forms injected into handlers; uploads saved in media/ (served under /media in debug).
    app.install(Forms())
    # Sign-up (with e-mail verification), sign-in (throttled), sign-out, password reset and
    # two-factor sign-in under /auth/.
    # In debug mode the e-mails are printed to the console: open the link from there.
    app.install(mail)
    # Members may turn on two-factor sign-in (an authenticator app) from the lounge; API
    # clients sign in with the session cookie or a personal access token (cby_...).
    auth = Auth(
        two_factor=TwoFactor(issuer="carboy demo"),
        tokens=TokenBackend(),
        pages=PagesConfig(signup=True, login_redirect="/members/"),
    )
    auth.on_signup(welcome_new_member)
    app.install(auth)
    # The admin of the blog under /admin/, for staff users (carboy createuser --staff).
    app.install(admin)
    return app


app = create_app()
