"""Routing: path templates with typed converters, routers, and reverse URLs.

The compiled route table the app dispatches on is the app's own (``carboy._table``).
"""

from carboy.routing._converters import (
    Converter,
    FloatConverter,
    IntConverter,
    PathConverter,
    SlugConverter,
    StringConverter,
    UUIDConverter,
    default_converters,
)
from carboy.routing._info import MountInfo, RouteInfo, split_docstring
from carboy.routing._paths import NoMatchFound, PathTemplate, parse_path
from carboy.routing._router import Mount, ResolvedRoute, Route, Router, source_of
from carboy.routing._tree import PathTree

__all__ = [
    "Converter",
    "FloatConverter",
    "IntConverter",
    "Mount",
    "MountInfo",
    "NoMatchFound",
    "PathConverter",
    "PathTemplate",
    "PathTree",
    "ResolvedRoute",
    "Route",
    "RouteInfo",
    "Router",
    "SlugConverter",
    "StringConverter",
    "UUIDConverter",
    "default_converters",
    "parse_path",
    "source_of",
    "split_docstring",
]
