"""The signed links the auth pages e-mail: password reset and e-mail verification.

A link carries the user's id and a fingerprint of the account state it is
for, signed with the app's secret key (and its fallbacks) under a salt of its
own, and it expires. The fingerprint is what makes a link single-use without
storing anything: a reset link is bound to the session generation (which a
new password bumps) and the e-mail address; a verification link to the
address and whether it is verified yet. Once used, the state moved, and the
link no longer matches.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from carboy.auth._protocols import AuthUser, EmailUser, UserStore
from carboy.auth.signing import BadSignature, Signer
from carboy.settings import Settings

RESET_SALT = "carboy.auth.password-reset"
VERIFY_SALT = "carboy.auth.verify-email"
#: The longest token accepted: a real one is about 100 characters.
MAX_TOKEN_LENGTH = 512


class LinkSigner:
    """Makes and checks the signed tokens of one kind of link.

    Args:
        settings: Whose ``secret_key`` (and ``secret_key_fallbacks``) sign.
        salt: The kind of link (:data:`RESET_SALT`, :data:`VERIFY_SALT`).
        max_age: Seconds a link works.
    """

    def __init__(self, settings: Settings, *, salt: str, max_age: int) -> None:
        self._signer = Signer.from_settings(settings, salt=salt)
        self.salt = salt
        self.max_age = max_age

    def make(self, user: AuthUser) -> str:
        """A token for ``user`` in its current state."""
        return self._signer.dumps([user.pk, self._fingerprint(user)])

    async def check(self, token: str, users: UserStore) -> AuthUser | None:
        """The user ``token`` was made for, if it is genuine, fresh and still matches."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            value: Any = self._signer.loads(token, max_age=self.max_age)
        except BadSignature:  # expired too (SignatureExpired is one)
            return None
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(part, str) for part in value)
        ):
            return None
        pk, fingerprint = value
        user = await users.get(pk)
        if user is None or not user.is_active:
            return None
        if not hmac.compare_digest(fingerprint, self._fingerprint(user)):
            return None
        return user

    def _fingerprint(self, user: AuthUser) -> str:
        if self.salt == VERIFY_SALT:
            state = [_email(user), str(_verified(user))]
        else:
            state = [str(user.session_generation), _email(user)]
        return hashlib.sha256("\0".join([self.salt, user.pk, *state]).encode()).hexdigest()[:32]


def _email(user: AuthUser) -> str:
    return (user.email or "").casefold() if isinstance(user, EmailUser) else ""


def _verified(user: AuthUser) -> bool:
    return bool(user.email_verified) if isinstance(user, EmailUser) else False
