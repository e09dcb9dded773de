"""Markers that say where a handler parameter comes from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar


class _Missing:
    def __repr__(self) -> str:
        return "<required>"

    def __bool__(self) -> bool:
        return False


#: The default of a parameter that has none (it is required).
MISSING: Any = _Missing()


#: The value constraints a marker accepts (checked by pydantic, published by introspection).
CONSTRAINTS = frozenset(
    {"ge", "le", "gt", "lt", "min_length", "max_length", "pattern", "multiple_of"}
)


class Param:
    """Base of the source markers; use a subclass (``Query``, ``Header``...).

    Args:
        default: Value when the client sends none (omit to make it required).
        alias: The name on the wire when it differs from the parameter's.
        description: Shown in API docs and ``carboy routes --json``.
        examples: Example values, for API docs.
        deprecated: Marks the parameter deprecated in API docs (it still works).
        **constraints: ``ge``, ``le``, ``gt``, ``lt``, ``min_length``,
            ``max_length``, ``pattern``, ``multiple_of`` (checked by pydantic;
            a value that breaks one is a 422).

    Raises:
        TypeError: For a constraint name not in the list above.
    """

    source: ClassVar[str] = ""

    def __init__(
        self,
        default: Any = MISSING,
        *,
        alias: str | None = None,
        description: str | None = None,
        examples: Sequence[Any] = (),
        deprecated: bool = False,
        **constraints: Any,
    ) -> None:
        unknown = sorted(set(constraints) - CONSTRAINTS)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got unknown constraint(s) {unknown}; "
                f"the constraints are {sorted(CONSTRAINTS)}"
            )
        self.default = default
        self.alias = alias
        self.description = description
        self.examples = tuple(examples)
        self.deprecated = deprecated
        self.constraints = constraints

    def __repr__(self) -> str:
        return f"{type(self).__name__}(default={self.default!r}, alias={self.alias!r})"


class Path(Param):
    """A value from the route's path (the default for names in the path).

    Example:
        >>> @app.get("/items/{item_id}")
        ... async def item(item_id: Annotated[int, Path(ge=1)]) -> dict: ...
    """

    source = "path"


class Query(Param):
    """A value from the query string (the default for plain scalar parameters).

    Example:
        >>> async def search(q: Annotated[str, Query(min_length=2)], page: int = 1): ...
    """

    source = "query"


class Header(Param):
    """A request header; ``user_agent`` reads ``User-Agent`` unless ``alias`` says otherwise.

    Example:
        >>> async def ua(user_agent: Annotated[str | None, Header()] = None): ...
    """

    source = "header"

    def __init__(
        self,
        default: Any = MISSING,
        *,
        alias: str | None = None,
        convert_underscores: bool = True,
        description: str | None = None,
        examples: Sequence[Any] = (),
        deprecated: bool = False,
        **constraints: Any,
    ) -> None:
        super().__init__(
            default,
            alias=alias,
            description=description,
            examples=examples,
            deprecated=deprecated,
            **constraints,
        )
        self.convert_underscores = convert_underscores


class Cookie(Param):
    """A cookie sent by the client.

    Example:
        >>> async def theme(theme: Annotated[str, Cookie()] = "light"): ...
    """

    source = "cookie"


class Body(Param):
    """The JSON body, or with ``embed=True`` one key of it.

    Models (pydantic, msgspec Struct, dataclass) are read from the body
    without a marker; use ``Body()`` for other types (``dict``, ``list[int]``).

    The request must say it is JSON (``Content-Type: application/json`` or
    ``application/*+json``), otherwise it gets a 415: a cross-site ``<form>``
    or a no-cors ``fetch`` cannot send those, so they cannot reach the handler.
    ``strict_content_type=False`` also reads a body with no ``Content-Type``
    (or ``text/plain``) as JSON, and a form body as a dict, for clients that
    cannot set the header; such a route must be protected otherwise (CSRF).

    Example:
        >>> async def tags(tags: Annotated[list[str], Body()]): ...
    """

    source = "body"

    def __init__(
        self,
        default: Any = MISSING,
        *,
        embed: bool = False,
        alias: str | None = None,
        description: str | None = None,
        examples: Sequence[Any] = (),
        deprecated: bool = False,
        strict_content_type: bool = True,
        **constraints: Any,
    ) -> None:
        super().__init__(
            default,
            alias=alias,
            description=description,
            examples=examples,
            deprecated=deprecated,
            **constraints,
        )
        self.embed = embed
        self.strict_content_type = strict_content_type


class Form(Param):
    """One field of a urlencoded or multipart form.

    Example:
        >>> async def login(username: Annotated[str, Form()], password: Annotated[str, Form()]): ...
    """

    source = "form"


class File(Param):
    """An uploaded file of a multipart form (``UploadFile`` parameters need no marker).

    Example:
        >>> async def upload(avatar: Annotated[UploadFile, File()]): ...
    """

    source = "file"


class Depends:
    """A dependency: the parameter's value is what ``dependency`` returns.

    The dependency's own parameters are injected the same way. It may be
    sync or async, and a generator: the code after ``yield`` runs when the
    handler is done (the exception is thrown in if the handler failed). Within
    one request each dependency runs once unless ``use_cache=False``.

    Example:
        >>> async def current_user(token: Annotated[str, Header()]) -> User: ...
        >>> @app.get("/me")
        ... async def me(user: Annotated[User, Depends(current_user)]) -> User:
        ...     return user
    """

    def __init__(self, dependency: Callable[..., Any], *, use_cache: bool = True) -> None:
        if not callable(dependency):
            raise TypeError(f"Depends() needs a callable, got {dependency!r}")
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name})"
