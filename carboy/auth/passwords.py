"""Passwords: argon2id hashing with transparent rehash, and the password validators.

:class:`PasswordHasher` stores passwords as argon2id hashes (argon2-cffi), whose
string carries its own parameters. When you raise the parameters, hashes made
with the old ones still verify, and :meth:`PasswordHasher.needs_rehash` tells
the store to save a new hash at the next sign-in.

The validators refuse weak passwords before they are hashed:
:class:`MinimumLength`, :class:`CommonPassword` (a list of about 24,000 leaked
passwords shipped with carboy), :class:`UserAttributeSimilarity` and
:class:`NumericPassword`. :func:`validate_password` runs a list of them and
raises one :class:`PasswordInvalid` with every message.

Example:
    >>> hasher = PasswordHasher()
    >>> encoded = hasher.hash("correct horse battery staple")
    >>> hasher.verify(encoded, "correct horse battery staple")
    True
    >>> validate_password("12345678")
    Traceback (most recent call last):
    ...
    PasswordInvalid: This password is too common. This password is entirely numeric.
"""

from __future__ import annotations

import functools
import gzip
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: The common-password list shipped with carboy (see ``carboy/auth/data/README.md``).
COMMON_PASSWORDS_PATH = Path(__file__).parent / "data" / "common-passwords.txt.gz"

#: What an unusable password (a user who cannot sign in with one) starts with.
UNUSABLE_PREFIX = "!"

#: Longest password hashed or verified: argon2 would take a megabyte, but a
#: request body that large is an attack, not a password.
MAX_PASSWORD_LENGTH = 4096


class PasswordHasher:
    """Hashes and verifies passwords with argon2id (argon2-cffi).

    The defaults are RFC 9106's second recommended profile (argon2-cffi's own
    defaults): 3 passes over 64 MiB with 4 lanes. Raising any parameter makes
    older hashes :meth:`needs_rehash`; they still verify, and the user store
    saves a new hash when the user next signs in.

    Args:
        time_cost: Passes over the memory.
        memory_cost: Memory in KiB.
        parallelism: Lanes (threads) used.
        hash_len: Bytes of hash.
        salt_len: Bytes of random salt.
        max_length: Longest password accepted (characters); longer ones are
            refused by :meth:`hash` and never verify.

    Example:
        >>> hasher = PasswordHasher(time_cost=4)
        >>> encoded = hasher.hash("s3cret-enough")
        >>> encoded.startswith("$argon2id$")
        True
    """

    def __init__(
        self,
        *,
        time_cost: int = argon2.DEFAULT_TIME_COST,
        memory_cost: int = argon2.DEFAULT_MEMORY_COST,
        parallelism: int = argon2.DEFAULT_PARALLELISM,
        hash_len: int = argon2.DEFAULT_HASH_LENGTH,
        salt_len: int = argon2.DEFAULT_RANDOM_SALT_LENGTH,
        max_length: int = MAX_PASSWORD_LENGTH,
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=argon2.Type.ID,
        )
        self.max_length = max_length
        self._dummy: str | None = None

    @property
    def parameters(self) -> argon2.Parameters:
        """The argon2 parameters new hashes are made with."""
        return argon2.Parameters(
            type=argon2.Type.ID,
            version=argon2.low_level.ARGON2_VERSION,
            salt_len=self._argon2.salt_len,
            hash_len=self._argon2.hash_len,
            time_cost=self._argon2.time_cost,
            memory_cost=self._argon2.memory_cost,
            parallelism=self._argon2.parallelism,
        )

    def hash(self, password: str) -> str:
        """The argon2id hash of ``password``, as a string that carries its parameters.

        Raises:
            ValueError: ``password`` is longer than ``max_length``.
            TypeError: ``password`` is not a string.
        """
        if not isinstance(password, str):
            raise TypeError(f"A password is a str, got {type(password).__name__}")
        if len(password) > self.max_length:
            raise ValueError(
                f"Password too long: {len(password)} characters (at most {self.max_length})"
            )
        return self._argon2.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        """True when ``password`` matches the stored hash ``encoded``.

        Never raises for a wrong password, a malformed or unusable hash, or a
        password that is too long: each is False. argon2 compares the hashes in
        constant time.

        Example:
            >>> hasher.verify(hasher.hash("pw-one-two"), "pw-one-three")
            False
        """
        if not isinstance(password, str) or len(password) > self.max_length:
            self.dummy_verify()
            return False
        if not is_usable(encoded):
            self.dummy_verify()
            return False
        try:
            return self._argon2.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True when ``encoded`` was made with other parameters (or another argon2 type).

        Example:
            >>> PasswordHasher(time_cost=5).needs_rehash(PasswordHasher(time_cost=4).hash("pw"))
            True
        """
        if not is_usable(encoded):
            return False
        try:
            return self._argon2.check_needs_rehash(encoded)
        except (InvalidHashError, ValueError):
            return True

    def dummy_verify(self) -> None:
        """Spend the time of one verification, for a user that does not exist.

        Signing in as an unknown user then takes as long as with a wrong password,
        so the answer's timing does not tell which accounts exist.
        """
        if self._dummy is None:
            self._dummy = self._argon2.hash(secrets.token_urlsafe(16))
        try:
            self._argon2.verify(self._dummy, "")
        except VerificationError:
            pass

    def __repr__(self) -> str:
        p = self._argon2
        return (
            f"PasswordHasher(time_cost={p.time_cost}, memory_cost={p.memory_cost}, "
            f"parallelism={p.parallelism})"
        )


def make_unusable_password() -> str:
    """A value for the password column that no password verifies against.

    Example:
        >>> is_usable(make_unusable_password())
        False
    """
    return UNUSABLE_PREFIX + secrets.token_urlsafe(30)


def is_usable(encoded: str | None) -> bool:
    """False for a user who cannot sign in with a password (no hash, or an unusable one).

    Example:
        >>> is_usable(PasswordHasher().hash("pw")), is_usable(None)
        (True, False)
    """
    return bool(encoded) and not str(encoded).startswith(UNUSABLE_PREFIX)


# -- validators ------------------------------------------------------------------------
class PasswordInvalid(ValueError):
    """A password that one or more validators refused.

    Attributes:
        messages: What is wrong with it, one sentence per validator that refused.
        codes: A stable code per message (``"password_too_short"``...).

    Example:
        >>> try:
        ...     validate_password("abc")
        ... except PasswordInvalid as exc:
        ...     exc.codes
        ['password_too_short', 'password_too_common']
    """

    def __init__(self, messages: Sequence[str], codes: Sequence[str] = ()) -> None:
        self.messages = list(messages)
        self.codes = list(codes) or ["password_invalid"] * len(self.messages)
        super().__init__(" ".join(self.messages))


@runtime_checkable
class PasswordValidator(Protocol):
    """One rule a new password must pass; write your own with these two methods.

    ``user`` is the user the password is for, or a mapping of its fields
    (``{"username": ..., "email": ...}``) when the user does not exist yet.

    Example:
        >>> class NoSpaces:
        ...     def validate(self, password, user=None):
        ...         if " " in password:
        ...             raise PasswordInvalid(["No spaces, please."], ["password_has_space"])
        ...     def help_text(self):
        ...         return "Your password cannot contain spaces."
        >>> isinstance(NoSpaces(), PasswordValidator)
        True
    """

    def validate(self, password: str, user: Any = None) -> None:
        """Raise :class:`PasswordInvalid` when ``password`` breaks the rule."""
        ...

    def help_text(self) -> str:
        """The rule, said to the user choosing a password."""
        ...


class MinimumLength:
    """Refuses passwords shorter than ``min_length`` characters.

    Example:
        >>> MinimumLength(12).validate("eleven-char")
        Traceback (most recent call last):
        ...
        PasswordInvalid: This password is too short: it must have at least 12 characters.
    """

    def __init__(self, min_length: int = 8) -> None:
        if min_length < 1:
            raise ValueError(f"MinimumLength(min_length={min_length}): must be at least 1")
        self.min_length = min_length

    def validate(self, password: str, user: Any = None) -> None:
        """Raise :class:`PasswordInvalid` when ``password`` is too short."""
        if len(password) < self.min_length:
            raise PasswordInvalid(
                [
                    "This password is too short: it must have at least "
                    f"{self.min_length} characters."
                ],
                ["password_too_short"],
            )

    def help_text(self) -> str:
        """The rule, said to the user."""
        return f"Your password must have at least {self.min_length} characters."


@functools.cache
def _load_password_list(path: Path) -> frozenset[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


class CommonPassword:
    """Refuses passwords from a list of common ones (case-insensitively).

    The default list has the 24,605 most common distinct passwords of SecLists'
    "10 million passwords" list (``carboy/auth/data/README.md``). It is read
    once, the first time a password is checked.

    Args:
        passwords: Another list: a path to a text file of one password a line
            (gzipped if it ends in ``.gz``), or the passwords themselves.

    Example:
        >>> CommonPassword().validate("Dragon")
        Traceback (most recent call last):
        ...
        carboy.auth.passwords.PasswordInvalid: This password is too common.
        >>> CommonPassword(["hunter2"]).validate("dragon")
    """

    def __init__(self, passwords: str | Path | Iterable[str] = COMMON_PASSWORDS_PATH) -> None:
        if isinstance(passwords, str | Path):
            path = Path(passwords)
            if not path.is_file():
                raise ValueError(f"CommonPassword: no password list at {path}")
            self._source: Path | frozenset[str] = path
        else:
            self._source = frozenset(p.strip().lower() for p in passwords)

    @property
    def passwords(self) -> frozenset[str]:
        """The refused passwords, lowercased (a file is read once per process)."""
        if isinstance(self._source, Path):
            return _load_password_list(self._source)
        return self._source

    def validate(self, password: str, user: Any = None) -> None:
        """Raise :class:`PasswordInvalid` when ``password`` is on the list."""
        if password.strip().lower() in self.passwords:
            raise PasswordInvalid(["This password is too common."], ["password_too_common"])

    def help_text(self) -> str:
        """The rule, said to the user."""
        return "Your password cannot be a commonly used password."


def _attribute(user: Any, name: str) -> Any:
    if isinstance(user, Mapping):
        return user.get(name)
    return getattr(user, name, None)


class UserAttributeSimilarity:
    """Refuses passwords too similar to the user's username, e-mail or other fields.

    Each attribute's value, and each of its parts of three or more characters
    (``ann.lee@example.com`` gives ``ann``, ``lee``, ``example``, ``com``), is
    compared with the password; a similarity ratio (``difflib``) at or above
    ``max_similarity`` refuses it.

    Args:
        attributes: The user's fields to compare with.
        max_similarity: From 0.1 (strict) to 1.0 (only an exact match refuses).

    Example:
        >>> UserAttributeSimilarity().validate("annlee1", {"username": "annlee"})
        Traceback (most recent call last):
        ...
        carboy.auth.passwords.PasswordInvalid: This password is too similar to the username.
    """

    DEFAULT_ATTRIBUTES = ("username", "email", "first_name", "last_name")

    def __init__(
        self, attributes: Sequence[str] = DEFAULT_ATTRIBUTES, max_similarity: float = 0.7
    ) -> None:
        if not 0.1 <= max_similarity <= 1.0:
            raise ValueError(
                f"UserAttributeSimilarity(max_similarity={max_similarity}): "
                "must be between 0.1 and 1.0"
            )
        self.attributes = tuple(attributes)
        self.max_similarity = max_similarity

    def _too_similar(self, password: str, value: str) -> bool:
        # The ratio is at most 2*min/(sum of lengths): skip pairs that cannot reach
        # the threshold, which also keeps a very long password cheap to check.
        bound = 2 * min(len(password), len(value)) / (len(password) + len(value))
        if bound < self.max_similarity:
            return False
        matcher = SequenceMatcher(a=password, b=value)
        return matcher.quick_ratio() >= self.max_similarity and (
            matcher.ratio() >= self.max_similarity
        )

    def validate(self, password: str, user: Any = None) -> None:
        """Raise :class:`PasswordInvalid` when ``password`` is like one of the user's fields."""
        if user is None:
            return
        lowered = password.lower()
        for name in self.attributes:
            value = _attribute(user, name)
            if not isinstance(value, str) or not value:
                continue
            value = value.lower()
            parts = {value, *(p for p in re.split(r"\W+", value) if len(p) >= 3)}
            if any(self._too_similar(lowered, part) for part in parts):
                label = name.replace("_", " ")
                raise PasswordInvalid(
                    [f"This password is too similar to the {label}."],
                    ["password_too_similar"],
                )

    def help_text(self) -> str:
        """The rule, said to the user."""
        return "Your password cannot be too similar to your other personal information."


class NumericPassword:
    """Refuses passwords made only of digits.

    Example:
        >>> NumericPassword().validate("20250101")
        Traceback (most recent call last):
        ...
        carboy.auth.passwords.PasswordInvalid: This password is entirely numeric.
    """

    def validate(self, password: str, user: Any = None) -> None:
        """Raise :class:`PasswordInvalid` when ``password`` has only digits."""
        if password.isdigit():
            raise PasswordInvalid(["This password is entirely numeric."], ["password_numeric"])

    def help_text(self) -> str:
        """The rule, said to the user."""
        return "Your password cannot be entirely numeric."


def default_validators() -> list[PasswordValidator]:
    """The validators :class:`~carboy.auth.Auth` uses unless told otherwise.

    Example:
        >>> [type(v).__name__ for v in default_validators()]
        ['UserAttributeSimilarity', 'MinimumLength', 'CommonPassword', 'NumericPassword']
    """
    return [UserAttributeSimilarity(), MinimumLength(), CommonPassword(), NumericPassword()]


def validate_password(
    password: str, user: Any = None, validators: Sequence[PasswordValidator] | None = None
) -> None:
    """Run every validator on ``password``; raise one error with all their messages.

    Args:
        password: The new password.
        user: The user it is for, or a mapping of its fields before it exists.
        validators: Defaults to :func:`default_validators`.

    Raises:
        PasswordInvalid: One or more validators refused it.

    Example:
        >>> validate_password("plum-tree-in-may", {"username": "ann"})
    """
    if not isinstance(password, str):
        raise PasswordInvalid(["A password must be text."], ["password_invalid"])
    messages: list[str] = []
    codes: list[str] = []
    for validator in default_validators() if validators is None else validators:
        try:
            validator.validate(password, user)
        except PasswordInvalid as exc:
            messages.extend(exc.messages)
            codes.extend(exc.codes)
    if messages:
        raise PasswordInvalid(messages, codes)


def password_help_texts(validators: Sequence[PasswordValidator] | None = None) -> list[str]:
    """What the validators require, to show beside a password field.

    Example:
        >>> password_help_texts([MinimumLength(10)])
        ['Your password must have at least 10 characters.']
    """
    chosen = default_validators() if validators is None else validators
    return [validator.help_text() for validator in chosen]
