"""carboy.api: OpenAPI 3.1 from typed handlers, a docs UI, problem details, model resources.

Example:
    >>> from carboy import Carboy
    >>> from carboy.api import API
    >>> api = API(prefix="/api", title="Notes", version="1.0.0")
    >>> @api.get("/notes/{note_id:int}")
    ... async def note(note_id: int) -> dict[str, int]:
    ...     return {"id": note_id}
    >>> app = Carboy(debug=True)
    >>> app.install(api)   # /api/openapi.json and /api/docs in debug mode
"""

from carboy.api._client import generate_client as generate_client
from carboy.api._cors import CORS as CORS
from carboy.api._fields import FieldSpec as FieldSpec
from carboy.api._filters import OPERATORS as OPERATORS
from carboy.api._module import API as API
from carboy.api._module import DOCS_CSP as DOCS_CSP
from carboy.api._module import OpenAPIConfig as OpenAPIConfig
from carboy.api._openapi import OPENAPI_VERSION as OPENAPI_VERSION
from carboy.api._openapi import DocumentOptions as DocumentOptions
from carboy.api._openapi import OpenAPIBuilder as OpenAPIBuilder
from carboy.api._openapi import openapi_path as openapi_path
from carboy.api._pagination import CursorPagination as CursorPagination
from carboy.api._pagination import LimitOffsetPagination as LimitOffsetPagination
from carboy.api._pagination import PageNumberPagination as PageNumberPagination
from carboy.api._pagination import Pagination as Pagination
from carboy.api._problems import PROBLEM_JSON as PROBLEM_JSON
from carboy.api._problems import ProblemMiddleware as ProblemMiddleware
from carboy.api._problems import ProblemResponse as ProblemResponse
from carboy.api._problems import problem_details as problem_details
from carboy.api._resource import ACTIONS as ACTIONS
from carboy.api._resource import ALLOW_ANY as ALLOW_ANY
from carboy.api._resource import ModelPermissions as ModelPermissions
from carboy.api._resource import Resource as Resource
from carboy.api._security import Requirement as Requirement
from carboy.api._security import Security as Security
from carboy.api._throttling import THROTTLE_KEY as THROTTLE_KEY
from carboy.api._throttling import api_client as api_client
from carboy.api._versioning import HeaderVersioning as HeaderVersioning
from carboy.api._versioning import URLVersioning as URLVersioning
from carboy.api._versioning import Versioning as Versioning

__all__ = [
    "ACTIONS",
    "ALLOW_ANY",
    "API",
    "CORS",
    "DOCS_CSP",
    "OPENAPI_VERSION",
    "OPERATORS",
    "PROBLEM_JSON",
    "THROTTLE_KEY",
    "CursorPagination",
    "DocumentOptions",
    "FieldSpec",
    "HeaderVersioning",
    "LimitOffsetPagination",
    "ModelPermissions",
    "OpenAPIBuilder",
    "OpenAPIConfig",
    "PageNumberPagination",
    "Pagination",
    "ProblemMiddleware",
    "ProblemResponse",
    "Requirement",
    "Resource",
    "Security",
    "URLVersioning",
    "Versioning",
    "api_client",
    "generate_client",
    "openapi_path",
    "problem_details",
]
