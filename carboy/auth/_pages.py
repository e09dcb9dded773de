"""The auth pages: sign in, sign out, password change and reset, sign-up, e-mail verification.

The Auth module adds them when the app builds (``add_pages``). Each page
renders an ``auth/*.html`` template the app can override; forms post back to
the same URL and, when they succeed, redirect (303) so a reload never posts
twice. Nothing a page says tells a visitor which accounts exist: a wrong
password and an unknown user get the same page after the same work (a dummy
password hash), a reset request the same answer whatever the address.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from carboy.auth._links import RESET_SALT, VERIFY_SALT, LinkSigner
from carboy.auth._login import login, logout
from carboy.auth._page_config import PagesConfig
from carboy.auth._protocols import AuthUser, EmailUser
from carboy.auth._throttling import (
    check_password,
    shared_counts_check,
    throttled_headers,
    too_many_attempts,
)
from carboy.auth._two_factor_pages import TwoFactorPages, add_two_factor_pages
from carboy.auth.guards import login_required, safe_next
from carboy.auth.passwords import PasswordInvalid, password_help_texts
from carboy.auth.sessions import flash
from carboy.cache import Throttled
from carboy.concurrency import run_sync
from carboy.mail import EmailMessage, Mail, validate_email
from carboy.params import Form
from carboy.requests import Request
from carboy.responses import RedirectResponse, Response
from carboy.templating import TemplateResponse, render

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.auth._module import Auth

logger = logging.getLogger("carboy.security")

#: Longest value each field takes; longer ones get a 422 before any work is done.
MAX_LOGIN = 254
MAX_PASSWORD = 4096
#: Where sign-up keeps the address it sent a link to, for the "check your inbox" page.
_SIGNUP_EMAIL_KEY = "_auth_signup_email"
# Pages with a token in their URL: never sent on in a Referer, never cached.
_TOKEN_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
# Checked for CSRF even without a cookie: a forged sign-in (into the attacker's account)
# or sign-up is an attack too, not only a forged change to a signed-in account.
_CSRF_REQUIRED = {"csrf_required": True}
_WRONG_LOGIN = "That username or e-mail and password do not match an account."

PasswordField = Annotated[str, Form(max_length=MAX_PASSWORD)]


def add_pages(auth: Auth, config: PagesConfig, app: Carboy) -> None:
    """Add the pages ``config`` asks for to ``auth`` (its routes, under its prefix)."""
    pages = _Pages(auth, config, app)
    auth.get("/login", name="login")(pages.login_form)
    auth.post("/login", name="login_submit", extra=_CSRF_REQUIRED)(pages.login_submit)
    auth.get("/logout", name="logout_confirm")(pages.logout_confirm)
    auth.post("/logout", name="logout", extra=_CSRF_REQUIRED)(pages.logout_submit)
    auth.get("/password/change", name="password_change")(login_required(pages.change_form))
    auth.post("/password/change", name="password_change_submit", extra=_CSRF_REQUIRED)(
        login_required(pages.change_submit)
    )
    if config.password_reset:
        auth.get("/password/reset", name="password_reset")(pages.reset_form)
        auth.post("/password/reset", name="password_reset_submit", extra=_CSRF_REQUIRED)(
            pages.reset_submit
        )
        auth.get("/password/reset/sent", name="password_reset_sent")(pages.reset_sent)
        auth.get("/password/reset/{token}", name="password_reset_confirm")(pages.reset_confirm)
        auth.post(
            "/password/reset/{token}", name="password_reset_confirm_submit", extra=_CSRF_REQUIRED
        )(pages.reset_confirm_submit)
    if config.signup:
        auth.get("/signup", name="signup")(pages.signup_form)
        auth.post("/signup", name="signup_submit", extra=_CSRF_REQUIRED)(pages.signup_submit)
        auth.get("/signup/sent", name="signup_sent")(pages.signup_sent)
        auth.get("/verify/{token}", name="verify_email")(pages.verify_form)
        auth.post("/verify/{token}", name="verify_email_submit", extra=_CSRF_REQUIRED)(
            pages.verify_submit
        )
    if auth.two_factor is not None:
        pages.two_factor = add_two_factor_pages(auth, config, pages._page)
    throttles = [config.login_throttle, config.email_throttle, config.code_throttle]
    auth.check(shared_counts_check([t for t in throttles if t is not None]))


class _Pages:
    """The handlers, bound to one Auth module and its configuration."""

    def __init__(self, auth: Auth, config: PagesConfig, app: Carboy) -> None:
        self.auth = auth
        self.config = config
        self.app = app
        self.reset_links = LinkSigner(app.settings, salt=RESET_SALT, max_age=config.link_max_age)
        self.verify_links = LinkSigner(app.settings, salt=VERIFY_SALT, max_age=config.link_max_age)
        #: The code step and two-factor settings, with ``Auth(two_factor=...)``.
        self.two_factor: TwoFactorPages | None = None

    # -- helpers --------------------------------------------------------------------
    def _page(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> TemplateResponse:
        values = {
            "signup": self.config.signup,
            "password_reset": self.config.password_reset,
            "errors": {},
            "form": {},
            "link_lifetime": _duration(self.config.link_max_age),
            "password_help": password_help_texts(self.auth.password_validators),
            "login_label": "Username or e-mail",
            **(context or {}),
        }
        return render(template, values, status_code=status_code, headers=headers)

    def _site(self, request: Request) -> str:
        if self.config.site_url is not None:
            return self.config.site_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    def _link(self, request: Request, name: str, **params: Any) -> str:
        return self._site(request) + request.url_for(f"auth.{name}", **params)

    async def _send(self, request: Request, message: EmailMessage) -> None:
        """Send in the background when the app runs one, so an answer takes no longer
        for an address with an account than for one without."""
        mail = request.app.get_module(Mail)
        background = request.app.background
        if background.running:
            background.spawn(mail.asend(message), name="carboy.auth mail")
        else:
            await mail.asend(message)

    async def _mail(
        self, request: Request, to: str, template: str, context: Mapping[str, Any]
    ) -> None:
        templates = request.app.templates
        values = {"link_lifetime": _duration(self.config.link_max_age), **context}
        subject = await templates.render(f"auth/email/{template}_subject.txt", values)
        body = await templates.render(f"auth/email/{template}.txt", values)
        await self._send(request, EmailMessage(subject.strip(), body, to=[to]))

    def _throttled(
        self, template: str, refused: Throttled, context: Mapping[str, Any] | None = None
    ) -> TemplateResponse:
        """The form again, with 429, ``Retry-After`` and how long to wait."""
        errors = {"__all__": [too_many_attempts(refused)]}
        return self._page(
            template,
            {**(context or {}), "errors": errors},
            status_code=429,
            headers=throttled_headers(refused),
        )

    async def _count_email(
        self, request: Request, address: str, template: str, form: Mapping[str, str]
    ) -> Response | None:
        """Count a page that sends ``address`` an e-mail; the 429 page when over the limit.

        Every request counts (none is given back): the limit is on e-mails sent,
        per address and per client, known address or not.
        """
        throttle = self.config.email_throttle
        if throttle is None:
            return None
        try:
            await throttle.abegin(request, address)
        except Throttled as refused:
            logger.warning("Throttled e-mail to %r from %s", address[:64], _client(request))
            return self._throttled(template, refused, {"form": form})
        return None

    def _password_errors(self, password: str, again: str, user: Any) -> list[str]:
        if password != again:
            return ["The two passwords do not match."]
        try:
            self.auth.validate_password(password, user)
        except PasswordInvalid as exc:
            return list(exc.messages)
        return []

    # -- sign in ----------------------------------------------------------------------
    async def login_form(self, request: Request, next: str = "") -> Response:
        """The sign-in form; a signed-in user goes straight on."""
        target = safe_next(next, default=self.config.login_redirect)
        if request.user.is_authenticated and next:
            return RedirectResponse(target, 303)
        return self._page("auth/login.html", {"next": safe_next(next, default="")})

    async def login_submit(
        self,
        request: Request,
        login_: Annotated[str, Form(alias="login", max_length=MAX_LOGIN)] = "",
        password: PasswordField = "",
        next: Annotated[str, Form(max_length=4096)] = "",
    ) -> Response:
        """Check the password; sign in and go on, or show the form again."""
        name = login_.strip()
        # Counted before the user is looked up or a hash is checked: cheap to refuse,
        # and an unknown account counts as a known one.
        throttle = self.config.login_throttle
        try:
            attempt = None if throttle is None else await throttle.abegin(request, name)
        except Throttled as refused:
            logger.warning("Throttled sign-in for %r from %s", name[:64], _client(request))
            context = {"next": safe_next(next, default=""), "form": {"login": name}}
            return self._throttled("auth/login.html", refused, context)
        users = self.auth.users
        user = await users.get_by_login(name) if name and password else None
        if user is None:
            # The same work as a wrong password, so timing does not tell who has an account.
            await run_sync(self.auth.hasher.dummy_verify)
            matched = False
        else:
            matched = await users.check_password(user, password)
        if not matched or user is None or not user.is_active:
            logger.warning("Failed sign-in for %r from %s", name[:64], _client(request))
            return self._login_error(next, name, _WRONG_LOGIN)
        if attempt is not None:
            await attempt.asucceeded()  # the counts are of wrong passwords
        if (
            self.config.signup
            and self.config.verify_email
            and isinstance(user, EmailUser)
            and not user.email_verified
        ):
            return self._login_error(
                next,
                name,
                "Confirm your e-mail address first: open the link we sent you.",
            )
        if self.two_factor is not None:
            code_step = await self.two_factor.start(request, user, next)
            if code_step is not None:
                return code_step  # not signed in until the code is right
        await login(request, user)
        flash(request, f"Signed in as {user.display_name}.", "success")
        return RedirectResponse(safe_next(next, default=self.config.login_redirect), 303)

    def _login_error(self, next: str, name: str, message: str) -> TemplateResponse:
        return self._page(
            "auth/login.html",
            {
                "next": safe_next(next, default=""),
                "form": {"login": name},
                "errors": {"__all__": [message]},
            },
        )

    # -- sign out ---------------------------------------------------------------------
    async def logout_confirm(self) -> Response:
        """A GET changes nothing: it shows a button that signs out (a POST)."""
        return self._page("auth/logout.html")

    async def logout_submit(self, request: Request) -> Response:
        """Sign out, here and in the session store."""
        was_signed_in = request.user.is_authenticated
        await logout(request)
        if was_signed_in:
            flash(request, "You have signed out.", "info")
        return RedirectResponse(self.config.logout_redirect, 303)

    # -- password change -------------------------------------------------------------
    async def change_form(self) -> Response:
        """The form for a new password (signed-in users only)."""
        return self._page("auth/password_change.html")

    async def change_submit(
        self,
        request: Request,
        old_password: PasswordField = "",
        new_password1: PasswordField = "",
        new_password2: PasswordField = "",
    ) -> Response:
        """Check the current password, set the new one; other sessions end, this one stays."""
        user = request.user
        if not isinstance(user, AuthUser):  # pragma: no cover - login_required let it in
            return RedirectResponse(request.url_for("auth.login"), 303)
        users = self.auth.users
        errors: dict[str, list[str]] = {}
        try:
            password_ok = await check_password(
                self.config.login_throttle, request, users, user, old_password
            )
        except Throttled as refused:
            return self._throttled("auth/password_change.html", refused)
        if not password_ok:
            errors["old_password"] = ["That is not your current password."]
        problems = self._password_errors(new_password1, new_password2, user)
        if problems:
            errors["new_password1"] = problems
        if errors:
            return self._page("auth/password_change.html", {"errors": errors}, status_code=400)
        await users.set_password(user, new_password1)
        fresh = await users.get(user.pk)
        if fresh is not None:
            await login(request, fresh)  # a new session id under the new generation
        flash(request, "Your password was changed. Your other sessions have ended.", "success")
        return RedirectResponse(request.url_for("auth.password_change"), 303)

    # -- password reset --------------------------------------------------------------
    async def reset_form(self) -> Response:
        """Ask for the e-mail address of the account."""
        return self._page("auth/password_reset.html")

    async def reset_submit(
        self, request: Request, email: Annotated[str, Form(max_length=MAX_LOGIN)] = ""
    ) -> Response:
        """E-mail a reset link if an active account has this address; the same answer if not."""
        address = email.strip()
        try:
            address = validate_email(address)
        except ValueError:
            return self._page(
                "auth/password_reset.html",
                {"form": {"email": address}, "errors": {"email": ["Enter an e-mail address."]}},
                status_code=400,
            )
        throttled = await self._count_email(
            request, address, "auth/password_reset.html", {"email": address}
        )
        if throttled is not None:
            return throttled
        user = await self.auth.users.get_by_login(address)
        if (
            user is not None
            and user.is_active
            and isinstance(user, EmailUser)
            and (user.email or "").casefold() == address.casefold()
        ):
            token = self.reset_links.make(user)
            await self._mail(
                request,
                user.email or address,
                "password_reset",
                {
                    "account": user.display_name,
                    "link": self._link(request, "password_reset_confirm", token=token),
                },
            )
        return RedirectResponse(request.url_for("auth.password_reset_sent"), 303)

    async def reset_sent(self) -> Response:
        """The "check your inbox" page."""
        return self._page("auth/password_reset_sent.html")

    async def reset_confirm(self, request: Request, token: str) -> Response:
        """The new-password form of a valid link, or why the link does not work."""
        user = await self.reset_links.check(token, self.auth.users)
        return self._page(
            "auth/password_reset_confirm.html",
            {
                "valid": user is not None,
                "account": user.display_name if user is not None else "",
                "action": request.url_for("auth.password_reset_confirm_submit", token=token),
            },
            status_code=200 if user is not None else 400,
            headers=_TOKEN_PAGE_HEADERS,
        )

    async def reset_confirm_submit(
        self,
        request: Request,
        token: str,
        new_password1: PasswordField = "",
        new_password2: PasswordField = "",
    ) -> Response:
        """Set the new password; the link (and every session of the user) ends with it."""
        users = self.auth.users
        user = await self.reset_links.check(token, users)
        context: dict[str, Any] = {
            "valid": user is not None,
            "account": user.display_name if user is not None else "",
            "action": request.url_for("auth.password_reset_confirm_submit", token=token),
        }
        if user is None:
            return self._page(
                "auth/password_reset_confirm.html",
                context,
                status_code=400,
                headers=_TOKEN_PAGE_HEADERS,
            )
        problems = self._password_errors(new_password1, new_password2, user)
        if problems:
            context["errors"] = {"new_password1": problems}
            return self._page(
                "auth/password_reset_confirm.html",
                context,
                status_code=400,
                headers=_TOKEN_PAGE_HEADERS,
            )
        await users.set_password(user, new_password1)
        flash(request, "Your password was changed. Sign in with the new one.", "success")
        return RedirectResponse(request.url_for("auth.login"), 303)

    # -- sign-up ------------------------------------------------------------------------
    async def signup_form(self) -> Response:
        """The sign-up form."""
        return self._page("auth/signup.html")

    async def signup_submit(
        self,
        request: Request,
        username: Annotated[str, Form(max_length=150)] = "",
        email: Annotated[str, Form(max_length=MAX_LOGIN)] = "",
        password1: PasswordField = "",
        password2: PasswordField = "",
    ) -> Response:
        """Make the account and e-mail its verification link (or sign it in)."""
        users = self.auth.users
        username, address = username.strip(), email.strip()
        errors: dict[str, list[str]] = {}
        if not username:
            errors["username"] = ["Choose a username."]
        try:
            address = validate_email(address)
        except ValueError:
            errors["email"] = ["Enter an e-mail address."]
        problems = self._password_errors(
            password1, password2, {"username": username, "email": address}
        )
        if problems:
            errors["password1"] = problems
        if not errors and await users.get_by_login(username) is not None:
            errors["username"] = ["That username is taken."]
        form = {"username": username, "email": address}
        if errors:
            return self._page("auth/signup.html", {"form": form, "errors": errors}, status_code=400)
        throttled = await self._count_email(request, address, "auth/signup.html", form)
        if throttled is not None:
            return throttled
        existing = await users.get_by_login(address)
        if existing is not None:
            # Say what we say for a new account, and tell the owner instead: the page
            # never reveals that an address has an account.
            await self._mail(
                request,
                address,
                "already_registered",
                {
                    "account": existing.display_name,
                    "login_link": self._link(request, "login"),
                    "reset_link": self._link(request, "password_reset")
                    if self.config.password_reset
                    else "",
                },
            )
            return self._signup_sent(request, address)
        verify = self.config.verify_email
        try:
            user = await users.create(
                password=password1, username=username, email=address, email_verified=not verify
            )
        except ValueError as exc:  # UserExists (a race with another sign-up) and bad names
            field = getattr(exc, "field", "username")
            errors["email" if field == "email" else "username"] = [str(exc)]
            return self._page("auth/signup.html", {"form": form, "errors": errors}, status_code=400)
        if not verify:
            await login(request, user)
            await self.auth._account_ready(request, user)
            flash(request, f"Welcome, {user.display_name}!", "success")
            return RedirectResponse(self.config.login_redirect, 303)
        await self._send_verification(request, user, address)
        return self._signup_sent(request, address)

    async def _send_verification(self, request: Request, user: AuthUser, address: str) -> None:
        token = self.verify_links.make(user)
        await self._mail(
            request,
            address,
            "verify_email",
            {
                "account": user.display_name,
                "link": self._link(request, "verify_email", token=token),
            },
        )

    def _signup_sent(self, request: Request, address: str) -> Response:
        request.session[_SIGNUP_EMAIL_KEY] = address
        return RedirectResponse(request.url_for("auth.signup_sent"), 303)

    async def signup_sent(self, request: Request) -> Response:
        """The "check your inbox" page of a sign-up."""
        address = request.session.get(_SIGNUP_EMAIL_KEY)
        if not isinstance(address, str):
            return RedirectResponse(request.url_for("auth.signup"), 303)
        return self._page("auth/signup_sent.html", {"email": address})

    async def verify_form(self, request: Request, token: str) -> Response:
        """A button that confirms the address (a GET changes nothing: link scanners open
        links too)."""
        user = await self.verify_links.check(token, self.auth.users)
        return self._page(
            "auth/verify_email.html",
            {
                "valid": user is not None,
                "account": user.display_name if user is not None else "",
                "email": user.email if isinstance(user, EmailUser) else "",
                "action": request.url_for("auth.verify_email_submit", token=token),
            },
            status_code=200 if user is not None else 400,
            headers=_TOKEN_PAGE_HEADERS,
        )

    async def verify_submit(self, request: Request, token: str) -> Response:
        """Mark the address verified; the link stops working."""
        user = await self.verify_links.check(token, self.auth.users)
        if user is None:
            return await self.verify_form(request, token)
        await self.auth.users.update(user, email_verified=True)
        request.session.pop(_SIGNUP_EMAIL_KEY, None)
        await self.auth._account_ready(request, user)
        flash(request, "Your e-mail address is confirmed. You can sign in now.", "success")
        return RedirectResponse(request.url_for("auth.login"), 303)


def _duration(seconds: int) -> str:
    """``259200`` -> ``"3 days"``: how long a link works, in the largest whole unit."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _client(request: Request) -> str:
    client = request.client
    return client.host if client is not None else "unknown"
