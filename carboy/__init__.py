"""carboy: a Python web framework that starts as one file and grows into a full project.

Example:
    >>> from carboy import Carboy
    >>> app = Carboy(debug=True)
    >>> @app.get("/")
    ... async def hello() -> dict:
    ...     return {"message": "Hello, World!"}
"""

import importlib
from typing import TYPE_CHECKING, Any

from carboy._forms import FormLimits as FormLimits
from carboy._json import dumps as encode_json
from carboy.app import Carboy as Carboy
from carboy.background import Background as Background
from carboy.connections import HTTPConnection as HTTPConnection
from carboy.datastructures import URL as URL
from carboy.datastructures import FormData as FormData
from carboy.datastructures import Headers as Headers
from carboy.datastructures import QueryParams as QueryParams
from carboy.datastructures import State as State
from carboy.datastructures import UploadFile as UploadFile
from carboy.errors import ErrorDetails as ErrorDetails
from carboy.exceptions import ConfigurationError as ConfigurationError
from carboy.exceptions import FieldError as FieldError
from carboy.exceptions import HTTPException as HTTPException
from carboy.exceptions import InvalidFields as InvalidFields
from carboy.exceptions import RequestValidationError as RequestValidationError
from carboy.exceptions import SetupError as SetupError
from carboy.exceptions import WebSocketDisconnect as WebSocketDisconnect
from carboy.exceptions import WebSocketException as WebSocketException
from carboy.identity import AnonymousUser as AnonymousUser
from carboy.identity import AuthCredentials as AuthCredentials
from carboy.identity import BaseUser as BaseUser
from carboy.identity import SessionStore as SessionStore
from carboy.log import configure_logging as configure_logging
from carboy.middleware import Middleware as Middleware
from carboy.middleware import SecurityHeaders as SecurityHeaders
from carboy.modules import CheckLevel as CheckLevel
from carboy.modules import CheckMessage as CheckMessage
from carboy.modules import Module as Module
from carboy.params import Body as Body
from carboy.params import Cookie as Cookie
from carboy.params import Depends as Depends
from carboy.params import File as File
from carboy.params import Form as Form
from carboy.params import Header as Header
from carboy.params import ParamInfo as ParamInfo
from carboy.params import ParamSource as ParamSource
from carboy.params import Path as Path
from carboy.params import Query as Query
from carboy.requests import Request as Request
from carboy.responses import EventSourceResponse as EventSourceResponse
from carboy.responses import FileResponse as FileResponse
from carboy.responses import HTMLResponse as HTMLResponse
from carboy.responses import JSONResponse as JSONResponse
from carboy.responses import PlainTextResponse as PlainTextResponse
from carboy.responses import RedirectResponse as RedirectResponse
from carboy.responses import Response as Response
from carboy.responses import ServerSentEvent as ServerSentEvent
from carboy.responses import StreamingResponse as StreamingResponse
from carboy.routing import MountInfo as MountInfo
from carboy.routing import RouteInfo as RouteInfo
from carboy.routing import Router as Router
from carboy.staticfiles import StaticFiles as StaticFiles
from carboy.websockets import WebSocket as WebSocket
from carboy.websockets import WebSocketState as WebSocketState

if TYPE_CHECKING:
    from carboy.settings import Settings as Settings
    from carboy.templating import TemplateResponse as TemplateResponse
    from carboy.templating import Templates as Templates
    from carboy.templating import render as render

__version__ = "0.1.0"

#: Names whose modules (pydantic-settings, Jinja2) are imported on first use, not
#: by ``import carboy``: name -> the module that defines it.
_LAZY = {
    "Settings": "carboy.settings",
    "TemplateResponse": "carboy.templating",
    "Templates": "carboy.templating",
    "render": "carboy.templating",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'carboy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "URL",
    "AnonymousUser",
    "AuthCredentials",
    "Background",
    "BaseUser",
    "Body",
    "Carboy",
    "CheckLevel",
    "CheckMessage",
    "ConfigurationError",
    "Cookie",
    "Depends",
    "ErrorDetails",
    "EventSourceResponse",
    "FieldError",
    "File",
    "FileResponse",
    "Form",
    "FormData",
    "FormLimits",
    "HTMLResponse",
    "HTTPConnection",
    "HTTPException",
    "Header",
    "Headers",
    "InvalidFields",
    "JSONResponse",
    "Middleware",
    "Module",
    "MountInfo",
    "ParamInfo",
    "ParamSource",
    "Path",
    "PlainTextResponse",
    "Query",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "RouteInfo",
    "Router",
    "SecurityHeaders",
    "ServerSentEvent",
    "SessionStore",
    "Settings",
    "SetupError",
    "State",
    "StaticFiles",
    "StreamingResponse",
    "TemplateResponse",
    "Templates",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketState",
    "configure_logging",
    "encode_json",
    "render",
]
