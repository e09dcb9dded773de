"""carboy.auth.signing: HMAC-SHA256 signatures, salts, expiry and key rotation."""

from __future__ import annotations

import time

import pytest

from carboy import ConfigurationError, Settings
from carboy.auth import BadSignature, SignatureExpired, Signer

KEY = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"
OLD = "old-0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
OLDER = "older-0123456789abcdefghijklmnopqrstuvwxyzABC"


def test_sign_and_unsign() -> None:
    signer = Signer(KEY, salt="test")
    signed = signer.sign("hello")
    assert signed.startswith("hello.")
    assert signer.unsign(signed) == "hello"


@pytest.mark.parametrize(
    "tamper",
    [
        # The signature (not its last character, whose low bits base64 ignores).
        lambda s: s[:-5] + ("A" if s[-5] != "A" else "B") + s[-4:],
        lambda s: "j" + s[1:],  # the value
        lambda s: s.split(".")[0],  # no signature
        lambda s: "",
        lambda s: "..",
        lambda s: "\x00" * 10,
        lambda s: "é." + s,
    ],
)
def test_tampered_values_are_refused(tamper: object) -> None:
    signer = Signer(KEY, salt="test")
    signed = signer.sign("hello")
    with pytest.raises(BadSignature):
        signer.unsign(tamper(signed))  # type: ignore[operator]


def test_the_salt_separates_purposes() -> None:
    token = Signer(KEY, salt="carboy.auth.session").dumps({"user": 1})
    with pytest.raises(BadSignature):
        Signer(KEY, salt="carboy.auth.reset").loads(token)
    assert Signer(KEY, salt="carboy.auth.session").loads(token) == {"user": 1}


def test_another_key_does_not_verify() -> None:
    token = Signer(OLD, salt="test").dumps([1])
    with pytest.raises(BadSignature):
        Signer(KEY, salt="test").loads(token)


def test_fallbacks_verify_but_never_sign() -> None:
    old_token = Signer(OLD, salt="test").dumps({"n": 1})
    older_token = Signer(OLDER, salt="test").sign("x")
    rotated = Signer(KEY, fallbacks=[OLD, OLDER], salt="test")
    assert rotated.loads(old_token) == {"n": 1}
    assert rotated.unsign(older_token) == "x"
    new_token = rotated.dumps({"n": 2})
    # Signed with the current key only: the old key alone cannot read it.
    with pytest.raises(BadSignature):
        Signer(OLD, salt="test").loads(new_token)
    assert Signer(KEY, salt="test").loads(new_token) == {"n": 2}


def test_from_settings_uses_the_key_and_its_fallbacks() -> None:
    old_token = Signer(OLD, salt="test").dumps("v")
    signer = Signer.from_settings(Settings(secret_key=KEY, secret_key_fallbacks=[OLD]), salt="test")
    assert signer.loads(old_token) == "v"
    assert Signer(KEY, salt="test").loads(signer.dumps("w")) == "w"
    without = Signer.from_settings(Settings(secret_key=KEY), salt="test")
    with pytest.raises(BadSignature):
        without.loads(old_token)


def test_from_settings_without_a_key_says_how_to_set_one() -> None:
    with pytest.raises(ConfigurationError, match="CARBOY_SECRET_KEY"):
        Signer.from_settings(Settings(debug=False), salt="test")


def test_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = Signer(KEY, salt="test")
    token = signer.dumps({"a": 1})
    signed = signer.sign("a")
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    assert signer.loads(token, max_age=600) == {"a": 1}
    with pytest.raises(SignatureExpired):
        signer.loads(token, max_age=60)
    with pytest.raises(SignatureExpired):
        signer.unsign(signed, max_age=60)
    assert issubclass(SignatureExpired, BadSignature)


def test_dumps_is_url_safe_and_compresses() -> None:
    signer = Signer(KEY, salt="test")
    token = signer.dumps({"text": "a" * 1000})
    assert len(token) < 200
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@pytest.mark.parametrize("token", ["", "x", "a.b.c", ".eJzLSM3JyQcABiwCFQ.x.y", "é.a.b"])
def test_malformed_tokens_are_bad_signatures(token: str) -> None:
    with pytest.raises(BadSignature):
        Signer(KEY, salt="test").loads(token)


def test_bad_construction() -> None:
    with pytest.raises(ConfigurationError, match="non-empty"):
        Signer("", salt="test")
    with pytest.raises(ConfigurationError, match="list of keys"):
        Signer(KEY, fallbacks=OLD, salt="test")
    assert repr(Signer(KEY, salt="test")) == "Signer(salt='test')"
    assert KEY not in repr(Signer(KEY, salt="test"))


def test_a_verified_token_is_remembered_but_every_load_is_fresh() -> None:
    signer = Signer(KEY, salt="test")
    token = signer.dumps({"cart": [1, 2]})
    first = signer.loads(token)
    first["cart"].append(3)  # a caller changing what it got changes no later load
    assert signer.loads(token) == {"cart": [1, 2]}
    assert signer.loads(token) is not signer.loads(token)
    assert signer._verified == {token: '{"cart":[1,2]}'}


def test_remembered_tokens_do_not_let_forgeries_or_old_tokens_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = Signer(KEY, salt="test")
    token = signer.dumps([1])
    assert signer.loads(token) == [1]
    forged = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(BadSignature):
        signer.loads(forged)
    assert forged not in signer._verified
    # max_age is checked every time, remembered or not.
    later = time.time() + 100
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(SignatureExpired):
        signer.loads(token, max_age=10)
    # Another signer (a key rotated out) remembers nothing of this one's.
    with pytest.raises(BadSignature):
        Signer(OLD, salt="test").loads(token)


def test_the_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from carboy.auth import signing

    monkeypatch.setattr(signing, "_VERIFIED_MAX", 3)
    signer = Signer(KEY, salt="test")
    tokens = [signer.dumps(n) for n in range(7)]
    assert [signer.loads(t) for t in tokens] == list(range(7))
    assert len(signer._verified) <= 3
