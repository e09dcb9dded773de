"""Handler parameters: where each value comes from, and the compiled plan that fetches it.

The compiler (``compile_plan``) and the per-request ``Context`` are internals of
this package: the app compiles endpoints with ``compile_http_endpoint`` /
``compile_websocket_endpoint`` (a ``CompiledEndpoint``, with a ``Direct`` record
when its dispatcher may call the handler itself), and tools read what a route
takes from ``Carboy.routes_info()`` (``ParamInfo``).
"""

from carboy.params._endpoint import (
    CompiledEndpoint,
    Direct,
    compile_http_endpoint,
    compile_websocket_endpoint,
)
from carboy.params._info import ParamInfo, ParamSource
from carboy.params._markers import Body, Cookie, Depends, File, Form, Header, Param, Path, Query
from carboy.params._plan import Plan, Provider
from carboy.params._respond import to_response

__all__ = [
    "Body",
    "CompiledEndpoint",
    "Cookie",
    "Depends",
    "Direct",
    "File",
    "Form",
    "Header",
    "Param",
    "ParamInfo",
    "ParamSource",
    "Path",
    "Plan",
    "Provider",
    "Query",
    "compile_http_endpoint",
    "compile_websocket_endpoint",
    "to_response",
]
