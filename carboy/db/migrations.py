"""Migrations: Alembic underneath, driven from the app's models and modules.

**One history per project.** ``carboy makemigrations`` compares every model of
every installed module (one ``MetaData``) with the database and writes an Alembic
revision into the project's ``migrations/`` folder (next to the file that creates
the app). ``carboy migrate`` applies them; on a fresh database it builds every
table, batteries' included.

**A module may ship its own history.** A battery (or any reusable module) that
must evolve its tables across releases keeps its revisions in its own folder and
registers it with :meth:`Database.add_migrations <carboy.db.Database.add_migrations>`.
Its revisions are the Alembic branch named after it; its tables are left out of
the project's revisions, and the project's revisions *depend on* the branch's
head, so a project table may reference a battery's table. Its author generates
them with ``carboy makemigrations --module <label>``.

Revisions are rendered in Alembic's batch mode, so the same files run on SQLite
(which rebuilds a table to alter it) and on PostgreSQL (plain ``ALTER``). On
SQLite, foreign keys are checked after each revision instead of during it.

A renamed column looks like a dropped one plus an added one; ``makemigrations``
asks whether it was a rename (``rename=`` here) and writes an ``ALTER ... RENAME``
that keeps the data.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy.pool import NullPool

from carboy.db._autogenerate import (
    RenameConfirm,
    find_renames,
    render_item,
    summarize,
    warn_not_null,
)
from carboy.db.errors import MigrationError

if TYPE_CHECKING:
    from alembic.environment import EnvironmentContext

    from carboy.db._database import Database, MigrationSource


#: The Alembic branch label of the project's own history.
PROJECT_LABEL = "project"
#: Models in these packages are a battery's: never in the project's own history.
_BATTERY_PREFIX = "carboy."
#: The owner of a battery's tables while the battery is not installed: no history.
_NOT_INSTALLED = "(battery not installed)"
_ENV_DIR = Path(__file__).parent / "_alembic"
_ENV_KEY = "carboy.environment"
_FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(rev)s_%%(slug)s"
_ZERO = ("zero", "base")
_HEADS = ("head", "heads")


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One revision and whether the database has it (``carboy migrations``).

    Example:
        >>> [(m.revision, m.branch, m.applied) for m in db.migrations.status()]
        [('3f2a9c1b7d4e', 'project', True)]
    """

    revision: str
    message: str
    branch: str
    applied: bool
    path: Path
    parents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MigrationStep:
    """A revision just applied or reverted by ``migrate`` (for progress displays).

    Example:
        >>> db.migrations.migrate(on_step=lambda step: print(step.revision, step.seconds))
        3f2a9c1b7d4e 0.04
    """

    revision: str
    message: str
    upgrade: bool
    seconds: float


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """What ``migrate(target)`` will do: the direction and the revisions, in order.

    Example:
        >>> db.migrations.plan("zero").direction
        'downgrade'
    """

    direction: str  # "upgrade", "downgrade" or "none"
    target: str
    revisions: tuple[MigrationState, ...]


@dataclass
class _Environment:
    """What ``env.py`` gets through ``config.attributes``."""

    connection: Connection
    options: dict[str, Any] = field(default_factory=dict)


def run_environment(context: EnvironmentContext) -> None:
    """The body of carboy's Alembic ``env.py``: configure and run, with carboy's options.

    Example:
        >>> from alembic import context
        >>> run_environment(context)
    """
    environment = context.config.attributes.get(_ENV_KEY)
    if not isinstance(environment, _Environment):
        raise MigrationError(
            "carboy's Alembic environment runs through carboy's commands: use "
            "`carboy migrate` / `carboy makemigrations`, not the alembic CLI"
        )
    context.configure(connection=environment.connection, **environment.options)
    with context.begin_transaction():
        context.run_migrations()


class Migrations:
    """The migrations of a :class:`~carboy.db.Database`: make, apply, revert, list.

    Every method opens its own short-lived connection with the sync driver.

    Example:
        >>> migrations = app.get_module(Database).migrations
        >>> migrations.make("add posts")
        [PosixPath('.../migrations/20250101_1200_3f2a9c1b7d4e_add_posts.py')]
        >>> migrations.migrate()
    """

    def __init__(self, database: Database) -> None:
        self.db = database
        #: Warnings from the last :meth:`make` (columns that may be renames, NOT NULL adds).
        self.notes: list[str] = []

    # -- where things are --------------------------------------------------------------
    @property
    def directory(self) -> Path:
        """The project's migrations folder."""
        folder = self.db.migrations_dir
        return folder if folder.is_absolute() else self.db.project_root / folder

    def _sources(self) -> list[MigrationSource]:
        return list(self.db.migration_sources)

    def _locations(self) -> list[Path]:
        return [self.directory, *(s.directory for s in self._sources())]

    def _config(self, environment: _Environment | None = None) -> Config:
        config = Config(cmd_opts=argparse.Namespace(quiet=True))
        config.set_main_option("script_location", str(_ENV_DIR))
        config.set_main_option("path_separator", "os")
        locations = [str(p) for p in self._locations() if p.is_dir()]
        config.set_main_option(
            "version_locations", os.pathsep.join(locations) or str(self.directory)
        )
        config.set_main_option("file_template", _FILE_TEMPLATE)
        config.set_main_option("truncate_slug_length", "40")
        if environment is not None:
            config.attributes[_ENV_KEY] = environment
        return config

    def script(self) -> ScriptDirectory:
        """Alembic's view of every revision file (project and modules)."""
        return ScriptDirectory.from_config(self._config())

    def _label_of(self, script: Script) -> str:
        path = Path(script.path).resolve()
        for source in self._sources():
            if path.is_relative_to(source.directory.resolve()):
                return source.label
        return PROJECT_LABEL

    # -- connections --------------------------------------------------------------------
    def _engine(self) -> Engine:
        from carboy.db._engines import configure_engine

        url = self.db.sync_url
        engine = create_engine(url, poolclass=NullPool)
        # SQLite: batch mode rebuilds tables, which foreign keys would block; they are
        # checked after each revision instead.
        configure_engine(engine, url, foreign_keys=False)
        return engine

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        engine = self._engine()
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()

    def _options(self, **extra: Any) -> dict[str, Any]:
        is_sqlite = self.db.sync_url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {
            "target_metadata": self.db.metadata,
            "render_as_batch": True,
            "compare_type": True,
            "render_item": render_item,
            "transaction_per_migration": True,
        }
        if is_sqlite:
            options["transactional_ddl"] = True
        options.update(extra)
        return options

    # -- reading ----------------------------------------------------------------------
    def current(self) -> tuple[str, ...]:
        """The revisions the database is at (one per branch; empty when fresh).

        Example:
            >>> db.migrations.current()
            ('3f2a9c1b7d4e',)
        """
        with self._connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())

    def _applied(self, script: ScriptDirectory, heads: Sequence[str]) -> set[str]:
        if not heads:
            return set()
        return {s.revision for s in script.iterate_revisions(tuple(heads), "base")}

    def status(self) -> list[MigrationState]:
        """Every revision, oldest first, and whether it is applied.

        Example:
            >>> [(m.revision, m.applied) for m in db.migrations.status()]
            [('3f2a9c1b7d4e', True), ('81be02c4d9aa', False)]
        """
        script = self.script()
        applied = self._applied(script, self.current())
        return [self._state(s, s.revision in applied) for s in self._ordered(script)]

    def _state(self, script: Script, applied: bool) -> MigrationState:
        down = script.down_revision
        parents = (down,) if isinstance(down, str) else tuple(down or ())
        return MigrationState(
            script.revision,
            (script.doc or "").strip(),
            self._label_of(script),
            applied,
            Path(script.path),
            parents,
        )

    def _ordered(self, script: ScriptDirectory) -> list[Script]:
        if not any(p.is_dir() and any(p.glob("*.py")) for p in self._locations()):
            return []
        return list(reversed(list(script.walk_revisions("base", "heads"))))

    def pending(self) -> list[MigrationState]:
        """The revisions not applied yet, in the order ``migrate`` runs them.

        Example:
            >>> [m.message for m in db.migrations.pending()]
            ['add post']
        """
        return [m for m in self.status() if not m.applied]

    # -- applying ----------------------------------------------------------------------
    def plan(self, target: str | None = None) -> MigrationPlan:
        """What :meth:`migrate` would do for ``target``, without doing it.

        ``target`` is None or ``"heads"`` (everything), ``"zero"`` (nothing: revert
        all), a revision id or a unique prefix of one, or ``"<label>@head"``.

        Example:
            >>> db.migrations.plan("zero").direction
            'downgrade'
        """
        script = self.script()
        revisions = self._ordered(script)
        if not revisions and target in (None, *_HEADS):
            if not self.db.metadata.tables:  # no models, nothing to build
                return MigrationPlan("none", "heads", ())
            raise MigrationError(
                f"No migrations in {self.directory}: create them with `carboy makemigrations`"
            )
        current = self.current()
        applied = self._applied(script, current)
        if target is None or target in _HEADS:
            todo = [s for s in revisions if s.revision not in applied]
            return MigrationPlan(
                "upgrade" if todo else "none", "heads", tuple(self._state(s, False) for s in todo)
            )
        if target in _ZERO:
            undo = [s for s in reversed(revisions) if s.revision in applied]
            return MigrationPlan(
                "downgrade" if undo else "none", "base", tuple(self._state(s, True) for s in undo)
            )
        try:
            found = script.get_revision(target)
        except CommandError as exc:
            raise MigrationError(
                f"Unknown migration {target!r}: {exc}. See `carboy migrations` for the list."
            ) from None
        if found is None:
            raise MigrationError(f"Unknown migration {target!r}")
        wanted = {s.revision for s in script.iterate_revisions(found.revision, "base")}
        if found.revision in applied:
            undo = [
                s
                for s in reversed(revisions)
                if s.revision in applied
                and s.revision not in wanted
                and self._descends_from(script, s, found.revision)
            ]
            return MigrationPlan(
                "downgrade" if undo else "none",
                found.revision,
                tuple(self._state(s, True) for s in undo),
            )
        todo = [s for s in revisions if s.revision in wanted and s.revision not in applied]
        return MigrationPlan("upgrade", found.revision, tuple(self._state(s, False) for s in todo))

    def _descends_from(self, script: ScriptDirectory, candidate: Script, ancestor: str) -> bool:
        ancestors = {s.revision for s in script.iterate_revisions(candidate.revision, "base")}
        return ancestor in ancestors

    def migrate(
        self,
        target: str | None = None,
        *,
        on_step: Callable[[MigrationStep], None] | None = None,
    ) -> MigrationPlan:
        """Bring the database to ``target`` (default: every revision), up or down.

        Each revision runs in its own transaction; ``on_step`` is called after each.

        Example:
            >>> db.migrations.migrate()           # apply everything
            >>> db.migrations.migrate("zero")     # revert everything
            >>> db.migrations.migrate("3f2a9c")   # to that revision, either way
        """
        plan = self.plan(target)
        if plan.direction == "none":
            self._after_migrate(plan)
            return plan
        is_sqlite = self.db.sync_url.get_backend_name() == "sqlite"
        started = [time.perf_counter()]

        def after_step(*, ctx: MigrationContext, step: Any, heads: Any, run_args: Any) -> None:
            if is_sqlite and ctx.connection is not None:
                _check_sqlite_foreign_keys(ctx.connection)
            now = time.perf_counter()
            if on_step is not None:
                found = step.up_revision
                message = (found.doc or "").strip() if found is not None else ""
                on_step(
                    MigrationStep(
                        step.up_revision_id, message, bool(step.is_upgrade), now - started[0]
                    )
                )
            started[0] = now

        with self._connect() as connection:
            environment = _Environment(connection, self._options(on_version_apply=[after_step]))
            config = self._config(environment)
            try:
                if plan.direction == "upgrade":
                    command.upgrade(config, plan.target)
                else:
                    command.downgrade(config, plan.target)
            except CommandError as exc:
                raise MigrationError(f"Cannot migrate to {plan.target}: {exc}") from exc
            if connection.in_transaction():
                connection.commit()
        self._after_migrate(plan)
        return plan

    def _after_migrate(self, plan: MigrationPlan) -> None:
        for hook in list(self.db.migrate_hooks):
            hook(self.db, plan)

    # -- making ------------------------------------------------------------------------
    def _owners(self) -> dict[str, str]:
        """Table name -> the label of the history that owns it (project if absent).

        A model of one of carboy's own batteries belongs to that battery's history
        once the battery is installed, and to no history while it is not: importing
        ``carboy.admin.models`` must not put the admin's tables into the project's.
        """
        sources = self._sources()
        owners: dict[str, str] = {}
        mapped: set[str] = set()
        for mapper in self.db.base.registry.mappers:
            table = mapper.local_table
            if not isinstance(table, Table):
                continue
            mapped.add(table.name)
            module = mapper.class_.__module__
            for source in sources:
                if any(module == p or module.startswith(p + ".") for p in source.packages):
                    owners[table.name] = source.label
            if table.name not in owners and module.startswith(_BATTERY_PREFIX):
                owners[table.name] = _NOT_INSTALLED
        # A table without a model (an association table) goes with the tables it links.
        for table in self.db.metadata.tables.values():
            if table.name in mapped:
                continue
            labels = {owners.get(fk.column.table.name) for fk in table.foreign_keys}
            if len(labels) == 1 and None not in labels:
                owners[table.name] = str(labels.pop())
        return owners

    def _include_object(self, label: str) -> Callable[..., bool]:
        owners = self._owners()

        def include(
            obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
        ) -> bool:
            if type_ == "table":
                table_name = name
            else:
                table = getattr(obj, "table", None)
                table_name = getattr(table, "name", None)
            if table_name is None:
                return True
            return owners.get(table_name, PROJECT_LABEL) == label

        return include

    def _heads_of(self, script: ScriptDirectory, label: str) -> list[str]:
        return [h for h in script.get_heads() if self._label_of(_get(script, h)) == label]

    def make(
        self,
        message: str | None = None,
        *,
        module: str | None = None,
        rename: RenameConfirm | None = None,
        empty: bool = False,
    ) -> list[Path]:
        """Write a revision for the differences between the models and the database.

        The database must have every existing revision applied (``migrate`` first).
        Nothing is written when nothing changed, unless ``empty`` (for a data
        migration you write by hand).

        Args:
            message: The revision's title; by default a summary of its changes.
            module: The label of a module that ships its own history, to write
                that module's revision instead of the project's.
            rename: Asked ``(table, old, new)`` for each dropped-and-added column
                pair of the same type; True writes a rename that keeps the data.
            empty: Write a revision even with no changes.

        Returns:
            The files written.

        Example:
            >>> db.migrations.make("add post.subtitle")
        """
        self.db.discover_models()
        label = module or PROJECT_LABEL
        if module is not None:
            source = next((s for s in self._sources() if s.label == module), None)
            if source is None:
                known = ", ".join(s.label for s in self._sources()) or "none"
                raise MigrationError(f"No module ships migrations as {module!r} (known: {known})")
            version_path = source.directory
            depends: list[str] = []
        else:
            version_path = self.directory
        version_path.mkdir(parents=True, exist_ok=True)
        script = self.script()
        heads = self._heads_of(script, label)
        if len(heads) > 1:
            raise MigrationError(
                f"The {label} migrations have {len(heads)} heads ({', '.join(heads)}): two "
                "histories were made in parallel. Run `carboy makemigrations --merge`."
            )
        if module is None:
            depends = self._missing_dependencies(script, heads)
        pending = [m.revision for m in self.pending()]
        if pending:
            raise MigrationError(
                f"The database is not up to date ({len(pending)} migration(s) not applied: "
                f"{', '.join(pending)}). Run `carboy migrate` first, then makemigrations."
            )
        notes: list[str] = []
        directives = self._directives_hook(message, rename, empty, notes)
        with self._connect() as connection:
            environment = _Environment(
                connection, self._options(include_object=self._include_object(label))
            )
            config = self._config(environment)
            try:
                produced = command.revision(
                    config,
                    message=message or "auto",
                    autogenerate=True,
                    head=heads[0] if heads else "base",
                    branch_label=None if heads else label,
                    version_path=str(version_path),
                    depends_on=depends or None,  # type: ignore[arg-type]  # a list is accepted
                    process_revision_directives=directives,
                )
            except CommandError as exc:
                raise MigrationError(f"Cannot make migrations: {exc}") from exc
            if connection.in_transaction():
                connection.rollback()
        self.notes = notes
        scripts = produced if isinstance(produced, list) else [produced]
        return [Path(s.path) for s in scripts if s is not None]

    def _missing_dependencies(self, script: ScriptDirectory, heads: list[str]) -> list[str]:
        """Module heads the project's history does not depend on yet."""
        wanted: list[str] = []
        ancestry: set[str] = set()
        if heads:
            ancestry = {s.revision for s in script.iterate_revisions(heads[0], "base")}
        for source in self._sources():
            for head in self._heads_of(script, source.label):
                if head not in ancestry:
                    wanted.append(head)
        return wanted

    def _directives_hook(
        self, message: str | None, rename: RenameConfirm | None, empty: bool, notes: list[str]
    ) -> Callable[..., None]:
        def hook(context: MigrationContext, revision: Any, directives: list[Any]) -> None:
            script = directives[0]
            upgrade = script.upgrade_ops
            if upgrade.is_empty() and not empty:
                directives[:] = []
                return
            find_renames(upgrade, script.downgrade_ops, rename, notes)
            warn_not_null(upgrade, notes)
            if message is None:
                script.message = summarize(upgrade) or "empty"

        return hook

    def merge(self, message: str | None = None, *, module: str | None = None) -> Path | None:
        """Join the heads of a history made in parallel into one; None if one head.

        Example:
            >>> db.migrations.merge()
        """
        label = module or PROJECT_LABEL
        script = self.script()
        heads = self._heads_of(script, label)
        if len(heads) < 2:
            return None
        try:
            produced = command.merge(self._config(), heads, message=message or "merge")
        except CommandError as exc:
            raise MigrationError(f"Cannot merge {', '.join(heads)}: {exc}") from exc
        return Path(produced.path) if produced is not None else None


def _get(script: ScriptDirectory, revision: str) -> Script:
    found = script.get_revision(revision)
    if found is None:  # pragma: no cover - heads always resolve
        raise MigrationError(f"Unknown revision {revision}")
    return found


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    broken = connection.execute(text("PRAGMA foreign_key_check")).all()
    if broken:
        rows = ", ".join(f"{r[0]} row {r[1]} -> {r[2]}" for r in broken[:5])
        raise MigrationError(f"The migration leaves rows with broken foreign keys: {rows}")
