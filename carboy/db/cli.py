"""The database commands: ``makemigrations``, ``migrate``, ``migrations``, ``dbshell``,
``dumpdata`` and ``loaddata``. They are added to the ``carboy`` command when the
``Database`` module is installed.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import URL

from carboy.cli import CliError, current_loader, pass_app
from carboy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.db._database import Database
    from carboy.db.migrations import MigrationStep


def _console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _database(app: Carboy) -> Database:
    from carboy.db._database import Database

    current_loader().build(app)
    try:
        return app.get_module(Database)
    except ConfigurationError as exc:
        raise CliError(str(exc)) from None


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@click.command("makemigrations")
@click.option("-m", "--message", help="Title of the revision (default: a summary of it).")
@click.option(
    "--module",
    "module",
    metavar="LABEL",
    help="Write the history of a module that ships its own migrations.",
)
@click.option(
    "--empty", is_flag=True, help="Write a revision even with no change (data migrations)."
)
@click.option("--merge", is_flag=True, help="Join two histories made in parallel.")
@click.option(
    "--interactive/--no-interactive",
    default=None,
    help="Ask whether a dropped-and-added column was renamed (default: on a terminal).",
)
@pass_app
def makemigrations(
    app: Carboy,
    message: str | None,
    module: str | None,
    empty: bool,
    merge: bool,
    interactive: bool | None,
) -> None:
    """Write a migration for what changed in the models since the last one.

    The database must be up to date first (`carboy migrate`).

    \b
      carboy makemigrations
      carboy makemigrations -m "add post.subtitle"
    """
    from carboy.db.errors import MigrationError

    db = _database(app)
    console = _console()
    ask = _interactive() if interactive is None else interactive

    def confirm(table: str, old: str, new: str) -> bool:
        if not ask:
            return False
        return click.confirm(f"Was {table}.{old} renamed to {table}.{new}?", default=False)

    try:
        if merge:
            merged = db.migrations.merge(message, module=module)
            if merged is None:
                console.print("Nothing to merge: the history has one head.")
            else:
                console.print(Text.assemble("Merged into ", (str(merged), "bold")))
            return
        written = db.migrations.make(message, module=module, rename=confirm, empty=empty)
    except MigrationError as exc:
        raise CliError(str(exc)) from None
    for note in db.migrations.notes:
        console.print(Text.assemble(("Note: ", "yellow"), note))
    if not written:
        console.print("No changes detected.")
        return
    for path in written:
        console.print(Text.assemble("Created ", (_relative(path), "bold green")))
    console.print("Apply with: carboy migrate")


def _relative(path: os.PathLike[str]) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return os.fspath(path)


@click.command("migrate")
@click.argument("target", required=False)
@pass_app
def migrate(app: Carboy, target: str | None) -> None:
    """Apply migrations, or revert to TARGET.

    TARGET is a revision id (or its start), `zero` to revert everything, or
    nothing to apply every pending migration.

    \b
      carboy migrate
      carboy migrate 3f2a9c
      carboy migrate zero
    """
    from carboy.db.errors import MigrationError

    db = _database(app)
    console = _console()
    try:
        plan = db.migrations.plan(target)
    except MigrationError as exc:
        raise CliError(str(exc)) from None
    if plan.direction == "none":
        try:
            db.migrations.migrate(target)  # nothing to apply, but the on_migrate hooks run
        except MigrationError as exc:
            raise CliError(str(exc)) from None
        console.print("No migrations to apply." if target is None else f"Already at {plan.target}.")
        return
    upgrading = plan.direction == "upgrade"
    verb = "Applying" if upgrading else "Reverting"
    labels = [f"{m.revision} {m.message}".strip() for m in plan.revisions]

    def report(step: MigrationStep, out: Console) -> None:
        mark = "+" if step.upgrade else "-"
        line = f"  {mark} {step.revision} {step.message}".rstrip()
        out.print(
            Text.assemble(
                (line, "green" if step.upgrade else "yellow"), (f"  {step.seconds:.2f}s", "dim")
            )
        )

    try:
        if not console.is_terminal:
            db.migrations.migrate(target, on_step=lambda step: report(step, console))
        else:
            _migrate_with_progress(db, target, verb, labels, report, console)
    except MigrationError as exc:
        raise CliError(str(exc)) from None
    done = "Applied" if upgrading else "Reverted"
    console.print(f"{done} {len(labels)} migration{'s' if len(labels) != 1 else ''}.")


def _migrate_with_progress(
    db: Database,
    target: str | None,
    verb: str,
    labels: list[str],
    report: Callable[[MigrationStep, Console], None],
    console: Console,
) -> None:
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{verb} {labels[0]}", total=len(labels))

        def on_step(step: MigrationStep) -> None:
            done = int(progress.tasks[0].completed) + 1
            following = f"{verb} {labels[done]}" if done < len(labels) else "Done"
            progress.update(task, advance=1, description=following)
            report(step, progress.console)

        db.migrations.migrate(target, on_step=on_step)


@click.command("migrations")
@pass_app
def migrations(app: Carboy) -> None:
    """List the migrations: [X] applied, [ ] pending."""
    from carboy.db.errors import MigrationError

    db = _database(app)
    console = _console()
    try:
        states = db.migrations.status()
    except MigrationError as exc:
        raise CliError(str(exc)) from None
    if not states:
        console.print(
            f"No migrations in {_relative(db.migrations.directory)}; create them "
            "with `carboy makemigrations`."
        )
        return
    table = Table(box=None, show_header=True, pad_edge=False)
    for column in ("", "revision", "history", "migration"):
        table.add_column(column)
    for state in states:
        table.add_row(
            "[X]" if state.applied else "[ ]",
            state.revision,
            state.branch,
            Text(state.message),
            style=None if state.applied else "yellow",
        )
    console.print(table)
    pending = sum(not s.applied for s in states)
    console.print(f"{len(states) - pending} applied, {pending} pending.")


def shell_command(url: URL) -> tuple[list[str], dict[str, str]]:
    """The command line (and environment) of the database's own shell for ``url``.

    The password goes in the environment, never in the arguments (other users
    can read a process's arguments).

    Example:
        >>> shell_command(make_url("postgresql://ada:pw@db:5433/blog"))
        (['psql', '-h', 'db', '-p', '5433', '-U', 'ada', 'blog'], {'PGPASSWORD': 'pw'})
    """
    backend = url.get_backend_name()
    env: dict[str, str] = {}
    if backend == "sqlite":
        database = url.database or ""
        return (["sqlite3", database] if database and database != ":memory:" else ["sqlite3"]), env
    if backend == "postgresql":
        argv = ["psql"]
        if url.host:
            argv += ["-h", url.host]
        if url.port:
            argv += ["-p", str(url.port)]
        if url.username:
            argv += ["-U", url.username]
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        sslmode = url.query.get("sslmode")
        if isinstance(sslmode, str):
            env["PGSSLMODE"] = sslmode
        if url.database:
            argv.append(url.database)
        return argv, env
    if backend in ("mysql", "mariadb"):
        argv = ["mariadb" if backend == "mariadb" else "mysql"]
        if url.host:
            argv += ["-h", url.host]
        if url.port:
            argv += ["-P", str(url.port)]
        if url.username:
            argv += ["-u", url.username]
        if url.password:
            env["MYSQL_PWD"] = str(url.password)
        if url.database:
            argv.append(url.database)
        return argv, env
    raise CliError(f"carboy dbshell does not know the shell of {backend!r} databases")


@click.command("dbshell", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_app
def dbshell(app: Carboy, args: Sequence[str]) -> None:
    """Open the database's own shell (psql, sqlite3, mysql); ARGS are passed to it.

    \b
      carboy dbshell
      carboy dbshell -- -c "select count(*) from post"
    """
    db = _database(app)
    argv, env = shell_command(db.sync_url)
    program = shutil.which(argv[0])
    if program is None:
        raise CliError(f"{argv[0]} is not installed, or not on PATH: install it to use dbshell")
    os.execvpe(program, [*argv, *args], {**os.environ, **env})


@click.command("dumpdata")
@click.argument("models", nargs=-1)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Write to this file instead of standard output.",
)
@click.option(
    "--indent",
    type=click.IntRange(0, 8),
    default=None,
    help="Indent each row's JSON by this many spaces.",
)
@pass_app
def dumpdata(app: Carboy, models: Sequence[str], output: IO[str], indent: int | None) -> None:
    """Write the rows of MODELS (default: every table) as a JSON fixture.

    \b
      carboy dumpdata > everything.json
      carboy dumpdata post author -o blog.json
    """
    from carboy.db.fixtures import FixtureError, dump

    db = _database(app)
    try:
        count = dump(db, output, models, indent=indent)
    except FixtureError as exc:
        raise CliError(str(exc)) from None
    if output is not sys.stdout and getattr(output, "name", "-") != "<stdout>":
        _console(stderr=True).print(f"Wrote {count} rows.")


@click.command("loaddata")
@click.argument("fixtures", nargs=-1, required=True, type=click.File("r", encoding="utf-8"))
@pass_app
def loaddata(app: Carboy, fixtures: Sequence[IO[str]]) -> None:
    """Load JSON fixtures (from dumpdata) into the database, in one transaction.

    Rows whose primary key exists are updated; the others are inserted.

    \b
      carboy loaddata blog.json
    """
    from carboy.db.fixtures import FixtureError, load

    db = _database(app)
    try:
        loaded = load(db, fixtures)
    except FixtureError as exc:
        raise CliError(str(exc)) from None
    total = sum(loaded.values())
    detail = ", ".join(f"{name}: {n}" for name, n in loaded.items())
    _console().print(f"Loaded {total} rows" + (f" ({detail})." if detail else "."))


def commands() -> list[click.Command]:
    """The database battery's commands, for ``Database`` to add to the ``carboy`` CLI.

    Example:
        >>> [c.name for c in commands()]
        ['makemigrations', 'migrate', 'migrations', 'dbshell', 'dumpdata', 'loaddata']
    """
    return [makemigrations, migrate, migrations, dbshell, dumpdata, loaddata]
