"""Two-factor sign-in with TOTP (authenticator apps, via pyotp) and recovery codes.

A user enrols by adding the secret to an authenticator app (the
``otpauth://`` URI, as a QR code or typed in) and proving it with one code;
from then on, signing in takes a password and a code. A code is accepted
within ``window`` steps of the server's clock, and once only: the step it
belongs to is recorded, and that code (or an older one) is refused after.
Recovery codes, shown once at enrolment, are stored as SHA-256 hashes and
each works a single time.

Between the password and the code the session holds a *pending* state, not a
sign-in: :meth:`TwoFactor.begin_pending` after the password,
:meth:`TwoFactor.complete` with the code, then ``login(request, user)``. The
state expires, and is dropped after ``max_attempts`` wrong codes.

Tables ``auth_totp`` and ``auth_recovery_code`` (the auth battery's
migrations) name the user by ``pk``, as tokens do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import BigInteger, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from carboy.auth._protocols import AuthUser, UserStore
from carboy.db import Database, Model
from carboy.exceptions import ConfigurationError

#: The session key of the pending state (the user who gave a password, not yet a code).
PENDING_KEY = "_auth_2fa_pending"
#: Recovery codes: 16 characters of 32 unambiguous ones (80 bits), in groups of four.
_RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 16


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def _normalize_recovery(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


class TOTPDevice(Model):
    """A user's authenticator (table ``auth_totp``): its secret and the last step used.

    ``confirmed_at`` is None until the user proved the app works with a first code.
    """

    __tablename__ = "auth_totp"

    user_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Model):
    """One single-use recovery code (table ``auth_recovery_code``), hashed."""

    __tablename__ = "auth_recovery_code"

    user_id: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


@dataclass(frozen=True)
class Enrolment:
    """What a user needs to add the account to an authenticator app.

    Attributes:
        secret: The base32 secret, to type in when a QR code cannot be scanned.
        uri: The ``otpauth://totp/...`` provisioning URI (what a QR code encodes).
    """

    secret: str = field(repr=False)
    uri: str = field(repr=False)

    @property
    def secret_groups(self) -> str:
        """The secret in groups of four, easier to type: ``"JBSW Y3DP ..."``."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))

    def qr_svg(self, *, scale: int = 5) -> str:
        """The URI as a QR code: an inline ``<svg>`` element to put in a page as it is.

        Drawn here (by segno), so the secret never travels to an image service
        and the page needs no image request; dark modules on a white ground with
        the quiet zone around, which authenticator apps read in any theme.

        Example:
            >>> svg = enrolment.qr_svg()
            >>> svg.startswith("<svg")
            True
        """
        try:
            import segno
        except ImportError:  # pragma: no cover - segno is in carboy[auth]
            raise ConfigurationError(
                "QR codes for two-factor enrolment need segno: pip install 'carboy[auth]'"
            ) from None
        label = "QR code to scan with your authenticator app"
        svg: str = segno.make(self.uri, error="m").svg_inline(
            scale=scale, border=4, light="#fff", title=label, svgclass="qr"
        )
        return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


class TwoFactor:
    """TOTP two-factor: enrolment, verification, recovery codes and the pending sign-in.

    Args:
        db: The database of its tables; :class:`~carboy.auth.Auth` gives the app's.
        issuer: The name authenticator apps show above the code (your site's).
        digits: Digits per code (6, as most apps expect; 8 for some).
        interval: Seconds each code lasts (30).
        window: Steps before and after now that are accepted (clock drift, a
            code typed as it turned over); 1 is 30 s either way.
        recovery_codes: How many recovery codes a user gets.
        pending_max_age: How long the code may come after the password.
        max_attempts: Wrong codes a pending sign-in survives; then the password
            must be given again (6-digit codes must not be guessable).
        clock: Unix time now (``time.time``): the step of the codes and the age of
            a pending sign-in; tests give a clock they move.

    Example:
        >>> two_factor = TwoFactor(db, issuer="Example")
        >>> enrolment = await two_factor.begin_enrolment(user)
        >>> codes = await two_factor.confirm_enrolment(user, "123456")
    """

    def __init__(
        self,
        db: Database | None = None,
        *,
        issuer: str = "carboy",
        digits: int = 6,
        interval: int = 30,
        window: int = 1,
        recovery_codes: int = 10,
        pending_max_age: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if digits not in (6, 7, 8):
            raise ConfigurationError(f"TwoFactor(digits={digits!r}): use 6, 7 or 8")
        if interval < 10 or window < 0 or window > 5:
            raise ConfigurationError(
                "TwoFactor: interval must be at least 10 seconds and window 0 to 5 steps"
            )
        if recovery_codes < 1 or max_attempts < 1 or pending_max_age <= timedelta(0):
            raise ConfigurationError(
                "TwoFactor: recovery_codes, max_attempts and pending_max_age must be positive"
            )
        self.db = db
        self.issuer = issuer
        self.digits = digits
        self.interval = interval
        self.window = window
        self.recovery_codes = recovery_codes
        self.pending_max_age = pending_max_age
        self.max_attempts = max_attempts
        self.clock = clock

    def _database(self) -> Database:
        if self.db is None:
            raise ConfigurationError(
                "TwoFactor has no database: pass db=..., or use the one Auth sets up"
            )
        return self.db

    def _totp(self, secret: str) -> pyotp.TOTP:
        return pyotp.TOTP(secret, digits=self.digits, interval=self.interval)

    async def _device(self, user: AuthUser) -> TOTPDevice | None:
        async with self._database().async_session() as session:
            found: TOTPDevice | None = await session.scalar(
                select(TOTPDevice).where(TOTPDevice.user_id == user.pk)
            )
            return found

    # -- enrolment -------------------------------------------------------------------------
    async def begin_enrolment(self, user: AuthUser) -> Enrolment:
        """A new secret for ``user``, not active until :meth:`confirm_enrolment`.

        Starting again replaces an unconfirmed secret.

        Raises:
            ValueError: The user has two-factor on already (disable it first).

        Example:
            >>> enrolment = await two_factor.begin_enrolment(user)
            >>> enrolment.uri.startswith("otpauth://totp/")
            True
        """
        device = await self._device(user)
        if device is not None and device.confirmed_at is not None:
            raise ValueError("Two-factor sign-in is on already for this user; disable it first")
        secret = pyotp.random_base32()
        async with self._database().atransaction() as session:
            await session.execute(delete(TOTPDevice).where(TOTPDevice.user_id == user.pk))
            session.add(TOTPDevice(user_id=user.pk, secret=secret))
        return self._enrolment(user, secret)

    async def confirm_enrolment(self, user: AuthUser, code: str) -> list[str] | None:
        """Turn two-factor on with a first code from the app; the recovery codes, or None.

        None when the code is wrong (or no enrolment was begun): nothing changes.
        The recovery codes are shown to the user now and never again.

        Example:
            >>> codes = await two_factor.confirm_enrolment(user, "123456")
        """
        device = await self._device(user)
        if device is None or device.confirmed_at is not None:
            return None
        if not await self._accept(device, code):
            return None
        async with self._database().atransaction() as session:
            await session.execute(
                update(TOTPDevice).where(TOTPDevice.id == device.id).values(confirmed_at=_now())
            )
        return await self.new_recovery_codes(user)

    async def pending_enrolment(self, user: AuthUser) -> Enrolment | None:
        """The enrolment ``user`` began and has not confirmed yet, or None.

        What an enrolment page shows again when it is reloaded, so the secret
        already scanned into an app stays the one to confirm.

        Example:
            >>> enrolment = await two_factor.pending_enrolment(user)
            >>> if enrolment is None:
            ...     enrolment = await two_factor.begin_enrolment(user)
        """
        device = await self._device(user)
        if device is None or device.confirmed_at is not None:
            return None
        return self._enrolment(user, device.secret)

    def _enrolment(self, user: AuthUser, secret: str) -> Enrolment:
        uri = self._totp(secret).provisioning_uri(
            name=user.display_name or user.pk, issuer_name=self.issuer
        )
        return Enrolment(secret, uri)

    async def is_enabled(self, user: AuthUser) -> bool:
        """True when ``user`` has a confirmed authenticator (sign-in needs a code).

        Example:
            >>> await two_factor.is_enabled(user)
            False
        """
        device = await self._device(user)
        return device is not None and device.confirmed_at is not None

    async def disable(self, user: AuthUser) -> None:
        """Turn two-factor off: forget the secret and the recovery codes.

        Example:
            >>> await two_factor.disable(user)
        """
        async with self._database().atransaction() as session:
            await session.execute(delete(TOTPDevice).where(TOTPDevice.user_id == user.pk))
            await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.pk))

    # -- codes -----------------------------------------------------------------------------
    async def verify(self, user: AuthUser, code: str) -> bool:
        """True for a current, unused TOTP code or an unused recovery code of ``user``.

        A TOTP code is refused the second time (and so is any code of an
        earlier step); a recovery code is spent by this call.

        Example:
            >>> await two_factor.verify(user, "123456")
            True
        """
        device = await self._device(user)
        if device is None or device.confirmed_at is None:
            return False
        digits = "".join(code.split())
        if len(digits) == self.digits and digits.isascii() and digits.isdigit():
            return await self._accept(device, digits)
        return await self.use_recovery_code(user, code)

    async def _accept(self, device: TOTPDevice, code: str) -> bool:
        code = "".join(code.split())
        if len(code) != self.digits or not code.isascii() or not code.isdigit():
            return False
        totp = self._totp(device.secret)
        now = int(self.clock()) // self.interval
        matched: int | None = None
        for step in range(now - self.window, now + self.window + 1):
            # Every step is compared (no early exit), in constant time.
            if hmac.compare_digest(totp.generate_otp(step), code):
                matched = step
        if matched is None:
            return False
        if device.last_step is not None and matched <= device.last_step:
            return False  # replayed, or older than a code already used
        async with self._database().atransaction() as session:
            result = await session.execute(
                update(TOTPDevice)
                .where(TOTPDevice.id == device.id)
                # Again in SQL: of two requests racing with one code, one wins.
                .where(or_(TOTPDevice.last_step.is_(None), TOTPDevice.last_step < matched))
                .values(last_step=matched)
            )
        return bool(getattr(result, "rowcount", 0))

    async def new_recovery_codes(self, user: AuthUser) -> list[str]:
        """New recovery codes for ``user`` (the old ones stop working); show them once.

        Example:
            >>> codes = await two_factor.new_recovery_codes(user)
            >>> len(codes[0])
            19
        """
        codes = [
            "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
            for _ in range(self.recovery_codes)
        ]
        async with self._database().atransaction() as session:
            await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.pk))
            session.add_all(RecoveryCode(user_id=user.pk, code_hash=_hash(c)) for c in codes)
        return ["-".join(c[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)) for c in codes]

    async def use_recovery_code(self, user: AuthUser, code: str) -> bool:
        """Spend one recovery code of ``user``: True the first time, False after.

        Dashes, spaces and case do not matter.

        Example:
            >>> await two_factor.use_recovery_code(user, "abcd-efgh-ijkm-npqr")
            True
        """
        normalized = _normalize_recovery(code)
        if len(normalized) != _RECOVERY_LENGTH or not normalized.isascii():
            return False
        offered = _hash(normalized)
        async with self._database().async_session() as session:
            unused = (
                await session.execute(
                    select(RecoveryCode.id, RecoveryCode.code_hash).where(
                        RecoveryCode.user_id == user.pk, RecoveryCode.used_at.is_(None)
                    )
                )
            ).all()
        matched = None
        for code_id, stored in unused:
            if hmac.compare_digest(offered, stored):
                matched = code_id
        if matched is None:
            return False
        async with self._database().atransaction() as session:
            result = await session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == matched, RecoveryCode.used_at.is_(None))
                .values(used_at=_now())
            )
        return bool(getattr(result, "rowcount", 0))

    async def recovery_codes_left(self, user: AuthUser) -> int:
        """How many unused recovery codes ``user`` has (say so when few are left).

        Example:
            >>> await two_factor.recovery_codes_left(user)
            10
        """
        async with self._database().async_session() as session:
            found = await session.scalars(
                select(RecoveryCode.id).where(
                    RecoveryCode.user_id == user.pk, RecoveryCode.used_at.is_(None)
                )
            )
            return len(found.all())

    # -- the sign-in between password and code ---------------------------------------------
    def begin_pending(self, session: MutableMapping[str, Any], user: AuthUser) -> None:
        """Record that ``user`` gave the right password and owes a code (not a sign-in).

        Example:
            >>> if await two_factor.is_enabled(user):
            ...     two_factor.begin_pending(request.session, user)  # then ask for the code
        """
        session[PENDING_KEY] = {
            "user": user.pk,
            "generation": user.session_generation,
            "since": self.clock(),
            "attempts": 0,
        }

    def pending(self, session: MutableMapping[str, Any]) -> str | None:
        """The pk of the user whose code is awaited, or None (none, expired or malformed).

        Example:
            >>> two_factor.pending(request.session)
            '42'
        """
        state = session.get(PENDING_KEY)
        if not isinstance(state, dict):
            return None
        user, since = state.get("user"), state.get("since")
        if not isinstance(user, str) or not isinstance(since, int | float):
            session.pop(PENDING_KEY, None)
            return None
        if self.clock() - since > self.pending_max_age.total_seconds():
            session.pop(PENDING_KEY, None)
            return None
        return user

    def cancel_pending(self, session: MutableMapping[str, Any]) -> None:
        """Forget the pending sign-in (the user went back to the password form).

        Example:
            >>> two_factor.cancel_pending(request.session)
        """
        session.pop(PENDING_KEY, None)

    async def complete(
        self, session: MutableMapping[str, Any], users: UserStore, code: str
    ) -> AuthUser | None:
        """Check the code of the pending sign-in: the user to log in, or None.

        On success the pending state is gone; call ``login(request, user)``.
        A wrong code counts an attempt, and after ``max_attempts`` the pending
        state is dropped (the password is asked again). A user who became
        inactive, or whose sessions were ended meanwhile, gets None.

        Example:
            >>> user = await two_factor.complete(request.session, users, form["code"])
            >>> if user is not None:
            ...     await login(request, user)
        """
        pk = self.pending(session)
        if pk is None:
            return None
        state = dict(session[PENDING_KEY])
        user = await users.get(pk)
        if user is None or not user.is_active or user.session_generation != state.get("generation"):
            session.pop(PENDING_KEY, None)
            return None
        if await self.verify(user, code):
            session.pop(PENDING_KEY, None)
            return user
        counted = state.get("attempts")
        attempts = counted + 1 if isinstance(counted, int) else self.max_attempts
        if attempts >= self.max_attempts:
            session.pop(PENDING_KEY, None)
        else:
            session[PENDING_KEY] = {**state, "attempts": attempts}
        return None
