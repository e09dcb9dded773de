"""Reading ``Authorization: <scheme> <token>`` and refusing it the RFC 6750 way.

Shared by the token backends (personal access tokens, JWT): one place parses
the header, one place builds the 401 with its ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import re

from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError, HTTPException

#: An auth-scheme is an RFC 9110 token; carboy accepts letters, digits and ``-``.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,31}")
#: What a token may be made of (RFC 6750's b64token, which covers JWTs and ours).
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def check_scheme(scheme: str, owner: str) -> str:
    """``scheme`` if it can appear in an Authorization header, else a ConfigurationError."""
    if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme):
        raise ConfigurationError(
            f"{owner}(scheme={scheme!r}): the header scheme must be a word such as "
            "'Bearer' or 'Token' (letters, digits and '-', at most 32)"
        )
    return scheme


def read_token(conn: HTTPConnection, scheme: str, max_length: int) -> str | None:
    """The token of ``Authorization: <scheme> <token>``, or None for another scheme.

    Raises:
        HTTPException: 401 when the header is of this scheme but malformed
            (empty, too long, characters a token cannot hold, or sent twice).
    """
    values = conn.headers.getlist("authorization")
    if not values:
        return None
    mine = [value for value in values if value.partition(" ")[0].lower() == scheme.lower()]
    if not mine:
        return None
    if len(values) > 1:
        raise refusal(scheme, "More than one Authorization header", error="invalid_request")
    token = mine[0].partition(" ")[2].strip(" \t")
    if not token:
        raise refusal(scheme, "The Authorization header has no token", error="invalid_request")
    if len(token) > max_length:
        raise refusal(scheme, f"The token is longer than {max_length} characters")
    if not _TOKEN.fullmatch(token):
        raise refusal(scheme, "The token has characters a token cannot contain")
    return token


def refusal(scheme: str, description: str, *, error: str = "invalid_token") -> HTTPException:
    """A 401 whose ``WWW-Authenticate`` names the scheme, the error and why (RFC 6750 §3).

    ``description`` is one of this package's fixed sentences (no quotes or
    backslashes), never text taken from the request.
    """
    challenge = f'{scheme} error="{error}", error_description="{description}"'
    return HTTPException(401, description, headers={"WWW-Authenticate": challenge})
