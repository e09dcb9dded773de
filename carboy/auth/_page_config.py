"""What the auth pages do: ``Auth(pages=PagesConfig(...))``."""

from __future__ import annotations

from dataclasses import dataclass

from carboy.auth._throttling import LoginThrottle
from carboy.exceptions import ConfigurationError

#: Three days, Django's ``PASSWORD_RESET_TIMEOUT``.
DEFAULT_LINK_MAX_AGE = 3 * 24 * 3600
# The throttles' defaults (they hold no state: the counts are in the app's cache).
# Ten wrong passwords a minute per account and per client address.
_LOGIN_THROTTLE = LoginThrottle("10/minute", ip_rate="10/minute")
# Five reset or sign-up e-mails an hour per address, twenty per client address.
_EMAIL_THROTTLE = LoginThrottle("5/hour", ip_rate="20/hour", scope="auth.email")
# Ten wrong codes an hour per account: about 240 guesses a day, each with a chance of
# three in a million (a window of one step either way), not the 86,400 of an unthrottled form.
_CODE_THROTTLE = LoginThrottle("10/hour", ip_rate="20/hour", scope="auth.code")


@dataclass(frozen=True, slots=True)
class PagesConfig:
    """The sign-in, sign-out, password and sign-up pages of :class:`~carboy.auth.Auth`.

    Args:
        signup: Offer ``/auth/signup``, where visitors make their own account.
        verify_email: New accounts must open a link sent to their e-mail address
            before they can sign in (with ``signup``).
        password_reset: Offer ``/auth/password/reset`` (a link by e-mail).
        login_redirect: Where a user goes after signing in, when the page they
            came from (``?next=``) is not known or not safe.
        logout_redirect: Where a user goes after signing out.
        link_max_age: Seconds a reset or verification link works.
        site_url: The scheme and host e-mailed links start with
            (``"https://shop.example.com"``); by default the request's own, which
            is safe only when ``allowed_hosts`` lists your hosts (production
            refuses other ``Host`` headers; debug mode accepts any).
        login_throttle: Wrong passwords allowed per account and per client
            address (:class:`~carboy.auth.LoginThrottle`), on the sign-in page and
            every page that asks for a password; None turns it off.
        email_throttle: Password-reset requests and sign-ups (the pages that send
            e-mail) per address and per client address; None turns it off.
        code_throttle: Wrong two-factor codes per account and per client
            address; None turns it off.

    Example:
        >>> from carboy.auth import Auth, PagesConfig
        >>> auth = Auth(pages=PagesConfig(signup=True, login_redirect="/dashboard"))
    """

    signup: bool = False
    verify_email: bool = True
    password_reset: bool = True
    login_redirect: str = "/"
    logout_redirect: str = "/"
    link_max_age: int = DEFAULT_LINK_MAX_AGE
    site_url: str | None = None
    login_throttle: LoginThrottle | None = _LOGIN_THROTTLE
    email_throttle: LoginThrottle | None = _EMAIL_THROTTLE
    code_throttle: LoginThrottle | None = _CODE_THROTTLE

    def __post_init__(self) -> None:
        for name in ("login_redirect", "logout_redirect"):
            value = getattr(self, name)
            if not value.startswith("/") or value.startswith("//"):
                raise ConfigurationError(
                    f"PagesConfig({name}={value!r}): give a path on this site, like '/'"
                )
        if self.link_max_age <= 0:
            raise ConfigurationError(
                f"PagesConfig(link_max_age={self.link_max_age!r}) must be a positive "
                "number of seconds"
            )
        if self.site_url is not None and not self.site_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"PagesConfig(site_url={self.site_url!r}) must start with https:// (or http://)"
            )

    @property
    def mail_needed(self) -> bool:
        """True when a page sends e-mail (password reset, or verification of sign-ups)."""
        return self.password_reset or (self.signup and self.verify_email)

    @property
    def cache_needed(self) -> bool:
        """True when a throttle keeps its counts in the app's cache (it has none of its own)."""
        throttles = (self.login_throttle, self.email_throttle, self.code_throttle)
        return any(t is not None and t.cache is None for t in throttles)
