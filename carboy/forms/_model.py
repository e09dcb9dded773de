"""Model forms: the form of a carboy.db model, its fields read from the model's columns.

``ModelForm[Post]`` derives a pydantic schema from the mapped class once: each
column's type, length, precision, nullability, default and enum choices; a
foreign key as a select of the rows it may point to; a many-to-many
relationship as a multi-select. The form then validates like any form, and
``await form.asave(session)`` creates or updates the row, with the database's
own verdict (a unique value taken, a row gone) turned into field errors.

The work against the session is written once, for a sync ``Session``, and an
``AsyncSession`` drives the same functions through ``run_sync``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, Field, create_model
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm
from sqlalchemy.orm.exc import StaleDataError

from carboy.db import AsyncSession
from carboy.db.errors import IntegrityViolation, translate_error
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.forms._fields import MISSING, Choice, compile_fields
from carboy.forms._form import BaseForm, _check_options
from carboy.forms._storage import Storage
from carboy.forms._uploads import UploadedFile
from carboy.forms._widgets import HiddenInput, Select, SelectMultiple, Textarea
from carboy.requests import Request

if TYPE_CHECKING:
    from carboy.datastructures import MultiDict

M = TypeVar("M")

#: "(constraint uq_post_slug)": for logs and APIs, not for the person filling the form in.
_CONSTRAINT_NOTE = re.compile(r" \(constraint [^)]*\)")

#: Most rows loaded as the options of one foreign-key or many-to-many select.
CHOICES_LIMIT = 1000


def conflict_message(model: type[Any]) -> str:
    """The form-wide error when a row changed since its form was opened."""
    name = getattr(model, "__name__", "row").lower()
    return (
        f"This {name} was changed by someone else since you opened this form; nothing was "
        "saved. Reload the page to see their changes, then make yours again."
    )


@dataclass(frozen=True, slots=True)
class Relation:
    """A form field that points at other rows: a foreign key or a many-to-many relationship."""

    field: str
    target: type[Any]
    many: bool
    #: The relationship's name (``category`` for ``category_id``), when there is one.
    relationship: str | None


def _scalar_default(column: sa.Column[Any]) -> Any:
    default = column.default
    if default is None:
        return MISSING
    if getattr(default, "is_scalar", False):
        return default.arg  # type: ignore[attr-defined]
    return MISSING


def _generated(column: sa.Column[Any]) -> bool:
    """A column the database or the model fills in itself: not a form field by default."""
    if column.primary_key and column.autoincrement in (True, "auto") and not column.foreign_keys:
        return True
    default = column.default
    callable_default = default is not None and not getattr(default, "is_scalar", False)
    return bool(
        column.onupdate is not None
        or column.server_default is not None
        or column.server_onupdate is not None
        or callable_default
        or column.computed is not None
        or column.identity is not None
    )


def _python_type(column: sa.Column[Any]) -> tuple[Any, list[Any]]:
    """The Python type of a column's values and the pydantic constraints its SQL type implies."""
    sql_type = column.type
    metadata: list[Any] = []
    if isinstance(sql_type, sa.Enum):
        enum_class = sql_type.enum_class
        if enum_class is not None:
            return enum_class, metadata
        return Literal[tuple(sql_type.enums)], metadata
    if isinstance(sql_type, sa.Boolean):
        return bool, metadata
    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float):
        if sql_type.asdecimal:
            if sql_type.precision is not None:
                metadata.append(Field(max_digits=sql_type.precision))
            if sql_type.scale is not None:
                metadata.append(Field(decimal_places=sql_type.scale))
            return decimal.Decimal, metadata
        return float, metadata
    if isinstance(sql_type, sa.String):
        if sql_type.length:
            metadata.append(Field(max_length=sql_type.length))
        if isinstance(sql_type, sa.Text | sa.UnicodeText):
            metadata.append(Textarea())
        return str, metadata
    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        python_type = str
    if python_type in (int, float, bool, str, dt.date, dt.datetime, dt.time, decimal.Decimal):
        return python_type, metadata
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return python_type, metadata
    return str, metadata


def _label(column: sa.Column[Any], name: str) -> str | None:
    info_label = column.info.get("label")
    if isinstance(info_label, str):
        return info_label
    if column.foreign_keys and name.endswith("_id"):
        return name[:-3].replace("_", " ").capitalize()
    return None


def model_schema(
    model: type[Any],
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> tuple[type[BaseModel], dict[str, Relation], str | None]:
    """The pydantic schema of a mapped class's editable fields, its relations, its version column.

    ``include`` lists the fields (in order); otherwise every column but generated
    ones (autoincrement keys, timestamps, computed columns) and every
    many-to-many relationship. ``overrides`` replaces the type of a field
    (``{"cover": Annotated[UploadedImage | None, Upload(...)]}``).

    Raises:
        ConfigurationError: ``model`` is not mapped, or a name is not one of its fields.
    """
    try:
        mapper = sa.inspect(model)
    except sa_exc.NoInspectionAvailable:
        raise ConfigurationError(
            f"ModelForm[{getattr(model, '__name__', model)!r}]: not a mapped model class "
            "(subclass carboy.db.Model)"
        ) from None
    overrides = dict(overrides or {})
    version_column = mapper.version_id_col
    version_key = None
    definitions: dict[str, Any] = {}
    relations: dict[str, Relation] = {}
    available: dict[str, Any] = {}
    by_column: dict[Any, str] = {}
    for relationship in mapper.relationships:
        if relationship.direction is orm.RelationshipDirection.MANYTOONE:
            for column in relationship.local_columns:
                by_column[column] = relationship.key
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if not isinstance(column, sa.Column):
            continue
        if version_column is not None and column is version_column:
            version_key = attr.key
            continue
        available[attr.key] = ("column", column)
    for relationship in mapper.relationships:
        if relationship.secondary is not None and relationship.uselist:
            available[relationship.key] = ("many", relationship)
    names = (
        list(include)
        if include is not None
        else [
            key
            for key, (kind, thing) in available.items()
            if kind == "many" or not _generated(thing)
        ]
    )
    for name in [*names, *exclude, *overrides]:
        if name not in available and name != version_key:
            raise ConfigurationError(
                f"ModelForm[{model.__name__}]: {name!r} is not a column or many-to-many "
                f"relationship of {model.__name__} (they are: {', '.join(available)})"
            )
    for name in names:
        if name in exclude or name == version_key:
            continue
        kind, thing = available[name]
        if kind == "many":
            target = thing.mapper.class_
            relations[name] = Relation(name, target, True, name)
            item: Any = _pk_type(target)
            annotation: Any = Annotated[list[item], SelectMultiple()]
            definitions[name] = (overrides.get(name, annotation), Field(default_factory=list))
            continue
        column = thing
        python_type, metadata = _python_type(column)
        if column.foreign_keys:
            fk = next(iter(column.foreign_keys))
            target = _mapped_class_of(model, fk.column.table)
            relations[name] = Relation(name, target, False, by_column.get(column))
            metadata.append(Select())
        annotation = Annotated[(python_type, *metadata)] if metadata else python_type
        default = _scalar_default(column)
        if column.nullable:
            annotation = annotation | None
            if default is MISSING:
                default = None
        info: dict[str, Any] = {}
        label = _label(column, name)
        if label:
            info["title"] = label
        description = column.comment or column.doc
        if description:
            info["description"] = description
        annotation = overrides.get(name, annotation)
        if default is MISSING:
            definitions[name] = (annotation, Field(**info))
        else:
            definitions[name] = (annotation, Field(default, **info))
    if version_key is not None:
        definitions[version_key] = (Annotated[int | None, HiddenInput()], Field(None))
    schema = create_model(f"{model.__name__}Data", **definitions)
    return schema, relations, version_key


def _pk_type(target: type[Any]) -> Any:
    column = sa.inspect(target).primary_key[0]
    try:
        return column.type.python_type
    except NotImplementedError:  # pragma: no cover - exotic key types
        return str


def _mapped_class_of(model: type[Any], table: sa.Table) -> type[Any]:
    for mapper in sa.inspect(model).registry.mappers:
        if mapper.local_table is table:
            return mapper.class_  # type: ignore[no-any-return]
    raise ConfigurationError(
        f"ModelForm[{model.__name__}]: no model is mapped to table {table.name!r}, which a "
        "foreign key points to"
    )


class ModelForm(BaseForm, Generic[M]):
    """The form of a carboy.db model: ``ModelForm[Post]``, or a subclass with options.

    Attributes:
        include: The fields, in order (default: every column but generated ones,
            and every many-to-many relationship).
        exclude: Fields left out.
        overrides: A new type for some fields (an upload for a column that
            stores a file name: ``{"cover": Annotated[UploadedImage | None, Upload()]}``).
        upload_to: The storage folder of each file field (default: the table's name).
        version_field: The column that counts changes (default: the mapper's
            ``version_id_col``); a save whose form was opened on an older
            version is refused, so no change is overwritten silently.
        choices_limit: Most rows offered by a foreign-key or many-to-many select.

    Example:
        >>> class PostForm(ModelForm[Post]):  # doctest: +SKIP
        ...     include = ("title", "body", "category_id", "tags")
        >>> form = await PostForm.from_request(request, session=session)  # doctest: +SKIP
        >>> if form.is_valid and (post := await form.asave(session)):  # doctest: +SKIP
        ...     return redirect(f"/posts/{post.id}")
    """

    model: ClassVar[type[Any]]
    include: ClassVar[Sequence[str] | None] = None
    exclude: ClassVar[Sequence[str]] = ()
    overrides: ClassVar[Mapping[str, Any]] = {}
    upload_to: ClassVar[Mapping[str, str]] = {}
    version_field: ClassVar[str | None] = None
    choices_limit: ClassVar[int] = CHOICES_LIMIT
    relations: ClassVar[dict[str, Relation]] = {}

    _parametrized: ClassVar[dict[type[Any], type[ModelForm[Any]]]] = {}

    def __class_getitem__(cls, params: Any) -> Any:
        if isinstance(params, type) and cls is ModelForm:
            made = cls._parametrized.get(params)
            if made is None:
                made = type(f"ModelForm[{params.__qualname__}]", (ModelForm,), {"model": params})
                made.__module__ = params.__module__
                cls._parametrized[params] = made
            return made
        return super().__class_getitem__(params)  # type: ignore[misc]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model = getattr(cls, "model", None)
        if model is None:
            return
        schema, relations, version_key = model_schema(
            model, include=cls.include, exclude=cls.exclude, overrides=cls.overrides
        )
        cls.schema = schema
        cls.specs = compile_fields(schema)
        cls.relations = relations
        if "version_field" not in cls.__dict__:
            cls.version_field = version_key
        _check_options(cls)

    def __init__(
        self,
        data: MultiDict | Mapping[str, Any] | None = None,
        *,
        instance: M | None = None,
        initial: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(data, initial=initial, **options)
        self.instance = instance
        #: The instance's values, read inside the session (relationships included).
        self._instance_values: dict[str, Any] = {}
        self._complete_choices: set[str] = set()
        self._error_status: int | None = None

    # -- building ---------------------------------------------------------------
    @classmethod
    async def from_request(
        cls,
        request: Request,
        *,
        session: AsyncSession | None = None,
        instance: M | None = None,
        initial: Mapping[str, Any] | None = None,
        prefix: str = "",
        readonly: bool | Sequence[str] = False,
    ) -> Self:
        """The form for this request, its choices and ``instance``'s values loaded with ``session``.

        Example:
            >>> form = await PostForm.from_request(request, session=session, instance=post)
        """
        form = cls(instance=instance, initial=initial, prefix=prefix, readonly=readonly)
        form._session = session
        await form.bind_request(request)
        return form

    @classmethod
    def dependency(cls) -> Callable[..., Any]:
        """Injected model forms load their choices with the request's ``AsyncSession``."""

        async def build_model_form(request: Request, session: AsyncSession) -> BaseForm:
            return await cls.from_request(request, session=session)

        build_model_form.__qualname__ = f"{cls.__qualname__}.from_request"
        return build_model_form

    _session: AsyncSession | None = None

    async def prepare(self, request: Request) -> None:
        if self._session is not None:
            await self.aload(self._session)

    async def aload(self, session: AsyncSession) -> None:
        """Load the select choices and the instance's values (forms built without a request)."""
        await session.run_sync(self.load)

    def load(self, session: orm.Session) -> None:
        """:meth:`aload` for a sync ``Session``."""
        for name, relation in self.relations.items():
            if name not in self.specs:
                continue
            target = relation.target
            key = sa.inspect(target).primary_key[0]
            rows = session.scalars(
                sa.select(target).order_by(key).limit(self.choices_limit + 1)
            ).all()
            if len(rows) <= self.choices_limit:
                self._complete_choices.add(name)
            rows = rows[: self.choices_limit]
            pk_name = sa.inspect(target).get_property_by_column(key).key
            self.set_choices(
                name,
                [
                    Choice(str(getattr(row, pk_name)), str(row), getattr(row, pk_name))
                    for row in rows
                ],
            )
        if self.instance is not None:
            self._instance_values = self._read_instance(self.instance)

    def _read_instance(self, instance: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.specs:
            relation = self.relations.get(name)
            if relation is not None and relation.many:
                target_key = sa.inspect(relation.target).primary_key[0]
                pk_name = sa.inspect(relation.target).get_property_by_column(target_key).key
                values[name] = [getattr(obj, pk_name) for obj in getattr(instance, name)]
            elif name in self.overrides and not _is_column_value(getattr(instance, name)):
                values[name] = MISSING
            else:
                values[name] = getattr(instance, name)
        return values

    def initial_value(self, name: str) -> Any:
        if name in self.initial:
            return self.initial[name]
        if self.instance is not None:
            if not self._instance_values:
                self._instance_values = self._read_instance(self.instance)
            value = self._instance_values.get(name, MISSING)
            if not (self.specs[name].is_file):
                return value
            return MISSING
        return self.specs[name].initial()

    def instance_value(self, name: str) -> Any:
        """The instance's current value of ``name`` (a stored file's name, say), or None."""
        if self.instance is None:
            return None
        if not self._instance_values:
            self._instance_values = self._read_instance(self.instance)
        value = self._instance_values.get(name)
        return None if value is MISSING else value

    # -- validation -----------------------------------------------------------------
    def clean(self, data: Any) -> None:
        """Foreign keys and many-to-many values must be among the rows offered."""
        for name, relation in self.relations.items():
            if name not in self._complete_choices or self.is_readonly(name):
                continue
            offered = {c.python for c in self.choices_for(name)}
            value = getattr(data, name, None)
            chosen = value if relation.many else ([] if value is None else [value])
            if any(v not in offered for v in chosen or []):
                self.add_error(name, "Select a valid choice; that one is not available.")

    @property
    def status_code(self) -> int:
        """As for any form; 409 when the database found a conflict (a unique value taken)."""
        if self._error_status is not None and self.errors:
            return self._error_status
        return super().status_code

    # -- saving -----------------------------------------------------------------
    async def asave(self, session: AsyncSession, *, storage: Storage | None = None) -> M | None:
        """Create or update the row from the valid form; None (with the errors on the form)
        when it is invalid or the database refuses it.

        Uploaded files are saved to ``storage`` first (under generated names in
        :attr:`upload_to`), and removed again when the row is not saved. The
        write happens in a savepoint: a refused one leaves the session usable
        and nothing written.

        Example:
            >>> post = await form.asave(session)  # doctest: +SKIP
        """
        if not self.is_valid:
            return None
        stored = await self._store_files(storage)
        try:
            saved: M | None = await session.run_sync(self._write, stored)
        except BaseException:
            await self._discard(storage, stored)
            raise
        if saved is None:
            await self._discard(storage, stored)
        return saved

    def save(self, session: orm.Session) -> M | None:
        """:meth:`asave` for a sync ``Session`` (``def`` handlers); no uploads (they need asave)."""
        if not self.is_valid:
            return None
        if any(isinstance(v, UploadedFile) for v in dict(self.data).values()):
            raise RuntimeError(
                "This form has uploaded files: save it with "
                "`await form.asave(session, storage=...)`"
            )
        return self._write(session, {})

    async def _store_files(self, storage: Storage | None) -> dict[str, str]:
        stored: dict[str, str] = {}
        data = self.data
        for name, spec in self.specs.items():
            value = getattr(data, name, None)
            if not spec.is_file or not isinstance(value, UploadedFile):
                continue
            if storage is None:
                raise RuntimeError(
                    f"{type(self).__qualname__}.asave(): field {name!r} has an upload; pass "
                    "storage= (inject carboy.forms.Storage in the handler)"
                )
            folder = self.upload_to.get(name, sa.inspect(self.model).local_table.name)
            stored[name] = await value.asave(storage, folder)
        return stored

    async def _discard(self, storage: Storage | None, stored: dict[str, str]) -> None:
        if storage is not None:
            for name in stored.values():
                await storage.delete(name)

    def _write(self, session: orm.Session, stored: dict[str, str]) -> M | None:
        """Apply the data to the instance (or a new one) and flush, in a savepoint."""
        data = self.data
        instance = self.instance if self.instance is not None else self.model()
        persistent = sa.inspect(instance).persistent
        if self.version_field is not None and persistent:
            sent = getattr(data, self.version_field, None)
            current = getattr(instance, self.version_field)
            if sent is None or sent != current:
                self.add_error(None, conflict_message(self.model))
                self._error_status = 409
                return None
        nested = session.begin_nested()
        try:
            for name, spec in self.specs.items():
                if self.is_readonly(name) or name == self.version_field:
                    continue
                value = getattr(data, name)
                relation = self.relations.get(name)
                if spec.is_file:
                    if name in stored:
                        setattr(instance, name, stored[name])
                    continue
                if relation is not None and relation.many:
                    target = relation.target
                    key = sa.inspect(target).primary_key[0]
                    rows = session.scalars(sa.select(target).where(key.in_(value))).all()
                    setattr(instance, name, list(rows))
                    continue
                setattr(instance, name, value)
            session.add(instance)
            session.flush()
        except StaleDataError:
            nested.rollback()
            self.add_error(None, conflict_message(self.model))
            self._error_status = 409
            return None
        except sa_exc.DBAPIError as exc:
            nested.rollback()
            error = translate_error(exc, [sa.inspect(self.model).local_table.metadata])
            if error is None:
                raise
            if error.status_code >= 500:  # the database is down: not the form's fault
                raise error from exc
            self._record(error)
            return None
        nested.commit()
        self.instance = instance
        return instance

    def _record(self, error: HTTPException) -> None:
        if isinstance(error, IntegrityViolation):
            placed = False
            for field_error in error.errors:
                name = field_error.field
                if name in self.specs and not self.specs[name].widget.is_hidden:
                    self.add_error(name, _CONSTRAINT_NOTE.sub("", field_error.msg))
                    placed = True
            if not placed:
                self.add_error(None, _CONSTRAINT_NOTE.sub("", error.message))
        else:
            self.add_error(None, str(error.detail))
        self._error_status = error.status_code


def _is_column_value(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def model_form(
    model: type[M],
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    readonly: Sequence[str] = (),
    widgets: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    fieldsets: Sequence[tuple[str | None, Sequence[str]]] | None = None,
    base: type[ModelForm[Any]] = ModelForm,
) -> type[ModelForm[M]]:
    """A model form class made at run time (what the admin builds for each model).

    Example:
        >>> PostForm = model_form(Post, include=["title", "body"])  # doctest: +SKIP
    """
    namespace: dict[str, Any] = {
        "model": model,
        "include": tuple(include) if include is not None else None,
        "exclude": tuple(exclude),
        "readonly_fields": tuple(readonly),
        "widgets": dict(widgets or {}),
        "labels": dict(labels or {}),
        "overrides": dict(overrides or {}),
        "fieldsets": fieldsets,
        "__module__": getattr(model, "__module__", __name__),
    }
    made: type[ModelForm[M]] = type(f"{model.__name__}Form", (base,), namespace)
    return made
