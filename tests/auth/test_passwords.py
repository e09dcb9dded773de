"""Password hashing (argon2id, rehash on changed parameters) and the validators."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import argon2
import pytest

from carboy.auth import (
    CommonPassword,
    MinimumLength,
    NumericPassword,
    PasswordHasher,
    PasswordInvalid,
    PasswordValidator,
    UserAttributeSimilarity,
    default_validators,
    validate_password,
)
from carboy.auth.passwords import (
    COMMON_PASSWORDS_PATH,
    is_usable,
    make_unusable_password,
    password_help_texts,
)
from tests.auth.conftest import fast_hasher


# -- hashing --------------------------------------------------------------------------------
def test_hash_is_argon2id_with_the_parameters() -> None:
    hasher = fast_hasher(time_cost=2, memory_cost=16, hash_len=24, salt_len=12)
    encoded = hasher.hash("plum-tree-9")
    assert encoded.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    params = argon2.extract_parameters(encoded)
    assert (params.hash_len, params.salt_len) == (24, 12)
    assert hasher.parameters == params
    assert hasher.hash("plum-tree-9") != encoded  # a new salt each time
    assert hasher.verify(encoded, "plum-tree-9")
    assert not hasher.verify(encoded, "plum-tree-8")


def test_defaults_are_rfc_9106_low_memory() -> None:
    hasher = PasswordHasher()
    assert (hasher.parameters.time_cost, hasher.parameters.memory_cost) == (3, 65536)
    assert hasher.parameters.parallelism == 4
    assert repr(hasher) == "PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)"


@pytest.mark.parametrize(
    "change",
    [
        {"time_cost": 2},
        {"memory_cost": 16},
        {"parallelism": 2, "memory_cost": 16},
        {"hash_len": 16},
        {"salt_len": 8},
    ],
)
def test_changed_parameters_need_rehash(change: dict[str, int]) -> None:
    old = fast_hasher().hash("plum-tree-9")
    assert not fast_hasher().needs_rehash(old)
    new = fast_hasher(**change)
    assert new.needs_rehash(old)
    assert new.verify(old, "plum-tree-9")  # old hashes still verify


def test_other_argon2_types_need_rehash() -> None:
    argon2i = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I)
    encoded = argon2i.hash("plum-tree-9")
    hasher = fast_hasher()
    assert hasher.verify(encoded, "plum-tree-9")
    assert hasher.needs_rehash(encoded)


@pytest.mark.parametrize(
    "encoded", ["", "plain-text", "$argon2id$v=19$garbage", "$2b$12$bcrypt-ish", "!unusable"]
)
def test_malformed_hashes_never_verify(encoded: str) -> None:
    hasher = fast_hasher()
    assert hasher.verify(encoded, "plain-text") is False
    assert hasher.verify(encoded, "") is False


def test_malformed_hash_needs_rehash_and_unusable_does_not() -> None:
    hasher = fast_hasher()
    assert hasher.needs_rehash("$argon2id$v=19$garbage")
    assert not hasher.needs_rehash(make_unusable_password())


def test_max_length_on_every_path() -> None:
    hasher = fast_hasher(max_length=20)
    encoded = hasher.hash("a" * 20)
    with pytest.raises(ValueError, match="Password too long: 21 characters"):
        hasher.hash("a" * 21)
    assert hasher.verify(encoded, "a" * 20)
    assert not fast_hasher(max_length=19).verify(encoded, "a" * 20)


def test_non_string_passwords() -> None:
    hasher = fast_hasher()
    with pytest.raises(TypeError, match="A password is a str, got bytes"):
        hasher.hash(b"pw")  # type: ignore[arg-type]
    assert hasher.verify(hasher.hash("pw"), None) is False  # type: ignore[arg-type]


def test_unusable_passwords() -> None:
    first, second = make_unusable_password(), make_unusable_password()
    assert first != second and first.startswith("!")
    assert not is_usable(first) and not is_usable(None) and not is_usable("")
    assert is_usable(fast_hasher().hash("x"))


def test_dummy_verify_does_one_real_verification_at_the_current_parameters() -> None:
    # Unknown users cost what a wrong password costs: the dummy is a real argon2 hash made
    # with the hasher's own parameters, verified like any other. (Timings are measured in
    # bench/, never asserted here: they depend on the machine's load.)
    hasher = fast_hasher(time_cost=3, memory_cost=4096)
    encoded = hasher.hash("plum-tree-9")
    hasher.dummy_verify()
    dummy = hasher._dummy
    assert dummy is not None and not hasher._argon2.check_needs_rehash(dummy)
    assert dummy.split("$")[:4] == encoded.split("$")[:4]  # argon2id, version, m/t/p
    fresh = fast_hasher(time_cost=3, memory_cost=4096)
    assert fresh.verify("!unusable", "wrong") is False
    assert fresh._dummy is not None  # an unusable hash still pays for one verification


# -- validators -----------------------------------------------------------------------------
def test_minimum_length() -> None:
    MinimumLength().validate("a" * 8)
    with pytest.raises(PasswordInvalid, match="at least 8 characters") as caught:
        MinimumLength().validate("a" * 7)
    assert caught.value.codes == ["password_too_short"]
    MinimumLength(3).validate("abc")
    with pytest.raises(PasswordInvalid, match="at least 12 characters"):
        MinimumLength(12).validate("a" * 11)
    assert MinimumLength(12).help_text() == "Your password must have at least 12 characters."
    with pytest.raises(ValueError, match="must be at least 1"):
        MinimumLength(0)


def test_the_shipped_common_list() -> None:
    with gzip.open(COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as lines:
        entries = [line.strip() for line in lines]
    assert len(entries) >= 20_000
    assert len(set(entries)) == len(entries)
    assert entries[:3] == ["123456", "password", "12345678"]
    readme = (COMMON_PASSWORDS_PATH.parent / "README.md").read_text(encoding="utf-8")
    assert "SecLists" in readme and "MIT" in readme
    assert len(CommonPassword().passwords) == len(entries)


@pytest.mark.parametrize("password", ["password", "PASSWORD", "Dragon", " qwerty ", "iloveyou"])
def test_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(PasswordInvalid, match="too common") as caught:
        CommonPassword().validate(password)
    assert caught.value.codes == ["password_too_common"]


def test_uncommon_passwords_pass() -> None:
    CommonPassword().validate("plum tree in may, 1987")


def test_common_password_list_of_your_own(tmp_path: Path) -> None:
    CommonPassword(["Hunter2"]).validate("dragon")
    with pytest.raises(PasswordInvalid):
        CommonPassword(["Hunter2"]).validate("hunter2")
    plain = tmp_path / "list.txt"
    plain.write_text("alpha\nBravo\n\n", encoding="utf-8")
    with pytest.raises(PasswordInvalid):
        CommonPassword(plain).validate("bravo")
    CommonPassword(str(plain)).validate("password")  # not on this list
    packed = tmp_path / "list.txt.gz"
    packed.write_bytes(gzip.compress(b"charlie\n"))
    with pytest.raises(PasswordInvalid):
        CommonPassword(packed).validate("Charlie")
    with pytest.raises(ValueError, match="no password list at"):
        CommonPassword(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    ("password", "user", "field"),
    [
        ("annlee", {"username": "annlee"}, "username"),
        ("AnnLee1", {"username": "annlee"}, "username"),
        ("leeann2", {"email": "ann.leeann@example.com"}, "email"),
        ("example1", {"email": "ann@example.com"}, "email"),
        ("smithers", {"last_name": "Smithers"}, "last name"),
    ],
)
def test_similar_to_the_user_is_refused(password: str, user: dict[str, str], field: str) -> None:
    with pytest.raises(PasswordInvalid, match=f"too similar to the {field}") as caught:
        UserAttributeSimilarity().validate(password, user)
    assert caught.value.codes == ["password_too_similar"]


def test_similarity_reads_user_objects_and_skips_missing() -> None:
    class Person:
        username = "marguerite"
        email = None

    with pytest.raises(PasswordInvalid):
        UserAttributeSimilarity().validate("Marguerite!", Person())
    UserAttributeSimilarity().validate("plum-tree-in-may", Person())
    UserAttributeSimilarity().validate("marguerite", None)


def test_similarity_options() -> None:
    user = {"username": "annlee", "nickname": "zorro"}
    UserAttributeSimilarity(max_similarity=1.0).validate("annlee1", user)
    with pytest.raises(PasswordInvalid):
        UserAttributeSimilarity(max_similarity=1.0).validate("annlee", user)
    with pytest.raises(PasswordInvalid):
        UserAttributeSimilarity(max_similarity=0.5).validate("an-lee-xyz", user)
    UserAttributeSimilarity(max_similarity=0.7).validate("an-lee-xyz", user)
    UserAttributeSimilarity().validate("zorro", user)  # not a default attribute
    with pytest.raises(PasswordInvalid, match="similar to the nickname"):
        UserAttributeSimilarity(attributes=["nickname"]).validate("zorro1", user)
    with pytest.raises(ValueError, match=r"between 0\.1 and 1\.0"):
        UserAttributeSimilarity(max_similarity=0.05)


def test_similarity_of_a_huge_password_is_cheap() -> None:
    start = time.perf_counter()
    UserAttributeSimilarity().validate("x" * 100_000, {"username": "y" * 150})
    assert time.perf_counter() - start < 0.5


def test_numeric() -> None:
    with pytest.raises(PasswordInvalid, match="entirely numeric") as caught:
        NumericPassword().validate("3141592653589")
    assert caught.value.codes == ["password_numeric"]
    NumericPassword().validate("3141592653589x")
    assert NumericPassword().help_text() == "Your password cannot be entirely numeric."


def test_validate_password_collects_every_message() -> None:
    with pytest.raises(PasswordInvalid) as caught:
        validate_password("1234567")
    assert caught.value.codes == ["password_too_short", "password_too_common", "password_numeric"]
    assert str(caught.value) == (
        "This password is too short: it must have at least 8 characters. "
        "This password is too common. This password is entirely numeric."
    )
    validate_password("plum-tree-in-may", {"username": "ann"})
    validate_password("1234567", validators=[])  # no rules, no refusal
    with pytest.raises(PasswordInvalid, match="must be text"):
        validate_password(None)  # type: ignore[arg-type]


def test_validators_are_a_protocol() -> None:
    class NoSpaces:
        def validate(self, password: str, user: object = None) -> None:
            if " " in password:
                raise PasswordInvalid(["No spaces."], ["password_has_space"])

        def help_text(self) -> str:
            return "No spaces."

    assert isinstance(NoSpaces(), PasswordValidator)
    assert all(isinstance(v, PasswordValidator) for v in default_validators())
    with pytest.raises(PasswordInvalid, match="No spaces") as caught:
        validate_password("plum tree in may", validators=[NoSpaces(), MinimumLength(3)])
    assert caught.value.codes == ["password_has_space"]
    assert password_help_texts([NoSpaces()]) == ["No spaces."]
    assert len(password_help_texts()) == 4


def test_password_invalid_without_codes() -> None:
    assert PasswordInvalid(["a", "b"]).codes == ["password_invalid", "password_invalid"]
