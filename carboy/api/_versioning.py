"""API versions: by URL prefix (``/api/v2/posts``) or by a request header (``API-Version: 2``).

Either way the version is checked before any route of the API runs (an
unknown one is a 404 for a URL, a 422 for a header), documented on every
operation (a path parameter or a header with its allowed values), and a
handler that wants it asks for it: ``version: Annotated[str, api.request_version]``.
"""

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from carboy.exceptions import ConfigurationError
from carboy.params import Depends, Header, Path

if TYPE_CHECKING:
    from carboy.app import Carboy

_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


class Versioning:
    """The base of the two ways of naming a version; use a subclass.

    Args:
        versions: The versions served, oldest first (``["v1", "v2"]``).
        default: The version of a request that names none (header versioning);
            by default the newest.
    """

    def __init__(self, versions: Sequence[str], *, default: str | None = None) -> None:
        versions = tuple(versions)
        if not versions or not all(isinstance(v, str) and _VERSION.fullmatch(v) for v in versions):
            raise ConfigurationError(
                f"{type(self).__name__}({list(versions)!r}): give one or more versions made of "
                "letters, digits, '.', '_' and '-' (such as 'v1' or '2026-06-01')"
            )
        if len(set(versions)) != len(versions):
            raise ConfigurationError(f"{type(self).__name__}: a version is listed twice")
        if default is not None and default not in versions:
            raise ConfigurationError(f"{type(self).__name__}: default {default!r} is not a version")
        self.versions = versions
        self.default = default if default is not None else versions[-1]
        self.marker = Depends(self._dependency())

    def _dependency(self) -> Any:
        raise NotImplementedError

    def prefix(self, prefix: str, api_name: str) -> str:
        """The API's prefix with the version in it (URL versioning), or as it is."""
        return prefix

    def setup(self, app: "Carboy", api_name: str) -> None:
        """Register what the app needs to serve the versions (a path converter)."""


class _VersionConverter:
    """A path segment that is one of the versions (anything else does not match: 404)."""

    python_type = str

    def __init__(self, versions: Sequence[str]) -> None:
        self.versions = frozenset(versions)
        self.regex = "|".join(re.escape(v) for v in versions)

    def to_python(self, value: str) -> str:
        if value not in self.versions:
            raise ValueError(value)
        return value

    def to_url(self, value: Any) -> str:
        if value not in self.versions:
            raise ValueError(f"{value!r} is not one of the versions {sorted(self.versions)}")
        return str(value)


class URLVersioning(Versioning):
    """The version is the path segment after the API's prefix: ``/api/v2/posts``.

    A request for a version not listed matches no route (404). ``url_for``
    takes it as ``api_version=``.

    Example:
        >>> api = API(prefix="/api", versioning=URLVersioning(["v1", "v2"]))
    """

    def _dependency(self) -> Any:
        def api_version(
            api_version: Annotated[
                str, Path(description="The API version: " + ", ".join(self.versions))
            ],
        ) -> str:
            return api_version

        return api_version

    def prefix(self, prefix: str, api_name: str) -> str:
        return f"{prefix}/{{api_version:{_converter_name(api_name)}}}"

    def setup(self, app: "Carboy", api_name: str) -> None:
        name = _converter_name(api_name)
        if name not in app.converters:
            app.register_converter(name, _VersionConverter(self.versions))


class HeaderVersioning(Versioning):
    """The version is a request header (``API-Version: 2``); without it, the default.

    A version not listed is a 422 that lists them.

    Example:
        >>> api = API(prefix="/api", versioning=HeaderVersioning(["1", "2"], default="1"))
    """

    def __init__(
        self, versions: Sequence[str], *, default: str | None = None, header: str = "API-Version"
    ) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,63}", header):
            raise ConfigurationError(f"HeaderVersioning(header={header!r}) is not a header name")
        self.header = header
        super().__init__(versions, default=default)

    def _dependency(self) -> Any:
        pattern = "^(?:" + "|".join(re.escape(v) for v in self.versions) + ")$"
        marker = Header(
            None,
            alias=self.header.lower(),
            pattern=pattern,
            description=f"The API version: {', '.join(self.versions)} (default {self.default})",
        )
        default = self.default

        def api_version(value: Annotated[str | None, marker] = None) -> str:
            return value if value is not None else default

        return api_version


def _converter_name(api_name: str) -> str:
    return f"carboy_api_version_{api_name}"
