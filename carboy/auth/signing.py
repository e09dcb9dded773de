"""Signed values: what sessions, CSRF tokens and reset links are made of.

A :class:`Signer` signs with the app's ``secret_key`` and verifies with it
and with every key in ``secret_key_fallbacks`` (rotation without signing
everybody out). Each use has its own *salt* (``"carboy.auth.session"``,
``"carboy.auth.csrf"``...): a value signed for one purpose never verifies
for another, even under the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import itsdangerous
from itsdangerous.encoding import want_bytes

from carboy.exceptions import ConfigurationError
from carboy.settings import Settings


class BadSignature(Exception):
    """A signed value was tampered with, signed by an unknown key, or made for another salt.

    Example:
        >>> signer = Signer("k" * 40, salt="demo")
        >>> try:
        ...     signer.unsign("hello.forged")
        ... except BadSignature:
        ...     print("refused")
        refused
    """


class SignatureExpired(BadSignature):
    """A correctly signed value is older than the ``max_age`` it was checked against."""


#: How many verified tokens a :class:`Signer` remembers (then it forgets them all).
_VERIFIED_MAX = 1024


class _TimestampSigner(itsdangerous.TimestampSigner):
    """itsdangerous's signer with each key's HMAC-derived key computed once, not per value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        derive = super().derive_key
        self._derived = {key: derive(key) for key in self.secret_keys}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        return derived if derived is not None else super().derive_key(key)


class _JSONText:
    """The serializer's JSON layer, except that loading leaves the text: :class:`Signer` parses it.

    So a verified token can be remembered as its JSON text, and every load
    still returns fresh objects (a caller changing them changes no cache).
    """

    @staticmethod
    def loads(text: str) -> str:
        return text

    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class _Serializer(itsdangerous.URLSafeTimedSerializer):
    """itsdangerous's serializer reusing one signer per salt instead of making one per value."""

    default_signer = _TimestampSigner

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict[str | bytes | None, itsdangerous.Signer] = {}

    def make_signer(self, salt: str | bytes | None = None) -> itsdangerous.Signer:
        key = self.salt if salt is None else salt
        signer = self._signers.get(key)
        if signer is None:
            signer = self._signers[key] = super().make_signer(salt)
        return signer


class Signer:
    """Sign and verify strings and JSON values, with key rotation and a salt per purpose.

    HMAC-SHA256 over an HMAC-derived key (itsdangerous underneath). Signed
    values carry their signing time, so :meth:`unsign` and :meth:`loads` can
    refuse old ones (``max_age``).

    Args:
        secret_key: The key that signs (and verifies).
        fallbacks: Former keys, newest first: they verify, never sign.
        salt: The purpose; values signed under another salt do not verify.

    Raises:
        ConfigurationError: ``secret_key`` is empty.

    Example:
        >>> signer = Signer("k" * 40, salt="carboy.demo")
        >>> token = signer.dumps({"user": 7})
        >>> signer.loads(token, max_age=3600)
        {'user': 7}
        >>> rotated = Signer("n" * 40, fallbacks=["k" * 40], salt="carboy.demo")
        >>> rotated.loads(token)
        {'user': 7}
    """

    __slots__ = ("_serializer", "_signer", "_verified", "salt")

    def __init__(self, secret_key: str, *, fallbacks: Sequence[str] = (), salt: str) -> None:
        if not secret_key:
            raise ConfigurationError("Signer needs a non-empty secret key")
        if isinstance(fallbacks, str):
            raise ConfigurationError("Signer(fallbacks=...) takes a list of keys, not one string")
        # itsdangerous tries keys newest last; ours are given newest first.
        keys = [key for key in reversed(fallbacks) if key] + [secret_key]
        options: dict[str, Any] = {"digest_method": hashlib.sha256, "key_derivation": "hmac"}
        self.salt = salt
        # Keys are derived once here: a request verifying a cookie pays one HMAC, not three.
        self._signer = _TimestampSigner(keys, salt=salt, **options)
        self._serializer = _Serializer(keys, salt=salt, serializer=_JSONText, signer_kwargs=options)
        #: Tokens already verified (no max_age) -> their JSON text: a session cookie comes
        #: back on every request, and its signature is the same work each time.
        self._verified: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, salt: str) -> Signer:
        """The signer of ``settings.secret_key`` and ``settings.secret_key_fallbacks``.

        Raises:
            ConfigurationError: No secret key is set (the message says how to set one).

        Example:
            >>> from carboy import Settings
            >>> settings = Settings(secret_key="k" * 40)
            >>> Signer.from_settings(settings, salt="carboy.demo").unsign(
            ...     Signer("k" * 40, salt="carboy.demo").sign("hi"))
            'hi'
        """
        *fallbacks, current = settings.signing_keys()
        return cls(current, fallbacks=list(reversed(fallbacks)), salt=salt)

    def sign(self, value: str) -> str:
        """``value`` with its signing time and signature appended (URL- and cookie-safe
        when ``value`` is).

        Example:
            >>> Signer("k" * 40, salt="demo").sign("hi").startswith("hi.")
            True
        """
        return self._signer.sign(value).decode("ascii")

    def unsign(self, signed: str, *, max_age: int | None = None) -> str:
        """The value of a string made by :meth:`sign`, checked.

        Raises:
            SignatureExpired: Older than ``max_age`` seconds.
            BadSignature: Tampered with, or not signed by one of the keys for this salt.
        """
        try:
            return self._signer.unsign(signed, max_age=max_age).decode("utf-8")
        except itsdangerous.SignatureExpired as exc:
            raise SignatureExpired(str(exc)) from None
        except (itsdangerous.BadSignature, UnicodeError) as exc:
            raise BadSignature(str(exc)) from None

    def dumps(self, obj: Any) -> str:
        """``obj`` as compact JSON, compressed when that is shorter, signed: URL-safe text.

        Example:
            >>> token = Signer("k" * 40, salt="demo").dumps([1, 2])
            >>> "." in token
            True
        """
        token: str = self._serializer.dumps(obj)
        return token

    def loads(self, token: str, *, max_age: int | None = None) -> Any:
        """The JSON value of a token made by :meth:`dumps`, checked.

        Raises:
            SignatureExpired: Older than ``max_age`` seconds.
            BadSignature: Tampered with, malformed, or not signed by one of the keys.
        """
        text = self._verified.get(token) if max_age is None else None
        if text is None:
            try:
                text = self._serializer.loads(token, max_age=max_age)
            except itsdangerous.SignatureExpired as exc:
                raise SignatureExpired(str(exc)) from None
            except (itsdangerous.BadData, UnicodeError, ValueError) as exc:
                raise BadSignature(str(exc)) from None
            if not isinstance(text, str):
                raise BadSignature("the payload is not JSON text")
            if max_age is None:
                if len(self._verified) >= _VERIFIED_MAX:
                    self._verified.clear()
                self._verified[token] = text
        try:
            return json.loads(text)
        except ValueError as exc:
            raise BadSignature(f"the payload is not JSON: {exc}") from None

    def __repr__(self) -> str:
        return f"Signer(salt={self.salt!r})"
