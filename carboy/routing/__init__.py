"""Routing: path templates with typed converters, routers, and reverse URLs."""

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
from carboy.routing._paths import PathTemplate, PathTree, parse_path
from carboy.routing._router import Mount, ResolvedRoute, Route, Router, source_of
from carboy.routing._table import Endpoints, NoMatchFound, RouteTable

__all__ = [
    "Converter",
    "Endpoints",
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
    "RouteTable",
    "Router",
    "SlugConverter",
    "StringConverter",
    "UUIDConverter",
    "default_converters",
    "parse_path",
    "source_of",
    "split_docstring",
]
