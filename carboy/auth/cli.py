"""The auth commands: ``carboy createuser``, ``carboy changepassword`` and
``carboy clearsessions``.

Both work through the app's user store (SQL or any other) and check new
passwords with ``Auth(password_validators=...)``. With ``--no-input`` they
read what they need from options and the environment (``CARBOY_USER_PASSWORD``
for the password, never an option: options show in the process list).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from carboy.cli import CliError, current_loader, pass_app
from carboy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.auth import Auth

T = TypeVar("T")

#: The environment variable ``--no-input`` takes the password from.
PASSWORD_ENV = "CARBOY_USER_PASSWORD"


def _auth(app: Carboy) -> Auth:
    from carboy.auth import Auth

    current_loader().build(app)
    try:
        return app.get_module(Auth)
    except ConfigurationError as exc:
        raise CliError(str(exc)) from None


def _run(app: Carboy, work: Callable[[], Awaitable[T]]) -> T:
    """Run the store's coroutines on one loop, then close what they opened on it."""

    async def main() -> T:
        try:
            return await work()
        finally:
            from carboy.db import Database

            try:
                database = app.get_module(Database)
            except ConfigurationError:
                pass
            else:
                await database.dispose()

    return asyncio.run(main())


def _invalid(auth: Auth, password: str, user: Any) -> list[str]:
    from carboy.auth.passwords import PasswordInvalid

    try:
        auth.validate_password(password, user)
    except PasswordInvalid as exc:
        return exc.messages
    return []


def _ask_password(auth: Auth, user: Any) -> str:
    while True:
        password = click.prompt("Password", hide_input=True, default="", show_default=False)
        again = click.prompt("Password (again)", hide_input=True, default="", show_default=False)
        if password != again:
            click.echo("The passwords do not match.", err=True)
            continue
        if not password:
            click.echo("A password is required.", err=True)
            continue
        problems = _invalid(auth, password, user)
        if not problems:
            return password
        for problem in problems:
            click.echo(problem, err=True)


def _password_from_env(auth: Auth, user: Any, *, required: bool) -> str | None:
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        if required:
            raise CliError(f"--no-input: set the new password in ${PASSWORD_ENV}")
        return None
    problems = _invalid(auth, password, user)
    if problems:
        raise CliError("The password is refused: " + " ".join(problems))
    return password


@click.command("createuser")
@click.option("--username", envvar="CARBOY_USER_USERNAME", help="[env CARBOY_USER_USERNAME]")
@click.option("--email", envvar="CARBOY_USER_EMAIL", help="[env CARBOY_USER_EMAIL]")
@click.option("--superuser", is_flag=True, help="Give every permission (and the admin).")
@click.option("--staff", is_flag=True, help="Let the user into the admin.")
@click.option(
    "--no-input",
    is_flag=True,
    help=f"Ask nothing: the password comes from ${PASSWORD_ENV} (none: cannot sign in).",
)
@pass_app
def createuser(
    app: Carboy,
    username: str | None,
    email: str | None,
    superuser: bool,
    staff: bool,
    no_input: bool,
) -> None:
    """Create a user, asking for what the options do not say.

    \b
      carboy createuser --superuser
      CARBOY_USER_PASSWORD=... carboy createuser --username ann --no-input
    """
    from carboy.auth.users import UserExists, normalize_email, validate_username

    auth = _auth(app)
    store = auth.users
    ask = not no_input

    def checked(value: str | None, check: Callable[[Any], Any], what: str) -> Any:
        while True:
            if value is None and ask:
                value = click.prompt(what, default="", show_default=False)
            try:
                return check(value)
            except ValueError as exc:
                if not ask:
                    raise CliError(str(exc)) from None
                click.echo(str(exc), err=True)
                value = None

    username = checked(username, validate_username, "Username")
    email = checked(email, normalize_email, "E-mail (optional)") if email or ask else None
    fields = {"username": username, "email": email}
    password = (
        _ask_password(auth, fields) if ask else _password_from_env(auth, fields, required=False)
    )

    async def create() -> Any:
        return await store.create(
            password=password,
            username=username,
            email=email,
            # The operator vouches for the address: the account can sign in at once
            # (sign-up asks visitors to confirm theirs).
            email_verified=email is not None,
            is_superuser=superuser,
            is_staff=staff or superuser,
        )

    try:
        user = _run(app, create)
    except UserExists as exc:
        raise CliError(str(exc)) from None
    kind = "Superuser" if superuser else "User"
    note = "" if password is not None else " (no password: it cannot sign in with one)"
    click.echo(f"{kind} {user.display_name!r} created{note}.")


@click.command("changepassword")
@click.argument("login")
@click.option(
    "--no-input", is_flag=True, help=f"Ask nothing: the new password comes from ${PASSWORD_ENV}."
)
@pass_app
def changepassword(app: Carboy, login: str, no_input: bool) -> None:
    """Set a new password for the user LOGIN (username or e-mail); ends their sessions.

    \b
      carboy changepassword ann
    """
    auth = _auth(app)
    store = auth.users
    user = _run(app, lambda: store.get_by_login(login))
    if user is None:
        raise CliError(f"No user {login!r}.")
    if not no_input:
        click.echo(f"Changing the password of {user.display_name!r}.")
        password: str | None = _ask_password(auth, user)
    else:
        password = _password_from_env(auth, user, required=True)
    if password is None:  # pragma: no cover - required=True raises instead
        raise CliError("No new password.")
    new = password
    _run(app, lambda: store.set_password(user, new))
    click.echo(f"Password of {user.display_name!r} changed; their sessions have ended.")


@click.command("clearsessions")
@pass_app
def clearsessions(app: Carboy) -> None:
    """Remove expired sessions from the session store (run it daily from cron)."""
    store = _auth(app).session_store
    removed = asyncio.run(store.clear_expired())
    if not store.server_side:
        click.echo(f"{type(store).__name__} keeps sessions in cookies: nothing to clear.")
        return
    click.echo(f"Removed {removed} expired session{'' if removed == 1 else 's'}.")


def commands() -> list[click.Command]:
    """The auth battery's commands (added to ``carboy`` when ``Auth`` is installed).

    Example:
        >>> [c.name for c in commands()]
        ['createuser', 'changepassword', 'clearsessions']
    """
    return [createuser, changepassword, clearsessions]
