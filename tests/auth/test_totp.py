"""carboy.auth.totp: TOTP two-factor, replay protection, recovery codes and the pending sign-in."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from carboy import ConfigurationError
from carboy.auth import Enrolment, MemoryUserStore, RecoveryCode, TOTPDevice, TwoFactor
from carboy.auth.totp import PENDING_KEY
from carboy.db import Database
from tests.auth.users_for_tests import Member, ann_and_bob

pytestmark = pytest.mark.anyio
TABLES = [TOTPDevice.__table__, RecoveryCode.__table__]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.async_engine.begin() as connection:
        for table in TABLES:
            await connection.run_sync(lambda sync, t=table: t.drop(sync, checkfirst=True))
            await connection.run_sync(table.create)
    yield database
    async with database.async_engine.begin() as connection:
        for table in TABLES:
            await connection.run_sync(table.drop)
    await database.dispose()


@pytest.fixture
def two_factor(db: Database) -> TwoFactor:
    return TwoFactor(db, issuer="Example")


@pytest.fixture
async def users() -> MemoryUserStore:
    return await ann_and_bob()


def steady(interval: int = 30) -> int:
    """The current step, after waiting out the last 2 s of one (so a test does not straddle two)."""
    if interval - time.time() % interval < 2:
        time.sleep(2.1)
    return int(time.time()) // interval


def code_at(secret: str, step: int, digits: int = 6, interval: int = 30) -> str:
    return pyotp.TOTP(secret, digits=digits, interval=interval).generate_otp(step)


async def enrolled(two_factor: TwoFactor, user: Member) -> tuple[Enrolment, list[str]]:
    enrolment = await two_factor.begin_enrolment(user)
    codes = await two_factor.confirm_enrolment(user, code_at(enrolment.secret, steady() - 1))
    assert codes is not None
    return enrolment, codes


async def test_enrolment_gives_a_uri_and_turns_on_with_a_first_code(
    two_factor: TwoFactor,
) -> None:
    ann = Member(1, "ann")
    assert not await two_factor.is_enabled(ann)
    enrolment = await two_factor.begin_enrolment(ann)
    parts = urlsplit(enrolment.uri)
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/Example:ann")
    query = parse_qs(parts.query)
    assert query["secret"] == [enrolment.secret] and query["issuer"] == ["Example"]
    assert len(enrolment.secret) == 32 and enrolment.secret not in repr(enrolment)
    assert enrolment.secret_groups.replace(" ", "") == enrolment.secret
    assert enrolment.secret_groups.count(" ") == 7
    assert not await two_factor.is_enabled(ann)  # not until a code proves the app has it
    assert await two_factor.verify(ann, code_at(enrolment.secret, steady())) is False
    wrong = str((int(code_at(enrolment.secret, steady())) + 1) % 10**6).zfill(6)
    assert await two_factor.confirm_enrolment(ann, wrong) is None
    assert await two_factor.confirm_enrolment(ann, "12345") is None
    codes = await two_factor.confirm_enrolment(ann, code_at(enrolment.secret, steady()))
    assert codes is not None and len(codes) == 10 and len(set(codes)) == 10
    assert await two_factor.is_enabled(ann)
    assert await two_factor.confirm_enrolment(ann, code_at(enrolment.secret, steady())) is None
    with pytest.raises(ValueError, match="on already for this user; disable it first"):
        await two_factor.begin_enrolment(ann)


async def test_a_wrong_first_code_changes_nothing(two_factor: TwoFactor) -> None:
    ann = Member(1, "ann")
    assert await two_factor.confirm_enrolment(ann, "123456") is None  # nothing begun
    first = await two_factor.begin_enrolment(ann)
    wrong = str((int(code_at(first.secret, steady())) + 1) % 10**6).zfill(6)
    assert await two_factor.confirm_enrolment(ann, wrong) is None
    assert not await two_factor.is_enabled(ann)
    again = await two_factor.begin_enrolment(ann)  # replaces the unconfirmed secret
    assert again.secret != first.secret
    assert await two_factor.confirm_enrolment(ann, code_at(first.secret, steady())) is None
    assert await two_factor.confirm_enrolment(ann, code_at(again.secret, steady())) is not None


async def test_a_code_works_once(two_factor: TwoFactor) -> None:
    ann = Member(1, "ann")
    enrolment, _ = await enrolled(two_factor, ann)
    code = code_at(enrolment.secret, steady())
    assert await two_factor.verify(ann, code) is True
    assert await two_factor.verify(ann, code) is False  # replayed
    assert await two_factor.verify(ann, code_at(enrolment.secret, steady() - 1)) is False  # older
    assert await two_factor.verify(ann, code_at(enrolment.secret, steady() + 1)) is True
    assert await two_factor.verify(ann, f" {code[:3]} {code[3:]} ") is False


async def test_the_window_bounds_clock_drift(db: Database) -> None:
    ann = Member(1, "ann")
    strict, lenient = TwoFactor(db, window=0), TwoFactor(db, window=2)
    enrolment, _ = await enrolled(lenient, ann)
    now = steady()
    assert await strict.verify(ann, code_at(enrolment.secret, now + 1)) is False
    assert await lenient.verify(ann, code_at(enrolment.secret, now + 1)) is True
    assert await lenient.verify(ann, code_at(enrolment.secret, now + 3)) is False
    assert await lenient.verify(ann, code_at(enrolment.secret, now + 2)) is True
    assert await strict.verify(ann, code_at(enrolment.secret, now)) is False  # older than used


async def test_spaces_digits_and_interval(db: Database) -> None:
    ann = Member(1, "ann")
    eight = TwoFactor(db, digits=8, interval=60)
    enrolment, _ = await enrolled_with(eight, ann)
    code = code_at(enrolment.secret, steady(60), digits=8, interval=60)
    assert len(code) == 8
    assert await eight.verify(ann, f"{code[:4]} {code[4:]}") is True
    assert await eight.verify(ann, "１２３４５６７８") is False  # non-ASCII digits


async def enrolled_with(two_factor: TwoFactor, user: Member) -> tuple[Enrolment, list[str]]:
    enrolment = await two_factor.begin_enrolment(user)
    step = steady(two_factor.interval) - 1
    code = code_at(enrolment.secret, step, two_factor.digits, two_factor.interval)
    codes = await two_factor.confirm_enrolment(user, code)
    assert codes is not None
    return enrolment, codes


async def test_recovery_codes_are_hashed_and_single_use(
    two_factor: TwoFactor, db: Database
) -> None:
    ann = Member(1, "ann")
    _, codes = await enrolled(two_factor, ann)
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    async with db.async_session() as session:
        stored = set((await session.scalars(select(RecoveryCode.code_hash))).all())
    assert stored == {hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in codes}
    assert await two_factor.recovery_codes_left(ann) == 10
    assert await two_factor.verify(ann, codes[0]) is True
    assert await two_factor.verify(ann, codes[0]) is False
    assert await two_factor.use_recovery_code(ann, codes[1].upper().replace("-", " ")) is True
    assert await two_factor.recovery_codes_left(ann) == 8
    assert await two_factor.use_recovery_code(ann, "aaaa-aaaa-aaaa-aaaa") is False
    assert await two_factor.use_recovery_code(ann, "short") is False
    assert await two_factor.use_recovery_code(ann, "ééééééééééééééé") is False
    bob = Member(2, "bob")
    assert await two_factor.use_recovery_code(bob, codes[2]) is False  # another user's


async def test_new_recovery_codes_replace_the_old(two_factor: TwoFactor) -> None:
    ann = Member(1, "ann")
    _, old = await enrolled(two_factor, ann)
    new = await two_factor.new_recovery_codes(ann)
    assert not set(old) & set(new)
    assert await two_factor.verify(ann, old[0]) is False
    assert await two_factor.verify(ann, new[0]) is True
    few = TwoFactor(two_factor.db, recovery_codes=3)
    assert len(await few.new_recovery_codes(ann)) == 3


async def test_disable_forgets_everything(two_factor: TwoFactor, db: Database) -> None:
    ann = Member(1, "ann")
    enrolment, codes = await enrolled(two_factor, ann)
    await two_factor.disable(ann)
    assert not await two_factor.is_enabled(ann)
    assert await two_factor.verify(ann, code_at(enrolment.secret, steady() + 1)) is False
    assert await two_factor.verify(ann, codes[0]) is False
    assert await two_factor.recovery_codes_left(ann) == 0
    async with db.async_session() as session:
        assert (await session.scalars(select(TOTPDevice))).all() == []
    await enrolled(two_factor, ann)  # may enrol again


# -- the pending sign-in ------------------------------------------------------------------
async def test_the_pending_sign_in_ends_with_the_right_code(
    two_factor: TwoFactor, users: MemoryUserStore
) -> None:
    ann = await users.get("1")
    assert ann is not None
    enrolment, _ = await enrolled(two_factor, ann)
    session: dict[str, Any] = {}
    assert two_factor.pending(session) is None
    assert await two_factor.complete(session, users, "123456") is None  # nothing pending
    two_factor.begin_pending(session, ann)
    assert two_factor.pending(session) == "1"
    user = await two_factor.complete(session, users, code_at(enrolment.secret, steady() + 1))
    assert user is not None and user.pk == "1" and PENDING_KEY not in session
    two_factor.begin_pending(session, ann)
    two_factor.cancel_pending(session)
    assert two_factor.pending(session) is None


async def test_wrong_codes_end_the_pending_sign_in(db: Database, users: MemoryUserStore) -> None:
    ann = await users.get("1")
    assert ann is not None
    two_factor = TwoFactor(db, max_attempts=3)
    enrolment, _ = await enrolled(two_factor, ann)
    session: dict[str, Any] = {}
    two_factor.begin_pending(session, ann)
    assert await two_factor.complete(session, users, "000000x") is None
    assert await two_factor.complete(session, users, "wrong") is None
    assert session[PENDING_KEY]["attempts"] == 2
    assert await two_factor.complete(session, users, "nope") is None
    assert two_factor.pending(session) is None  # three strikes: the password again
    right = code_at(enrolment.secret, steady() + 1)
    assert await two_factor.complete(session, users, right) is None


async def test_the_pending_sign_in_expires(db: Database, users: MemoryUserStore) -> None:
    ann = await users.get("1")
    assert ann is not None
    two_factor = TwoFactor(db, pending_max_age=timedelta(minutes=5))
    session: dict[str, Any] = {}
    two_factor.begin_pending(session, ann)
    session[PENDING_KEY]["since"] -= 299
    assert two_factor.pending(session) == "1"
    session[PENDING_KEY]["since"] -= 2
    assert two_factor.pending(session) is None and PENDING_KEY not in session
    longer = TwoFactor(db, pending_max_age=timedelta(minutes=10))
    longer.begin_pending(session, ann)
    session[PENDING_KEY]["since"] -= 301
    assert longer.pending(session) == "1"


async def test_a_broken_pending_state_is_dropped(
    two_factor: TwoFactor, users: MemoryUserStore
) -> None:
    for state in ({"user": 1, "since": time.time()}, {"user": "1", "since": "now"}):
        session: dict[str, Any] = {PENDING_KEY: state}
        assert two_factor.pending(session) is None and PENDING_KEY not in session
    assert two_factor.pending({PENDING_KEY: "1"}) is None
    ann = await users.get("1")
    assert ann is not None
    await enrolled(two_factor, ann)
    session = {PENDING_KEY: {"user": "1", "since": time.time(), "generation": 0, "attempts": "x"}}
    assert await two_factor.complete(session, users, "000000") is None
    assert PENDING_KEY not in session  # an attempt count that is not a number ends it


async def test_a_user_disabled_or_logged_out_meanwhile_gets_no_sign_in(
    two_factor: TwoFactor, users: MemoryUserStore
) -> None:
    ann = await users.get("1")
    assert ann is not None
    enrolment, _ = await enrolled(two_factor, ann)
    session: dict[str, Any] = {}
    two_factor.begin_pending(session, ann)
    await users.bump_generation(ann)  # "log out everywhere", a password reset
    right = code_at(enrolment.secret, steady() + 1)
    assert await two_factor.complete(session, users, right) is None
    assert PENDING_KEY not in session
    two_factor.begin_pending(session, ann)
    await users.update(ann, is_active=False)
    assert await two_factor.complete(session, users, right) is None
    two_factor.begin_pending(session, Member(9, "ghost"))
    assert await two_factor.complete(session, users, right) is None


async def test_configuration_errors() -> None:
    for options, message in [
        ({"digits": 5}, "digits=5"),
        ({"interval": 5}, "interval must be at least 10"),
        ({"window": -1}, "window 0 to 5"),
        ({"window": 6}, "window 0 to 5"),
        ({"recovery_codes": 0}, "must be positive"),
        ({"max_attempts": 0}, "must be positive"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            TwoFactor(**options)
    with pytest.raises(ConfigurationError, match="TwoFactor has no database"):
        await TwoFactor().is_enabled(Member(1, "ann"))


async def test_pending_enrolment_is_the_unconfirmed_one(
    two_factor: TwoFactor, users: MemoryUserStore
) -> None:
    ann = await users.get_by_login("ann")
    assert ann is not None
    assert await two_factor.pending_enrolment(ann) is None
    begun = await two_factor.begin_enrolment(ann)
    pending = await two_factor.pending_enrolment(ann)
    assert pending is not None and (pending.secret, pending.uri) == (begun.secret, begun.uri)
    step = steady()
    assert await two_factor.confirm_enrolment(ann, code_at(begun.secret, step))
    assert await two_factor.pending_enrolment(ann) is None  # on: nothing pending


async def test_the_clock_decides_steps_and_pending_age(
    db: Database, users: MemoryUserStore
) -> None:
    now = [1_800_000_000.0]
    two_factor = TwoFactor(db, clock=lambda: now[0], pending_max_age=timedelta(seconds=60))
    ann = await users.get_by_login("ann")
    assert ann is not None
    enrolment = await two_factor.begin_enrolment(ann)
    step = int(now[0]) // 30
    assert await two_factor.confirm_enrolment(ann, code_at(enrolment.secret, step)) is not None
    now[0] += 3600  # an hour later by this clock: the real time's code is not the one
    assert await two_factor.verify(ann, code_at(enrolment.secret, step + 120))
    session: dict[str, Any] = {}
    two_factor.begin_pending(session, ann)
    now[0] += 61
    assert two_factor.pending(session) is None


async def test_the_qr_code_is_an_inline_svg_of_the_uri() -> None:
    import segno

    enrolment = Enrolment("JBSWY3DPEHPK3PXP", "otpauth://totp/Example:ann?secret=JBSWY3DPEHPK3PXP")
    svg = enrolment.qr_svg(scale=3)
    label = "QR code to scan with your authenticator app"
    assert svg.startswith(f'<svg role="img" aria-label="{label}"')
    assert "<title>QR code to scan with your authenticator app</title>" in svg
    assert "xmlns" not in svg and "<?xml" not in svg  # inline in HTML
    drawn = segno.make(enrolment.uri, error="m").svg_inline(scale=3, border=4, light="#fff")
    assert re.search(r' d="([^"]+)"', svg)[1] == re.search(r' d="([^"]+)"', drawn)[1]  # type: ignore[index]
