"""Handler parameters: where each value comes from, and the compiled plan that fetches it."""

from carboy.params._endpoint import compile_http_endpoint, compile_websocket_endpoint
from carboy.params._info import ParamInfo, ParamSource
from carboy.params._markers import Body, Cookie, Depends, File, Form, Header, Param, Path, Query
from carboy.params._plan import Context, Plan, Provider, compile_plan
from carboy.params._respond import to_response

__all__ = [
    "Body",
    "Context",
    "Cookie",
    "Depends",
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
    "compile_plan",
    "compile_websocket_endpoint",
    "to_response",
]
