"""Database errors as HTTP answers: 409 and 422 for violated constraints, 503 when down.

A request that breaks a unique, foreign-key, not-null or check constraint gets a
response that names the field and the constraint, not a 500. A database that
cannot be reached (refused, restarted, connection killed, pool exhausted) gets a
503 with ``Retry-After``; the pool is renewed, so the next request reconnects.

The driver's own diagnostics are used where it gives them (PostgreSQL's
constraint, table and column, through psycopg or asyncpg; SQLite's message), and
the constraint name is looked up in the models' ``MetaData`` to find its columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ForeignKeyConstraint, MetaData, Table
from sqlalchemy import exc as sa_exc

from carboy.exceptions import ConfigurationError, FieldError, HTTPException, InvalidFields

#: Seconds a client is told to wait before retrying when the database is down.
RETRY_AFTER = 5

# PostgreSQL SQLSTATEs: class 23 (integrity), and the classes that mean "not now".
_UNIQUE, _FOREIGN_KEY, _NOT_NULL, _CHECK, _EXCLUSION = "23505", "23503", "23502", "23514", "23P01"
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")


class MigrationError(ConfigurationError):
    """A migration command cannot run; the message says what to do.

    Example:
        >>> raise MigrationError("No migrations in ./migrations: run carboy makemigrations")
    """


class DatabaseUnavailable(HTTPException):
    """503: the database cannot be reached now (down, restarting, busy or pool exhausted).

    Example:
        >>> raise DatabaseUnavailable("connection refused")
    """

    def __init__(self, reason: str = "") -> None:
        message = "The database is unavailable; please retry shortly."
        self.reason = reason
        super().__init__(503, message, {"retry-after": str(RETRY_AFTER)})


@dataclass(frozen=True, slots=True)
class ConstraintViolation:
    """What a driver tells about a violated constraint.

    Attributes:
        kind: ``"unique"``, ``"foreign_key"``, ``"not_null"``, ``"check"``,
            ``"exclusion"`` or ``"constraint"`` when the driver does not say.
        table: The table written to, when known.
        columns: The columns involved, when known.
        constraint: The constraint's name, when known.
        referenced: True for a foreign key whose row is still referenced (a delete).
        other_table: For a foreign key, the other table (referenced, or referencing).

    Example:
        >>> ConstraintViolation("unique", "user", ("email",), "uq_user_email").columns
        ('email',)
    """

    kind: str
    table: str | None = None
    columns: tuple[str, ...] = ()
    constraint: str | None = None
    referenced: bool = False
    other_table: str | None = field(default=None)


class IntegrityViolation(InvalidFields):
    """409 or 422 for a violated constraint, with one error per column involved.

    Unique violations and deletes of still-referenced rows are conflicts (409);
    missing required values, references to rows that do not exist and failed
    checks are invalid input (422). Like every :class:`~carboy.InvalidFields`
    it has ``message`` and ``errors``, listed as validation errors are:
    ``{"loc": ["body", "email"], "field": "email", "msg": ..., "type": "unique"}``.

    Example:
        >>> raise IntegrityViolation(ConstraintViolation("unique", "user", ("email",)))
    """

    def __init__(self, violation: ConstraintViolation) -> None:
        self.violation = violation
        status = 409 if violation.kind == "unique" or violation.referenced else 422
        message, per_field = _messages(violation)
        errors = [
            FieldError(["body", column], per_field, violation.kind) for column in violation.columns
        ]
        super().__init__(status, message, errors)


# Words (or table names) spelled with a vowel but said with a consonant, and the reverse.
_SAID_WITH_A_CONSONANT = ("eu", "ewe", "one", "once", "uni", "usa", "use", "usu", "uti", "ure")
_SAID_WITH_A_VOWEL = ("heir", "honest", "honor", "honour", "hour")


def _a(word: str) -> str:
    """``"an author"``, ``"a user"``, ``"an hour_log"``: the article a reader expects."""
    lower = word.lower()
    if lower.startswith(_SAID_WITH_A_VOWEL):
        return f"an {word}"
    if lower.startswith(_SAID_WITH_A_CONSONANT):
        return f"a {word}"
    return f"an {word}" if lower[:1] in ("a", "e", "i", "o", "u") else f"a {word}"


def _messages(v: ConstraintViolation) -> tuple[str, str]:
    """The response's message and the per-field message."""
    named = f" (constraint {v.constraint})" if v.constraint else ""
    columns = ", ".join(v.columns)
    if v.kind == "unique":
        table = v.table or "row"
        what = f"with this {columns}" if columns else "with these values"
        return (
            f"{_a(table).capitalize()} {what} already exists{named}.",
            f"This value is already used by another {table}{named}.",
        )
    if v.kind == "foreign_key" and v.referenced:
        this = f"This {v.table}" if v.table else "This row"
        by = f" by {v.other_table}" if v.other_table else ""
        message = f"{this} is still referenced{by}{named}; delete or change those first."
        return message, message
    if v.kind == "foreign_key":
        target = _a(v.other_table) if v.other_table else "a row"
        source = f"{v.table}.{columns}" if v.table and columns else "A foreign key"
        return (
            f"{source} refers to {target} that does not exist{named}.",
            f"No {v.other_table or 'row'} has this id{named}.",
        )
    if v.kind == "not_null":
        where = f"{v.table}.{columns}" if v.table and columns else columns or "A column"
        return f"{where} is required{named}.", "Field required"
    if v.kind == "check":
        on = f" on {v.table}" if v.table else ""
        return (
            f"A value breaks the check constraint {v.constraint or ''}{on}.".replace(" .", "."),
            f"This value breaks a check{named}.",
        )
    return (f"A database constraint was violated{named}.", f"Constraint violated{named}.")


# -- reading the drivers' diagnostics ---------------------------------------------------
def _sqlstate(orig: BaseException | None) -> str | None:
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if candidate is None:
            continue
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


def _pg_fields(orig: BaseException | None) -> dict[str, str | None]:
    """constraint / table / column / detail from psycopg's ``diag`` or asyncpg's exception."""
    diag = getattr(orig, "diag", None)
    if diag is not None:  # psycopg
        return {
            "constraint": diag.constraint_name,
            "table": diag.table_name,
            "column": diag.column_name,
            "detail": diag.message_detail,
        }
    # asyncpg: its own exception, or wrapped by SQLAlchemy's adapter.
    cause = orig if hasattr(orig, "constraint_name") else getattr(orig, "__cause__", None)
    return {
        "constraint": getattr(cause, "constraint_name", None),
        "table": getattr(cause, "table_name", None),
        "column": getattr(cause, "column_name", None),
        "detail": getattr(cause, "detail", None),
    }


_KEY_COLUMNS = re.compile(r"Key \((?P<cols>[^)]*)\)")
_REFERENCED_IN = re.compile(r'(?:present in|referenced from) table "(?P<table>[^"]+)"')


def _columns_of(
    metadata: Iterable[MetaData], table: str | None, name: str | None
) -> tuple[str, ...]:
    """Columns of the constraint or index called ``name``, found in the models."""
    if not name:
        return ()
    for md in metadata:
        tables: Iterable[Table] = (
            [md.tables[table]] if table and table in md.tables else md.tables.values()
        )
        for t in tables:
            for constraint in t.constraints:
                if constraint.name == name:
                    return tuple(
                        getattr(constraint, "column_keys", None)
                        or [c.name for c in getattr(constraint, "columns", ())]
                    )
            for index in t.indexes:
                if index.name == name:
                    return tuple(c.name for c in index.columns)
    return ()


def _foreign_key_target(
    metadata: Iterable[MetaData], table: str | None, name: str | None
) -> str | None:
    if not (table and name):
        return None
    for md in metadata:
        t = md.tables.get(table)
        if t is None:
            continue
        for fk in t.foreign_key_constraints:
            if fk.name == name:
                return fk.referred_table.name
    return None


def _describe_postgresql(
    orig: BaseException | None, code: str, metadata: Iterable[MetaData]
) -> ConstraintViolation:
    fields = _pg_fields(orig)
    constraint, table, column, detail = (
        fields["constraint"],
        fields["table"],
        fields["column"],
        fields["detail"] or "",
    )
    kind = {
        _UNIQUE: "unique",
        _FOREIGN_KEY: "foreign_key",
        _NOT_NULL: "not_null",
        _CHECK: "check",
        _EXCLUSION: "exclusion",
    }.get(code, "constraint")
    metadata = list(metadata)
    if column:
        columns: tuple[str, ...] = (column,)
    else:
        columns = _columns_of(metadata, table, constraint)
        if not columns and (match := _KEY_COLUMNS.search(detail)):
            columns = tuple(c.strip().strip('"') for c in match.group("cols").split(","))
    referenced = kind == "foreign_key" and "still referenced" in detail
    other = None
    if referenced:
        # A delete: the server reports the referencing table; the row was in the other.
        other, table, columns = table, _foreign_key_target(metadata, table, constraint), ()
    elif kind == "foreign_key":
        match = _REFERENCED_IN.search(detail)
        other = match.group("table") if match else _foreign_key_target(metadata, table, constraint)
    return ConstraintViolation(kind, table, columns, constraint, referenced, other)


_SQLITE_PATTERNS = (
    ("unique", re.compile(r"UNIQUE constraint failed: (?P<cols>.+)$")),
    ("not_null", re.compile(r"NOT NULL constraint failed: (?P<cols>.+)$")),
    ("check", re.compile(r"CHECK constraint failed: (?P<name>.+)$")),
    ("foreign_key", re.compile(r"FOREIGN KEY constraint failed")),
)


def _describe_sqlite(
    orig: BaseException | None, statement: str | None, metadata: Iterable[MetaData]
) -> ConstraintViolation:
    message = str(orig) if orig is not None else ""
    for kind, pattern in _SQLITE_PATTERNS:
        match = pattern.search(message)
        if match is None:
            continue
        if kind in ("unique", "not_null"):
            pairs = [part.strip().split(".", 1) for part in match.group("cols").split(",")]
            table = pairs[0][0] if pairs and len(pairs[0]) == 2 else None
            columns = tuple(p[-1] for p in pairs)
            constraint = _constraint_named_for(metadata, table, columns, kind)
            return ConstraintViolation(kind, table, columns, constraint)
        if kind == "check":
            name = match.group("name").strip()
            return ConstraintViolation("check", None, (), name)
        # SQLite does not say which key: tell a delete from an insert by the statement,
        # and name the key when the table has only one.
        verb, table = _statement_target(statement)
        if verb == "DELETE":
            return ConstraintViolation("foreign_key", table, (), None, referenced=True)
        keys = _foreign_keys_of(metadata, table)
        if len(keys) == 1:
            fk = keys[0]
            columns = tuple(c.name for c in fk.columns)
            return ConstraintViolation(
                "foreign_key", table, columns, _name(fk.name), other_table=fk.referred_table.name
            )
        return ConstraintViolation("foreign_key", table, (), None)
    return ConstraintViolation("constraint")


_MYSQL_KEY = re.compile(r"for key '(?:[^'.]*\.)?(?P<key>[^']+)'")
_MYSQL_COLUMN = re.compile(r"Column '(?P<col>[^']+)'|Field '(?P<field>[^']+)'")
_MYSQL_FOREIGN_KEY = re.compile(
    r"`(?P<table>[^`]+)`, CONSTRAINT `(?P<name>[^`]+)` FOREIGN KEY \((?P<cols>[^)]+)\) "
    r"REFERENCES `(?P<other>[^`]+)`"
)
_MYSQL_CHECK = re.compile(r"CONSTRAINT `(?P<name>[^`]+)` failed|Check constraint '(?P<n2>[^']+)'")


def _describe_mysql(
    code: int, message: str, statement: str | None, metadata: Iterable[MetaData]
) -> ConstraintViolation:
    """MySQL and MariaDB say which key in the message of numbered errors."""
    metadata = list(metadata)
    _, table = _statement_target((statement or "").replace("`", ""))
    if code == 1062:  # duplicate entry for a unique key
        match = _MYSQL_KEY.search(message)
        key = match.group("key") if match else None
        columns = _columns_of(metadata, table, key) if key else ()
        if not columns and key:
            columns = (key,)  # an unnamed unique column's key is named after it
        return ConstraintViolation("unique", table, columns, key)
    if code in (1048, 1364):  # NULL for a NOT NULL column / no value and no default
        match = _MYSQL_COLUMN.search(message)
        column = (match.group("col") or match.group("field")) if match else None
        return ConstraintViolation("not_null", table, (column,) if column else ())
    if code in (1451, 1452):  # parent row still referenced / no such parent row
        match = _MYSQL_FOREIGN_KEY.search(message)
        if match is None:
            return ConstraintViolation("foreign_key", table, (), None, referenced=code == 1451)
        columns = tuple(c.strip().strip("`") for c in match.group("cols").split(","))
        if code == 1451:
            return ConstraintViolation(
                "foreign_key",
                match.group("other"),
                (),
                match.group("name"),
                True,
                match.group("table"),
            )
        return ConstraintViolation(
            "foreign_key",
            match.group("table"),
            columns,
            match.group("name"),
            other_table=match.group("other"),
        )
    if code in (3819, 4025):  # CHECK constraint failed (MySQL, MariaDB)
        match = _MYSQL_CHECK.search(message)
        name = (match.group("name") or match.group("n2")) if match else None
        return ConstraintViolation("check", table, (), name)
    return ConstraintViolation("constraint", table)


def _foreign_keys_of(metadata: Iterable[MetaData], table: str | None) -> list[ForeignKeyConstraint]:
    if table is None:
        return []
    for md in metadata:
        found = md.tables.get(table)
        if found is not None:
            return list(found.foreign_key_constraints)
    return []


def _name(name: object) -> str | None:
    return name if isinstance(name, str) else None


def _constraint_named_for(
    metadata: Iterable[MetaData], table: str | None, columns: tuple[str, ...], kind: str
) -> str | None:
    if kind != "unique" or table is None:
        return None
    for md in metadata:
        t = md.tables.get(table)
        if t is None:
            continue
        for constraint in t.constraints:
            cols = tuple(c.name for c in getattr(constraint, "columns", ()))
            if cols == columns and isinstance(constraint.name, str):
                return constraint.name
        for index in t.indexes:
            if index.unique and tuple(c.name for c in index.columns) == columns:
                return str(index.name) if index.name else None
    return None


_STATEMENT_TARGET = re.compile(
    r"^\s*(?P<verb>INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(?P<table>[\w.]+)", re.IGNORECASE
)


def _statement_target(statement: str | None) -> tuple[str, str | None]:
    match = _STATEMENT_TARGET.search(statement or "")
    if match is None:
        return "", None
    verb = match.group("verb").split()[0].upper()
    return verb, match.group("table").split(".")[-1]


def describe_violation(
    exc: sa_exc.IntegrityError, metadata: Iterable[MetaData] = ()
) -> ConstraintViolation:
    """Read which constraint ``exc`` broke, from the driver and the models' metadata.

    Example:
        >>> try:
        ...     session.commit()
        ... except IntegrityError as exc:
        ...     describe_violation(exc, [Model.metadata]).columns
        ('email',)
    """
    orig = exc.orig
    module = type(orig).__module__ if orig is not None else ""
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    if "mysql" in module and len(args) >= 2 and isinstance(args[0], int):
        # Checked first: MySQL drivers give a generic SQLSTATE ("23000") as well.
        return _describe_mysql(args[0], str(args[1]), exc.statement, metadata)
    code = _sqlstate(orig)
    if code is not None and code.startswith("23"):
        return _describe_postgresql(orig, code, metadata)
    if "sqlite" in module or "SQLITE_" in str(getattr(orig, "sqlite_errorname", "")):
        return _describe_sqlite(orig, exc.statement, metadata)
    return ConstraintViolation("constraint")


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached now (answer 503).

    Example:
        >>> is_unavailable(ConnectionRefusedError())
        False
    """
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    code = _sqlstate(orig)
    if code is not None:
        return _is_unavailable_sqlstate(code)
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        # No SQLSTATE: the driver failed before the server answered (connect, socket).
        if exc.statement is None:
            return True
        text = str(orig).lower()
        return any(marker in text for marker in _SQLITE_UNAVAILABLE) or (
            "sqlite" not in type(orig).__module__
        )
    return False


def translate_error(exc: BaseException, metadata: Iterable[MetaData] = ()) -> HTTPException | None:
    """The HTTP error for a database exception, or None when it is a server bug (500).

    Example:
        >>> translate_error(ValueError()) is None
        True
    """
    if isinstance(exc, HTTPException):
        return None
    if isinstance(exc, sa_exc.IntegrityError):
        return IntegrityViolation(describe_violation(exc, metadata))
    if is_unavailable(exc):
        return DatabaseUnavailable(f"{type(exc).__name__}: {exc}")
    code = _driver_sqlstate(exc)
    if code is not None and code.startswith("23"):
        return IntegrityViolation(_describe_postgresql(exc, code, metadata))
    if code is not None and _is_unavailable_sqlstate(code):
        return DatabaseUnavailable(f"{type(exc).__name__}: {exc}")
    if _is_data_error(exc):
        return HTTPException(422, detail=_DATA_ERROR_DETAIL)
    return None


_DATA_ERROR_DETAIL = "A value is out of the range (or not of the type) its database column holds"


def _is_data_error(exc: BaseException) -> bool:
    """A value the database cannot store: out of range, wrong type (SQLSTATE class 22).

    SQLite's driver refuses an int beyond 64 bits with a bare ``OverflowError``
    (SQLAlchemy passes it through, or wraps it in a ``StatementError``);
    PostgreSQL answers ``22003 numeric_value_out_of_range`` and asyncpg refuses
    an int4 argument beyond 32 bits with its ``DataError`` (``22000``).
    """
    orig = getattr(exc, "orig", None) if isinstance(exc, sa_exc.StatementError) else exc
    if isinstance(orig, OverflowError) or isinstance(exc, sa_exc.DataError):
        return True
    statement = isinstance(exc, sa_exc.StatementError)
    code = _sqlstate(orig) if statement else _driver_sqlstate(exc)
    return code is not None and code.startswith("22")


def _driver_sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver's own exception (asyncpg's, used without SQLAlchemy)."""
    if not type(exc).__module__.startswith(("asyncpg", "psycopg")):
        return None
    name = type(exc).__name__
    # asyncpg gives a lost connection no SQLSTATE.
    if name == "ConnectionDoesNotExistError" or (name == "InterfaceError" and "closed" in str(exc)):
        return "08003"
    return _sqlstate(exc)


def _is_unavailable_sqlstate(code: str) -> bool:
    return code.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES) or code in _RETRYABLE_SQLSTATES
