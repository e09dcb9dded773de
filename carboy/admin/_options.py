"""``ModelAdmin``: how one model is listed, searched, filtered, edited and deleted.

Every option has a default that reads the model, so ``admin.register(Post)``
is a usable admin; a subclass changes what it needs. The options are checked
when the app starts (``admin.E1xx``), with the model and the option named.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from sqlalchemy import Select, select

from carboy.admin._meta import FieldInfo, Kind, ModelInfo, humanize, read_model

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from carboy.requests import Request

F = TypeVar("F", bound=Callable[..., Any])

#: Columns listed by default (the first links to the object).
DEFAULT_COLUMNS = 5
#: Permissions the admin knows; a model's codenames are ``<action>_<model>``.
ACTIONS = ("view", "add", "change", "delete")


@overload
def action(
    function: F,
    *,
    description: str | None = None,
    permissions: Sequence[str] = ("change",),
    confirm: bool = False,
) -> F: ...
@overload
def action(
    function: None = None,
    *,
    description: str | None = None,
    permissions: Sequence[str] = ("change",),
    confirm: bool = False,
) -> Callable[[F], F]: ...


def action(
    function: F | None = None,
    *,
    description: str | None = None,
    permissions: Sequence[str] = ("change",),
    confirm: bool = False,
) -> Any:
    """Mark a function as a bulk action of the list page.

    The function is called as ``action(model_admin, request, session, objects)``
    with the selected objects (already loaded, in a sync ``Session`` of the
    request's transaction) and may return a message for the page. The user
    must hold every one of ``permissions`` (``"view"``, ``"add"``, ``"change"``,
    ``"delete"``) on the model, checked each time it runs. ``confirm=True``
    shows a confirmation page listing the objects first.

    Example:
        >>> @action(description="Publish the selected posts")
        ... def publish(model_admin, request, session, posts):
        ...     for post in posts:
        ...         post.published = True
        ...     return f"{len(posts)} published"
    """

    def decorate(fn: F) -> F:
        unknown = set(permissions) - set(ACTIONS)
        if unknown:
            raise ValueError(f"action permissions are {ACTIONS}, got {sorted(unknown)}")
        fn.admin_action = True  # type: ignore[attr-defined]
        fn.short_description = description or humanize(fn.__name__)  # type: ignore[attr-defined]
        fn.allowed_permissions = tuple(permissions)  # type: ignore[attr-defined]
        fn.confirm = confirm  # type: ignore[attr-defined]
        return fn

    return decorate(function) if function is not None else decorate


@overload
def display(
    function: F,
    *,
    description: str | None = None,
    ordering: str | None = None,
    boolean: bool = False,
) -> F: ...
@overload
def display(
    function: None = None,
    *,
    description: str | None = None,
    ordering: str | None = None,
    boolean: bool = False,
) -> Callable[[F], F]: ...


def display(
    function: F | None = None,
    *,
    description: str | None = None,
    ordering: str | None = None,
    boolean: bool = False,
) -> Any:
    """Describe a computed column of ``list_display``: its header, sort and look.

    Args:
        description: The column's header.
        ordering: A model field to sort the column by (``"-created_at"``).
        boolean: Show True/False as yes/no marks.

    Example:
        >>> class PostAdmin(ModelAdmin):
        ...     list_display = ["title", "words"]
        ...     @display(description="Words", ordering="body")
        ...     def words(self, post):
        ...         return len(post.body.split())
    """

    def decorate(fn: F) -> F:
        fn.short_description = description or humanize(fn.__name__)  # type: ignore[attr-defined]
        fn.admin_order_field = ordering  # type: ignore[attr-defined]
        fn.boolean = boolean  # type: ignore[attr-defined]
        return fn

    return decorate(function) if function is not None else decorate


def _delete_selected(
    model_admin: ModelAdmin, request: Request, session: Session, objects: list[Any]
) -> str:
    """The built-in bulk delete (its confirmation lists what else goes with them)."""
    for obj in objects:
        model_admin.delete_model(session, request, obj)
    return f"Deleted {len(objects)} {model_admin.name_for(len(objects))}."


_delete_selected.__name__ = "delete_selected"
delete_selected: Callable[..., Any] = action(
    _delete_selected,
    description="Delete the selected {plural}",
    permissions=("delete",),
    confirm=True,
)


class Column:
    """One column of the list page, resolved from a ``list_display`` entry."""

    def __init__(self, admin: ModelAdmin, entry: str | Callable[..., Any]) -> None:
        self.entry = entry
        self.field: FieldInfo | None = None
        self.boolean = False
        self.order_by: str | None = None
        info = admin.info
        if isinstance(entry, str):
            self.name = entry
            if entry in info.fields:
                self.field = info.fields[entry]
                self.label = self.field.label
                self.boolean = self.field.kind is Kind.BOOLEAN
                if self.field.kind is not Kind.MANY_TO_MANY:
                    self.order_by = entry
                self.getter: Callable[[Any], Any] = _attribute_getter(entry, self.field)
                return
            if entry == "__str__":
                self.label = admin.name.capitalize()
                self.getter = str
                return
            method = getattr(admin, entry, None)
            if callable(method):
                self._from_callable(method, entry)
                self.getter = method
                return
            self.label = humanize(entry)
            attr = getattr(admin.model, entry, None)
            self.boolean = bool(getattr(attr, "boolean", False))
            self.getter = _attribute_getter(entry, None)
            return
        self.name = getattr(entry, "__name__", "column")
        self._from_callable(entry, self.name)
        self.getter = entry

    def _from_callable(self, fn: Any, name: str) -> None:
        self.label = str(getattr(fn, "short_description", humanize(name)))
        self.order_by = getattr(fn, "admin_order_field", None)
        self.boolean = bool(getattr(fn, "boolean", False))

    def value(self, obj: Any) -> Any:
        """The cell's value for ``obj``."""
        return self.getter(obj)


def _attribute_getter(name: str, info: FieldInfo | None) -> Callable[[Any], Any]:
    if info is not None and info.kind is Kind.FOREIGN_KEY and info.relation:
        relation = info.relation
        return lambda obj: getattr(obj, relation)
    if info is not None and info.kind is Kind.MANY_TO_MANY:
        return lambda obj: ", ".join(str(item) for item in getattr(obj, name))

    def get(obj: Any) -> Any:
        value = getattr(obj, name)
        return value() if callable(value) else value

    return get


class ModelAdmin:
    """The options and behaviour of one model's admin pages.

    Subclass it and give the subclass to ``admin.register(Model, MyAdmin)``
    (or decorate it: ``@admin.register(Model)``). Unset options default to
    what the model says.

    Attributes:
        verbose_name, verbose_name_plural: How the model is called on pages
            (``"post"``, ``"posts"`` by default, from the class name).
        list_display: Columns of the list page: field names, ``"__str__"``,
            method names of this class or the model, or callables ``fn(obj)``.
        list_display_links: Columns that link to the object (the first by default).
        search_fields: Text fields the search box looks in (``"title"``,
            ``"^slug"`` for starts-with, ``"=email"`` for exact).
        list_filter: Fields to filter by (booleans, choices, dates, foreign keys).
        ordering: The list's default order (``["-created_at"]``); the primary
            key, descending, by default.
        per_page: Rows per page.
        fields: The fields of the form, in order (all editable ones by default).
        fieldsets: ``[(legend, {"fields": [...]})]`` groups instead of ``fields``.
        exclude: Fields left out of the form.
        readonly_fields: Fields shown but never changed.
        actions: Bulk actions (see :func:`action`); ``delete_selected`` is added
            unless ``actions_delete = False``.
        inlines: :class:`Inline` classes of child models edited on the same page.
        autocomplete_fields: Foreign keys chosen by typing (an htmx search)
            instead of a select of every row.
        file_fields: Text columns that hold the name of a stored file, each with
            its carboy.forms upload type
            (``{"image": Annotated[UploadedImage | None, Upload(max_size=2_000_000)]}``):
            the form takes a file, checks it as carboy.forms does, saves it to the
            app's :class:`~carboy.forms.Storage` and keeps the stored name.
        date_field: The field the dashboard's chart counts rows created by
            (``created_at`` or ``date_joined`` when the model has one).
        change_list_template, change_form_template, delete_template,
        history_template: Templates of this model's pages; by default the
            first found of ``admin/<label>/<model>/<page>.html``,
            ``admin/<label>/<page>.html`` and ``admin/<page>.html``.

    Example:
        >>> class PostAdmin(ModelAdmin):
        ...     list_display = ["title", "published", "created_at"]
        ...     search_fields = ["title", "body"]
        ...     list_filter = ["published", "created_at", "category_id"]
    """

    verbose_name: ClassVar[str | None] = None
    verbose_name_plural: ClassVar[str | None] = None
    list_display: ClassVar[Sequence[str | Callable[..., Any]] | None] = None
    list_display_links: ClassVar[Sequence[str] | None] = None
    search_fields: ClassVar[Sequence[str] | None] = None
    list_filter: ClassVar[Sequence[str] | None] = None
    ordering: ClassVar[Sequence[str] | None] = None
    per_page: ClassVar[int] = 50
    fields: ClassVar[Sequence[str] | None] = None
    fieldsets: ClassVar[Sequence[tuple[str | None, dict[str, Any]]] | None] = None
    exclude: ClassVar[Sequence[str]] = ()
    readonly_fields: ClassVar[Sequence[str]] = ()
    actions: ClassVar[Sequence[str | Callable[..., Any]]] = ()
    actions_delete: ClassVar[bool] = True
    inlines: ClassVar[Sequence[type[Inline]]] = ()
    autocomplete_fields: ClassVar[Sequence[str]] = ()
    file_fields: ClassVar[Mapping[str, Any]] = {}
    date_field: ClassVar[str | None] = None
    change_list_template: ClassVar[str | None] = None
    change_form_template: ClassVar[str | None] = None
    delete_template: ClassVar[str | None] = None
    history_template: ClassVar[str | None] = None

    def __init__(self, model: type, *, label: str) -> None:
        self.model = model
        self.info: ModelInfo = read_model(model)
        #: The permission label (``"blog"`` in ``blog.change_post``), also in the URLs.
        self.label = label
        #: The model's name in URLs and permission codenames (``"post"``).
        self.model_name = model.__name__.lower()
        #: How one object is called on pages (``"post"``): ``verbose_name`` or the class name.
        self.name: str = self.verbose_name or humanize(_split_camel(model.__name__)).lower()
        #: How several are called (``"posts"``).
        self.name_plural: str = self.verbose_name_plural or _plural(self.name)
        #: The :class:`Inline` admins of ``inlines``, made when the app builds.
        self.inline_admins: list[Inline] = []

    # -- names -------------------------------------------------------------------
    @property
    def key(self) -> str:
        """``"blog.post"``: the model as history entries name it."""
        return f"{self.label}.{self.model_name}"

    def name_for(self, count: int) -> str:
        """The name for ``count`` objects (``"post"``, ``"posts"``)."""
        return self.name if count == 1 else self.name_plural

    def perm(self, what: str) -> str:
        """The permission for ``what`` (``"change"`` -> ``"blog.change_post"``)."""
        return f"{self.label}.{what}_{self.model_name}"

    # -- the options, resolved ----------------------------------------------------------
    def get_list_display(self) -> list[str | Callable[..., Any]]:
        """``list_display``, or the first few plain fields of the model."""
        if self.list_display is not None:
            return list(self.list_display)
        chosen: list[str | Callable[..., Any]] = ["__str__"]
        for info in self.info.fields.values():
            if len(chosen) >= DEFAULT_COLUMNS:
                break
            if info.column is not None and info.column.primary_key:
                continue
            if info.kind in (Kind.LONGTEXT, Kind.OTHER, Kind.MANY_TO_MANY):
                continue
            chosen.append(info.name)
        return chosen

    def get_search_fields(self) -> list[str]:
        """``search_fields``, or the model's short text fields."""
        if self.search_fields is not None:
            return list(self.search_fields)
        return [f.name for f in self.info.fields.values() if f.kind is Kind.TEXT][:3]

    def get_list_filter(self) -> list[str]:
        """``list_filter``, or the model's boolean and choice fields."""
        if self.list_filter is not None:
            return list(self.list_filter)
        return [f.name for f in self.info.fields.values() if f.kind in (Kind.BOOLEAN, Kind.CHOICE)]

    def get_ordering(self) -> list[str]:
        """``ordering``, or the primary key descending (the newest first)."""
        if self.ordering is not None:
            return list(self.ordering)
        return [f"-{self.info.pk_name}"]

    def get_fields(self) -> list[str]:
        """The form's fields: ``fields``, the fieldsets' fields, or every editable one."""
        if self.fieldsets is not None:
            return [name for _, options in self.fieldsets for name in options.get("fields", ())]
        if self.fields is not None:
            return list(self.fields)
        excluded = set(self.exclude)
        names = [
            f.name
            for f in self.info.fields.values()
            if (f.editable or f.name in self.readonly_fields)
            and f.name not in excluded
            and not f.auto_timestamp
        ]
        names.extend(n for n in self.readonly_fields if n not in names)
        return names

    def get_fieldsets(self) -> list[tuple[str | None, list[str]]]:
        """``[(legend, [field, ...]), ...]``: ``fieldsets``, or one unnamed group of all."""
        if self.fieldsets is not None:
            return [(legend, list(options.get("fields", ()))) for legend, options in self.fieldsets]
        return [(None, self.get_fields())]

    def get_actions(self) -> dict[str, Callable[..., Any]]:
        """The bulk actions by name: ``delete_selected`` (if kept) and ``actions``."""
        found: dict[str, Any] = {}
        if self.actions_delete:
            found["delete_selected"] = delete_selected
        for entry in self.actions:
            fn: Any = getattr(self, entry, None) if isinstance(entry, str) else entry
            name = entry if isinstance(entry, str) else getattr(fn, "__name__", "action")
            found[name] = fn
        return found

    def action_label(self, fn: Callable[..., Any]) -> str:
        """The text of an action in the menu."""
        text = str(getattr(fn, "short_description", humanize(getattr(fn, "__name__", "action"))))
        return text.replace("{plural}", self.name_plural).replace("{name}", self.name)

    def columns(self) -> list[Column]:
        """The list page's columns."""
        return [Column(self, entry) for entry in self.get_list_display()]

    def get_date_field(self) -> str | None:
        """The field rows are dated by for the dashboard's chart, if any."""
        if self.date_field is not None:
            return self.date_field
        for name in ("created_at", "date_joined", "created"):
            info = self.info.fields.get(name)
            if info is not None and info.kind in (Kind.DATETIME, Kind.DATE):
                return name
        return None

    # -- permissions ---------------------------------------------------------------
    def has_view_permission(self, request: Request, obj: Any = None) -> bool:
        """May see the list and the objects: ``view`` or ``change`` permission."""
        return self._has(request, "view", obj) or self._has(request, "change", obj)

    def has_add_permission(self, request: Request) -> bool:
        """May add objects: ``add`` permission."""
        return self._has(request, "add", None)

    def has_change_permission(self, request: Request, obj: Any = None) -> bool:
        """May change objects: ``change`` permission."""
        return self._has(request, "change", obj)

    def has_delete_permission(self, request: Request, obj: Any = None) -> bool:
        """May delete objects: ``delete`` permission."""
        return self._has(request, "delete", obj)

    def has_permission(self, request: Request, what: str, obj: Any = None) -> bool:
        """``has_<what>_permission``, by name (``"view"``, ``"add"``...)."""
        if what == "add":
            return self.has_add_permission(request)
        check: Callable[[Request, Any], bool] = getattr(self, f"has_{what}_permission")
        return check(request, obj)

    def _has(self, request: Request, what: str, obj: Any) -> bool:
        user = request.user
        has_perm = getattr(user, "has_perm", None)
        if not callable(has_perm):
            return False
        return bool(
            has_perm(self.perm(what), obj) if obj is not None else has_perm(self.perm(what))
        )

    # -- hooks ----------------------------------------------------------------------
    def get_queryset(self, request: Request) -> Select[Any]:
        """The statement every list, export and lookup starts from; override to narrow it.

        Example:
            >>> def get_queryset(self, request):
            ...     return super().get_queryset(request).where(Post.deleted_at.is_(None))
        """
        return select(self.model)

    def save_model(self, session: Session, request: Request, obj: Any, change: bool) -> None:
        """Called with the object once the form has written its values (``change``: an
        existing one); what you set here is saved with it, in the same transaction.

        Example:
            >>> def save_model(self, session, request, obj, change):
            ...     obj.author = request.user.display_name
            ...     super().save_model(session, request, obj, change)
        """
        session.add(obj)

    def delete_model(self, session: Session, request: Request, obj: Any) -> None:
        """Delete ``obj`` (and, through the ORM and the database, what cascades)."""
        session.delete(obj)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.model.__name__}>"


class Inline(ModelAdmin):
    """Child objects edited on the parent's page: a table of rows, one per child.

    Attributes:
        model: The child model (``Comment``).
        fk_name: Its foreign key to the parent, when it has more than one.
        extra: Blank rows offered for new children.
        max_num: Most children the page shows (the newest first beyond it).

    Example:
        >>> class CommentInline(Inline):
        ...     model = Comment
        ...     fields = ["author", "body"]
        >>> class PostAdmin(ModelAdmin):
        ...     inlines = [CommentInline]
    """

    model: type
    fk_name: ClassVar[str | None] = None
    extra: ClassVar[int] = 1
    max_num: ClassVar[int] = 100

    def __init__(self, parent: ModelAdmin, *, label: str) -> None:
        super().__init__(type(self).model, label=label)
        self.parent = parent
        self.fk = self._find_fk(parent)
        self.prefix = f"inline-{self.model_name}"

    def _find_fk(self, parent: ModelAdmin) -> str:
        candidates = [
            f.name
            for f in self.info.fields.values()
            if f.kind is Kind.FOREIGN_KEY and f.target is parent.model
        ]
        if self.fk_name is not None:
            if self.fk_name not in candidates:
                raise ValueError(
                    f"{type(self).__name__}.fk_name={self.fk_name!r} is not a foreign key of "
                    f"{self.model.__name__} to {parent.model.__name__}"
                )
            return self.fk_name
        if len(candidates) != 1:
            raise ValueError(
                f"{type(self).__name__}: {self.model.__name__} has {len(candidates)} foreign keys "
                f"to {parent.model.__name__}; set fk_name"
            )
        return candidates[0]

    def get_fields(self) -> list[str]:
        """The row's fields: every editable one but the key to the parent."""
        return [name for name in super().get_fields() if name != self.fk]


def _split_camel(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append(" ")
        out.append(ch)
    return "".join(out)


def _plural(name: str) -> str:
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    if name.endswith("y") and name[-2:-1] not in ("a", "e", "i", "o", "u"):
        return name[:-1] + "ies"
    return name + "s"
