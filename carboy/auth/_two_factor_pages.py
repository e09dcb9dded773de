"""The two-factor pages: the code step of signing in, and turning TOTP on and off.

Added beside the other auth pages when ``Auth(two_factor=TwoFactor(...))`` is
given. A user who turned two-factor on is not signed in by the password: the
sign-in page records a *pending* sign-in in the session (it expires, see
:class:`~carboy.auth.TwoFactor`) and sends them to ``/auth/login/code``; the
right code (or an unused recovery code) signs them in. For a signed-in user,
``/auth/two-factor`` shows whether it is on, ``/auth/two-factor/enable``
shows the QR code and the secret and confirms with a code and the password
(then the recovery codes, once), and ``/auth/two-factor/disable`` turns it
off with the password.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from markupsafe import Markup

from carboy.auth._login import login
from carboy.auth._page_config import PagesConfig
from carboy.auth._protocols import AuthUser
from carboy.auth._throttling import (
    check_password,
    throttled_headers,
    too_many_attempts,
)
from carboy.auth.guards import login_required, safe_next
from carboy.auth.sessions import flash
from carboy.auth.totp import TwoFactor
from carboy.cache import Throttled, client_ip
from carboy.params import Form
from carboy.requests import Request
from carboy.responses import RedirectResponse, Response
from carboy.templating import TemplateResponse

if TYPE_CHECKING:
    from carboy.auth._module import Auth

logger = logging.getLogger("carboy.security")

#: Where the pending sign-in keeps the page to go to once the code is right.
NEXT_KEY = "_auth_2fa_next"
# Pages that show a secret or recovery codes: never cached, never in a Referer.
_SECRET_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_CSRF_REQUIRED = {"csrf_required": True}
_WRONG_CODE = "That code is not right. Enter the current code from your app, or a recovery code."
_WRONG_PASSWORD = "That is not your current password."

CodeField = Annotated[str, Form(max_length=64)]
PasswordField = Annotated[str, Form(max_length=4096)]


class _Redraw(Protocol):
    """A page of the two-factor settings drawn again with errors."""

    async def __call__(
        self,
        request: Request,
        errors: Mapping[str, list[str]] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response: ...


class RenderPage(Protocol):
    """How the auth pages render a template with their common context."""

    def __call__(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> TemplateResponse: ...


def add_two_factor_pages(auth: Auth, config: PagesConfig, page: RenderPage) -> TwoFactorPages:
    """Add the code step and the two-factor settings pages to ``auth``; the handlers."""
    if auth.two_factor is None:  # pragma: no cover - add_pages checks
        raise ValueError("add_two_factor_pages needs Auth(two_factor=...)")
    pages = TwoFactorPages(auth, auth.two_factor, config, page)
    auth.get("/login/code", name="two_factor_login")(pages.code_form)
    auth.post("/login/code", name="two_factor_login_submit", extra=_CSRF_REQUIRED)(
        pages.code_submit
    )
    auth.get("/two-factor", name="two_factor")(login_required(pages.settings))
    auth.get("/two-factor/enable", name="two_factor_enable")(login_required(pages.enable_form))
    auth.post("/two-factor/enable", name="two_factor_enable_submit", extra=_CSRF_REQUIRED)(
        login_required(pages.enable_submit)
    )
    auth.get("/two-factor/disable", name="two_factor_disable")(login_required(pages.disable_form))
    auth.post("/two-factor/disable", name="two_factor_disable_submit", extra=_CSRF_REQUIRED)(
        login_required(pages.disable_submit)
    )
    auth.post("/two-factor/recovery-codes", name="two_factor_recovery_codes", extra=_CSRF_REQUIRED)(
        login_required(pages.recovery_codes_submit)
    )
    return pages


class TwoFactorPages:
    """The handlers, bound to one Auth module, its TwoFactor and the pages' configuration."""

    def __init__(
        self, auth: Auth, two_factor: TwoFactor, config: PagesConfig, page: RenderPage
    ) -> None:
        self.auth = auth
        self.two_factor = two_factor
        self.config = config
        self.page = page

    # -- the code step of signing in -----------------------------------------------------
    async def start(self, request: Request, user: AuthUser, next: str) -> Response | None:
        """After the right password: the way to the code page when ``user`` has
        two-factor on (nothing signed in yet); None when they do not."""
        if not await self.two_factor.is_enabled(user):
            return None
        self.two_factor.begin_pending(request.session, user)
        request.session[NEXT_KEY] = safe_next(next, default="")
        return RedirectResponse(request.url_for("auth.two_factor_login"), 303)

    def _again(self, request: Request, message: str) -> Response:
        request.session.pop(NEXT_KEY, None)
        flash(request, message, "error")
        return RedirectResponse(request.url_for("auth.login"), 303)

    def _code_page(
        self,
        errors: Mapping[str, list[str]] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> TemplateResponse:
        return self.page(
            "auth/two_factor_code.html",
            {"errors": errors or {}, "digits": self.two_factor.digits},
            status_code=status_code,
            headers=headers or {"Cache-Control": "no-store"},
        )

    async def code_form(self, request: Request) -> Response:
        """Ask for the code of the pending sign-in (none: back to the password)."""
        if self.two_factor.pending(request.session) is None:
            return RedirectResponse(request.url_for("auth.login"), 303)
        return self._code_page()

    async def code_submit(self, request: Request, code: CodeField = "") -> Response:
        """Check the code: sign in and go on, or ask again (or, past the limits, start over)."""
        pk = self.two_factor.pending(request.session)
        if pk is None:
            return self._again(request, "Your sign-in expired. Enter your password again.")
        throttle = self.config.code_throttle
        try:
            attempt = None if throttle is None else await throttle.abegin(request, f"user:{pk}")
        except Throttled as refused:
            logger.warning("Throttled two-factor code for user %s from %s", pk, client_ip(request))
            return self._code_page(
                {"__all__": [too_many_attempts(refused)]},
                status_code=429,
                headers=throttled_headers(refused),
            )
        user = await self.two_factor.complete(request.session, self.auth.users, code)
        if user is None:
            logger.warning("Wrong two-factor code for user %s from %s", pk, client_ip(request))
            if self.two_factor.pending(request.session) is None:
                return self._again(
                    request, "Too many wrong codes, or the account changed. Sign in again."
                )
            return self._code_page({"code": [_WRONG_CODE]}, status_code=400)
        if attempt is not None:
            await attempt.asucceeded()
        target = request.session.pop(NEXT_KEY, "")
        await login(request, user)
        flash(request, f"Signed in as {user.display_name}.", "success")
        if not _is_totp(code, self.two_factor.digits):
            left = await self.two_factor.recovery_codes_left(user)
            flash(
                request,
                f"You used a recovery code: {left} left. "
                "Make new ones in your two-factor settings.",
                "warning",
            )
        default = self.config.login_redirect
        return RedirectResponse(safe_next(target if isinstance(target, str) else "", default), 303)

    # -- settings of a signed-in user ------------------------------------------------------
    def _user(self, request: Request) -> AuthUser:
        user = request.user
        if not isinstance(user, AuthUser):  # pragma: no cover - login_required let it in
            raise TypeError("the two-factor settings need a signed-in user")
        return user

    async def settings(self, request: Request) -> Response:
        """Whether two-factor is on, with the ways to turn it on or off."""
        return await self._settings_page(request)

    async def _settings_page(
        self,
        request: Request,
        errors: Mapping[str, list[str]] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        user = self._user(request)
        enabled = await self.two_factor.is_enabled(user)
        left = await self.two_factor.recovery_codes_left(user) if enabled else 0
        return self.page(
            "auth/two_factor.html",
            {"enabled": enabled, "codes_left": left, "errors": errors or {}},
            status_code=status_code,
            headers=headers,
        )

    async def _enable_page(
        self,
        request: Request,
        errors: Mapping[str, list[str]] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        user = self._user(request)
        # A reload shows the same secret: the one already scanned is the one to confirm.
        enrolment = await self.two_factor.pending_enrolment(user)
        if enrolment is None:
            enrolment = await self.two_factor.begin_enrolment(user)
        return self.page(
            "auth/two_factor_enable.html",
            {
                "qr_code": Markup(enrolment.qr_svg()),  # drawn by segno: no user text in it
                "secret": enrolment.secret_groups,
                "issuer": self.two_factor.issuer,
                "digits": self.two_factor.digits,
                "errors": errors or {},
            },
            status_code=status_code,
            headers={**_SECRET_PAGE_HEADERS, **(headers or {})},
        )

    async def enable_form(self, request: Request) -> Response:
        """The QR code and the secret of a new enrolment, and the form that confirms it."""
        if await self.two_factor.is_enabled(self._user(request)):
            flash(request, "Two-factor sign-in is on already.", "info")
            return RedirectResponse(request.url_for("auth.two_factor"), 303)
        return await self._enable_page(request)

    async def enable_submit(
        self, request: Request, code: CodeField = "", password: PasswordField = ""
    ) -> Response:
        """Turn two-factor on with a first code and the password; show the recovery codes once.

        The password is asked so that a stolen session cannot lock the owner out
        with an authenticator of its own; other sessions end, this one gets a new id.
        """
        user = self._user(request)
        if await self.two_factor.is_enabled(user):
            flash(request, "Two-factor sign-in is on already.", "info")
            return RedirectResponse(request.url_for("auth.two_factor"), 303)
        refused = await self._check_password(request, user, password, self._enable_page)
        if refused is not None:
            return refused
        codes = await self.two_factor.confirm_enrolment(user, code)
        if codes is None:
            return await self._enable_page(
                request,
                {"code": ["That code is not right. Enter the code your app shows now."]},
                status_code=400,
            )
        await self._new_session(request, user)
        logger.info("Two-factor sign-in turned on for user %s", user.pk)
        return self._codes_page(codes, turned_on=True)

    async def _check_password(
        self, request: Request, user: AuthUser, password: str, redraw: _Redraw
    ) -> Response | None:
        """None when ``password`` is the user's; else the page again, through ``redraw``:
        429 under the login throttle (the same one as the sign-in page's), 400 when wrong."""
        try:
            ok = await check_password(
                self.config.login_throttle, request, self.auth.users, user, password
            )
        except Throttled as refused:
            return await redraw(
                request,
                {"__all__": [too_many_attempts(refused)]},
                status_code=429,
                headers=throttled_headers(refused),
            )
        if ok:
            return None
        return await redraw(request, {"password": [_WRONG_PASSWORD]}, status_code=400)

    def _codes_page(self, codes: list[str], *, turned_on: bool) -> TemplateResponse:
        return self.page(
            "auth/two_factor_recovery_codes.html",
            {"codes": codes, "turned_on": turned_on},
            headers=_SECRET_PAGE_HEADERS,
        )

    async def _new_session(self, request: Request, user: AuthUser) -> None:
        """End the user's other sessions; this one goes on under a new id."""
        users = self.auth.users
        await users.bump_generation(user)
        fresh = await users.get(user.pk)
        if fresh is not None:
            await login(request, fresh)

    async def _disable_page(
        self,
        request: Request,
        errors: Mapping[str, list[str]] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return self.page(
            "auth/two_factor_disable.html",
            {"errors": errors or {}},
            status_code=status_code,
            headers=headers,
        )

    async def disable_form(self, request: Request) -> Response:
        """Ask for the password before two-factor goes off."""
        if not await self.two_factor.is_enabled(self._user(request)):
            return RedirectResponse(request.url_for("auth.two_factor"), 303)
        return await self._disable_page(request)

    async def disable_submit(self, request: Request, password: PasswordField = "") -> Response:
        """Turn two-factor off (the secret and the recovery codes are forgotten)."""
        user = self._user(request)
        refused = await self._check_password(request, user, password, self._disable_page)
        if refused is not None:
            return refused
        await self.two_factor.disable(user)
        logger.info("Two-factor sign-in turned off for user %s", user.pk)
        flash(request, "Two-factor sign-in is off.", "success")
        return RedirectResponse(request.url_for("auth.two_factor"), 303)

    async def recovery_codes_submit(
        self, request: Request, password: PasswordField = ""
    ) -> Response:
        """New recovery codes (the old ones stop working), for the password; shown once."""
        user = self._user(request)
        if not await self.two_factor.is_enabled(user):
            return RedirectResponse(request.url_for("auth.two_factor"), 303)
        refused = await self._check_password(request, user, password, self._settings_page)
        if refused is not None:
            return refused
        codes = await self.two_factor.new_recovery_codes(user)
        return self._codes_page(codes, turned_on=False)


def _is_totp(code: str, digits: int) -> bool:
    typed = "".join(code.split())
    return len(typed) == digits and typed.isascii() and typed.isdigit()
