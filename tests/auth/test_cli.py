"""`carboy createuser` and `carboy changepassword`, over the memory and SQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from carboy import Carboy
from carboy.auth import Auth, MemoryUserStore, MinimumLength, SQLUserStore
from carboy.cli import cli
from tests.auth.conftest import drop_auth_tables, fast_hasher, make_auth_database
from tests.db.conftest import new_app

STRONG = "plum-tree-in-may"


def run(app: Carboy, *args: str, input: str | None = None, **env: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=app, input=input, env=env or None)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Carboy]:
    monkeypatch.delenv("CARBOY_USER_PASSWORD", raising=False)
    app = new_app()
    if request.param == "memory":
        app.install(Auth(users=MemoryUserStore(hasher=fast_hasher())))
        yield app
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'users.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    db = make_auth_database(url)
    app.install(db)
    app.install(Auth(password_hasher=fast_hasher()))
    yield app
    drop_auth_tables(db)


def users(app: Carboy) -> Any:
    return app.get_module(Auth).users


async def _get(app: Carboy, login: str) -> Any:
    return await users(app).get_by_login(login)


def get(app: Carboy, login: str) -> Any:
    import asyncio

    async def main() -> Any:
        try:
            return await _get(app, login)
        finally:
            store = users(app)
            if isinstance(store, SQLUserStore):
                await store.database.dispose()

    return asyncio.run(main())


def test_commands_are_listed(app: Carboy) -> None:
    output = run(app, "--help").output
    assert "  createuser " in output and "  changepassword " in output


def test_createuser_interactive(app: Carboy) -> None:
    # A weak password and a mismatch are asked again; the validators say why.
    answers = "\n".join(["ann lee", "ann", "Ann@Example.com", "123", "123", STRONG, "other"])
    answers += "\n" + "\n".join([STRONG, STRONG]) + "\n"
    result = run(app, "createuser", input=answers)
    assert result.exit_code == 0, result.output
    assert "A username may contain only letters" in result.output
    assert "This password is too short" in result.output
    assert "This password is entirely numeric." in result.output
    assert "The passwords do not match." in result.output
    assert "User 'ann' created." in result.output
    user = get(app, "ann")
    assert user.email == "Ann@example.com" and user.email_verified is True
    assert (user.is_superuser, user.is_staff) == (False, False)


def test_createuser_refuses_a_password_like_the_username(app: Carboy) -> None:
    answers = "\n".join(["marguerite", "", "marguerite1", "marguerite1", STRONG, STRONG]) + "\n"
    result = run(app, "createuser", input=answers)
    assert result.exit_code == 0, result.output
    assert "too similar to the username" in result.output


def test_createuser_superuser_no_input(app: Carboy) -> None:
    result = run(
        app,
        "createuser",
        "--superuser",
        "--no-input",
        CARBOY_USER_USERNAME="root",
        CARBOY_USER_EMAIL="root@example.com",
        CARBOY_USER_PASSWORD=STRONG,
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Superuser 'root' created."
    user = get(app, "root@example.com")
    assert (user.is_superuser, user.is_staff, user.username) == (True, True, "root")
    assert user.email_verified is True  # the operator gave the address: it can sign in


def test_createuser_no_input_refuses_a_weak_password(app: Carboy) -> None:
    result = run(
        app, "createuser", "--username", "ann", "--no-input", CARBOY_USER_PASSWORD="password"
    )
    assert result.exit_code == 1
    assert "The password is refused: This password is too common." in result.output
    assert get(app, "ann") is None


def test_createuser_no_input_without_password_cannot_sign_in(app: Carboy) -> None:
    result = run(app, "createuser", "--username", "svc", "--staff", "--no-input")
    assert result.exit_code == 0, result.output
    assert "created (no password: it cannot sign in with one)." in result.output
    user = get(app, "svc")
    assert user.is_staff and not user.is_superuser
    assert user.password.startswith("!")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-input"], "A username is required."),
        (["--username", "a b", "--no-input"], "only letters, digits"),
        (["--username", "ann", "--email", "nope", "--no-input"], "Enter a valid e-mail"),
    ],
)
def test_createuser_no_input_bad_fields(app: Carboy, args: list[str], message: str) -> None:
    result = run(app, "createuser", *args)
    assert result.exit_code == 1
    assert message in result.output


def test_createuser_twice(app: Carboy) -> None:
    assert run(app, "createuser", "--username", "ann", "--no-input").exit_code == 0
    result = run(app, "createuser", "--username", "ANN", "--no-input")
    assert result.exit_code == 1
    assert "A user with this username already exists." in result.output


def test_changepassword(app: Carboy) -> None:
    assert run(app, "createuser", "--username", "ann", "--no-input").exit_code == 0
    answers = "\n".join(["short", "short", STRONG, STRONG]) + "\n"
    result = run(app, "changepassword", "ANN", input=answers)
    assert result.exit_code == 0, result.output
    assert "Changing the password of 'ann'." in result.output
    assert "This password is too short" in result.output
    assert "Password of 'ann' changed; their sessions have ended." in result.output
    user = get(app, "ann")
    assert user.session_generation == 1
    assert user.password.startswith("$argon2id$")


def test_changepassword_no_input(app: Carboy) -> None:
    assert run(app, "createuser", "--username", "ann", "--no-input").exit_code == 0
    result = run(app, "changepassword", "ann", "--no-input")
    assert result.exit_code == 1
    assert "set the new password in $CARBOY_USER_PASSWORD" in result.output
    result = run(app, "changepassword", "ann", "--no-input", CARBOY_USER_PASSWORD="12345678")
    assert result.exit_code == 1 and "too common" in result.output
    result = run(app, "changepassword", "ann", "--no-input", CARBOY_USER_PASSWORD=STRONG)
    assert result.exit_code == 0, result.output
    assert get(app, "ann").session_generation == 1


def test_changepassword_unknown_user(app: Carboy) -> None:
    result = run(app, "changepassword", "ghost", "--no-input")
    assert result.exit_code == 1
    assert "No user 'ghost'." in result.output


def test_the_validators_are_the_auth_modules() -> None:
    app = new_app()
    app.install(Auth(users=MemoryUserStore(hasher=fast_hasher()), password_validators=[]))
    result = run(app, "createuser", "--username", "ann", "--no-input", CARBOY_USER_PASSWORD="1")
    assert result.exit_code == 0, result.output
    app = new_app()
    app.install(
        Auth(users=MemoryUserStore(hasher=fast_hasher()), password_validators=[MinimumLength(30)])
    )
    result = run(app, "createuser", "--username", "ann", "--no-input", CARBOY_USER_PASSWORD=STRONG)
    assert result.exit_code == 1
    assert "at least 30 characters" in result.output
