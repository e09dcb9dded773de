"""Security schemes from carboy.auth, and which operations need them.

The schemes are those the app's :class:`~carboy.auth.Auth` accepts: the
session cookie (with the CSRF header on requests that change something),
personal access tokens (``cby_...``) and JWTs, each under its
``Authorization`` scheme. An operation needs them when a guard of
:mod:`carboy.auth.guards` (``login_required``, ``permission_required(...)``,
``staff_required`` or a ``Guard`` of your own) is among its dependencies;
any one of the schemes will do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carboy.exceptions import ConfigurationError
from carboy.routing import RouteInfo

if TYPE_CHECKING:
    from carboy.app import Carboy

#: Methods whose requests change something (CSRF applies to them under a session).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The names of the schemes in ``components.securitySchemes``.
SESSION, CSRF, TOKEN, JWT = "session", "csrfToken", "personalToken", "jwt"


@dataclass(frozen=True)
class Requirement:
    """What one operation needs: alternatives (any one will do), and a note for its docs."""

    alternatives: list[dict[str, list[str]]]
    note: str | None = None


@dataclass
class Security:
    """The security schemes of a document, and how to read an operation's guards.

    Build it with :meth:`from_app`; a document of an app without carboy.auth has none.
    """

    schemes: dict[str, Any] = field(default_factory=dict)
    #: Names of the schemes that one credential each satisfies (the session is apart).
    bearer: tuple[str, ...] = ()
    session: bool = False
    csrf: bool = False

    @classmethod
    def from_app(cls, app: Carboy, csrf_header: str | None) -> Security:
        """The schemes of the app's ``Auth`` module (none when it has none)."""
        try:
            from carboy.auth import Auth
        except ImportError:  # carboy[auth] is not installed: nothing to describe
            return cls()
        try:
            auth = app.get_module(Auth)
        except ConfigurationError:
            return cls()
        schemes: dict[str, Any] = {
            SESSION: {
                "type": "apiKey",
                "in": "cookie",
                "name": auth.session_config.cookie_name,
                "description": "The session cookie of a signed-in browser (over HTTPS its "
                f"name is __Host-{auth.session_config.cookie_name}).",
            }
        }
        if csrf_header:
            schemes[CSRF] = {
                "type": "apiKey",
                "in": "header",
                "name": csrf_header,
                "description": "The CSRF token, sent with the session cookie on every "
                "request that changes something (POST, PUT, PATCH, DELETE).",
            }
        bearer: list[str] = []
        if auth.tokens is not None:
            prefix = auth.tokens.prefix
            schemes[TOKEN] = {
                "type": "http",
                "scheme": auth.tokens.scheme.lower(),
                "description": f"A personal access token: Authorization: {auth.tokens.scheme} "
                f"{prefix}_<key>_<secret>.",
            }
            bearer.append(TOKEN)
        if auth.jwt is not None:
            schemes[JWT] = {
                "type": "http",
                "scheme": auth.jwt.scheme.lower(),
                "bearerFormat": "JWT",
                "description": f"A JSON Web Token: Authorization: {auth.jwt.scheme} <jwt>.",
            }
            bearer.append(JWT)
        return cls(schemes, tuple(bearer), session=True, csrf=bool(csrf_header))

    def requirement(self, info: RouteInfo, method: str) -> Requirement | None:
        """What the operation needs, from the guards among its dependencies (None: nothing)."""
        guards = _guards(info)
        if not guards:
            return None
        alternatives: list[dict[str, list[str]]] = []
        if self.session:
            needs_csrf = self.csrf and method.upper() in UNSAFE_METHODS
            alternatives.append({SESSION: [], CSRF: []} if needs_csrf else {SESSION: []})
        alternatives.extend({name: []} for name in self.bearer)
        note = "Requires " + ", ".join(f"`{name}`" for name in guards) + "."
        return Requirement(alternatives, note)


def _guards(info: RouteInfo) -> list[str]:
    """The names of the carboy.auth guards among the route's dependencies."""
    try:
        from carboy.auth import Guard
    except ImportError:
        return []
    names = [dep.name for dep in info.dependencies if isinstance(dep, Guard)]
    return list(dict.fromkeys(names))
