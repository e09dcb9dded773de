"""What a handler's parameters are, as published for docs, OpenAPI, the admin and the CLI."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carboy.params._markers import MISSING


class ParamSource(enum.Enum):
    """Where a handler parameter's value comes from."""

    PATH = "path"
    QUERY = "query"
    HEADER = "header"
    COOKIE = "cookie"
    BODY = "body"
    FORM = "form"
    FILE = "file"
    #: A ``Depends`` dependency (its own parameters are listed separately).
    DEPENDS = "depends"
    #: The ``Request`` or ``WebSocket`` itself.
    CONNECTION = "connection"
    #: An app-level object injected by type (settings, a database session...).
    PROVIDER = "provider"

    @property
    def from_request(self) -> bool:
        """True for values the client sends (path, query, header, cookie, body, form, file)."""
        return self not in (ParamSource.DEPENDS, ParamSource.CONNECTION, ParamSource.PROVIDER)


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One parameter of a route, as the client sees it.

    Attributes:
        name: The Python parameter name.
        source: Where the value comes from.
        wire_name: Its name in the request (header names lower-cased).
        type: The annotation, ``Annotated`` and ``Optional`` kept.
        default: The default value; :data:`MISSING` when the parameter is required.
        constraints: ``ge``, ``le``, ``gt``, ``lt``, ``min_length``, ``max_length``,
            ``pattern``, ``multiple_of`` as given to the marker.
        description: From the marker's ``description=``.
        examples: From the marker's ``examples=``.
        deprecated: From the marker's ``deprecated=``.
        embed: For a body parameter: one key of the JSON object (``Body(embed=True)``,
            or any body parameter beside another) rather than the whole body.

    Example:
        >>> info = app.routes_info()[0].params[0]
        >>> info.name, info.source, info.constraints
        ('page', <ParamSource.QUERY: 'query'>, {'ge': 1})
    """

    name: str
    source: ParamSource
    wire_name: str
    type: Any
    default: Any = MISSING
    constraints: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    examples: tuple[Any, ...] = ()
    deprecated: bool = False
    embed: bool = False

    @property
    def required(self) -> bool:
        """True when the client must send it (it has no default)."""
        return self.default is MISSING
