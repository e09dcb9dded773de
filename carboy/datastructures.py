"""Small containers for HTTP data: headers, query strings, forms, uploads, URLs.

Each is built lazily from the raw ASGI values, only when something reads it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from carboy.types import RawHeaders, Scope


class Address(NamedTuple):
    """A client or server address."""

    host: str
    port: int


class MultiDict(Mapping[str, Any]):
    """An immutable mapping where a key may hold several values.

    ``md[key]`` and ``md.get(key)`` give the last value, ``md.getlist(key)`` all.

    Example:
        >>> md = MultiDict([("tag", "a"), ("tag", "b")])
        >>> md["tag"], md.getlist("tag")
        ('b', ['a', 'b'])
    """

    __slots__ = ("_dict", "_list")

    def __init__(self, items: Iterable[tuple[str, Any]] | Mapping[str, Any] = ()) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        self._list: list[tuple[str, Any]] = pairs
        self._dict: dict[str, Any] = dict(pairs)

    def __getitem__(self, key: str) -> Any:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def getlist(self, key: str) -> list[Any]:
        """Every value given for ``key``, in order (empty if none)."""
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, Any]]:
        """All ``(key, value)`` pairs, repeated keys included."""
        return list(self._list)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return sorted(self._list) == sorted(other._list)
        return NotImplemented

    def __hash__(self) -> int:  # pragma: no cover - mutable-looking containers
        raise TypeError("unhashable type")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


class QueryParams(MultiDict):
    """The parsed query string of a request.

    Example:
        >>> QueryParams("a=1&a=2&b=x").getlist("a")
        ['1', '2']
    """

    __slots__ = ()

    def __init__(
        self, query: str | bytes | Iterable[tuple[str, Any]] | Mapping[str, Any] = ()
    ) -> None:
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(query, str):
            super().__init__(parse_qsl(query, keep_blank_values=True))
        else:
            super().__init__(query)

    def __str__(self) -> str:
        return urlencode(self._list)


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued HTTP headers (read-only).

    Example:
        >>> h = Headers({"Content-Type": "text/html"})
        >>> h["content-type"]
        'text/html'
    """

    __slots__ = ("_dict", "_raw")

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        raw: RawHeaders | None = None,
        scope: Scope | None = None,
    ) -> None:
        if raw is not None:
            self._raw = raw
        elif scope is not None:
            self._raw = list(scope["headers"])
        elif headers is not None:
            self._raw = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]
        else:
            self._raw = []
        self._dict: dict[str, str] | None = None

    @property
    def raw(self) -> RawHeaders:
        """The headers as the ASGI list of ``(name, value)`` byte pairs."""
        return self._raw

    def _mapping(self) -> dict[str, str]:
        if self._dict is None:
            # Where a header repeats, the first one wins for ``[]``; getlist gives all.
            d: dict[str, str] = {}
            for k, v in self._raw:
                d.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
            self._dict = d
        return self._dict

    def __getitem__(self, key: str) -> str:
        return self._mapping()[key.lower()]

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of header ``key`` (any case), or ``default``."""
        return self._mapping().get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._mapping()

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def getlist(self, key: str) -> list[str]:
        """Every value of header ``key``, in order."""
        name = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._raw if k.lower() == name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._raw!r})"


class MutableHeaders(Headers):
    """Headers that write through to a response's raw header list.

    Example:
        >>> h = MutableHeaders(raw=[])
        >>> h["X-Thing"] = "1"
        >>> h.raw
        [(b'x-thing', b'1')]
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name = key.lower().encode("latin-1")
        self._raw[:] = [(k, v) for k, v in self._raw if k != name]
        self._raw.append((name, value.encode("latin-1")))
        self._dict = None

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._raw[:] = [(k, v) for k, v in self._raw if k != name]
        self._dict = None

    def append(self, key: str, value: str) -> None:
        """Add a header line, keeping earlier ones of the same name."""
        self._raw.append((key.lower().encode("latin-1"), value.encode("latin-1")))
        self._dict = None

    def setdefault(self, key: str, value: str) -> str:
        """Set ``key`` unless present; return its value."""
        if key in self:
            return self[key]
        self.append(key, value)
        return value

    def update(self, other: Mapping[str, str]) -> None:
        """Set each header of ``other``, replacing existing values."""
        for k, v in other.items():
            self[k] = v


class URL:
    """A parsed URL.

    Example:
        >>> URL("https://example.com/a?b=1").replace(path="/c").path
        '/c'
    """

    __slots__ = ("_parts", "_url")

    def __init__(self, url: str = "", *, scope: Scope | None = None) -> None:
        if scope is not None:
            url = _url_from_scope(scope)
        self._url = url
        self._parts: SplitResult = urlsplit(url)

    scheme = property(lambda self: self._parts.scheme, doc="``http``, ``https``, ``ws``...")
    netloc = property(lambda self: self._parts.netloc, doc="Host and port.")
    path = property(lambda self: self._parts.path, doc="The path, percent-encoded.")
    query = property(lambda self: self._parts.query, doc="The raw query string.")
    fragment = property(lambda self: self._parts.fragment, doc="The fragment.")
    hostname = property(lambda self: self._parts.hostname, doc="The host name.")
    port = property(lambda self: self._parts.port, doc="The port, if given.")

    @property
    def is_secure(self) -> bool:
        """Whether the scheme is ``https`` or ``wss``."""
        return self.scheme in ("https", "wss")

    def replace(self, **parts: Any) -> URL:
        """A copy with some of ``scheme``, ``netloc``, ``path``, ``query``, ``fragment`` set."""
        return URL(self._parts._replace(**parts).geturl())

    def include_query_params(self, **params: Any) -> URL:
        """A copy with these query parameters set."""
        q = dict(parse_qsl(self.query, keep_blank_values=True))
        q.update({k: str(v) for k, v in params.items()})
        return self.replace(query=urlencode(q))

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"URL({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)


def _url_from_scope(scope: Scope) -> str:
    from urllib.parse import quote

    scheme = scope.get("scheme", "http")
    server = scope.get("server")
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
    root = quote(scope.get("root_path", ""))
    if root and not path.startswith(root):
        # Servers (uvicorn --root-path) and carboy's mounts put root_path in front of
        # path; older servers did not.
        path = root + path
    host = None
    for k, v in scope["headers"]:
        if k == b"host":
            host = _valid_host(v.decode("latin-1"))
            break
    if host is None and server:
        h, p = server
        default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
        host = h if p == default else f"{h}:{p}"
    url = f"{scheme}://{host or 'localhost'}{path}"
    qs = scope.get("query_string", b"")
    if qs:
        url += "?" + qs.decode("latin-1")
    return url


def _valid_host(host: str) -> str | None:
    """``host`` if it is a plausible ``name[:port]``, else None.

    The Host header is client input: a value such as ``[evil``, ``a/b?`` or
    ``h:notaport`` would make the URL unparsable or change its path.
    """
    if not host or len(host) > 1024 or any(c in host for c in "/?#@\\ \t\r\n"):
        return None
    try:
        parts = urlsplit(f"//{host}")
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    return host


class State:
    """An attribute bag: ``request.state.user = ...``, ``app.state.db = ...``.

    Example:
        >>> s = State(); s.user = "ann"; s.user
        'ann'
    """

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", dict(initial or {}))

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(f"State has no attribute {key!r}") from None

    def __delattr__(self, key: str) -> None:
        del self._state[key]

    def __contains__(self, key: str) -> bool:
        return key in self._state


class UploadFile:
    """An uploaded file: kept in memory, spooled to disk past ``max_memory`` bytes.

    Example:
        >>> async def upload(form: FormData) -> int:
        ...     data = await form["file"].read()
    """

    def __init__(
        self,
        filename: str | None,
        *,
        content_type: str = "application/octet-stream",
        headers: Headers | None = None,
        max_memory: int = 1024 * 1024,
    ) -> None:
        self.filename = filename
        self.content_type = content_type
        self.headers = headers or Headers()
        self.size = 0
        # Closed by close() (FormData.close(), Request.close()), not a with block.
        self.file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=max_memory
        )

    @property
    def in_memory(self) -> bool:
        """False once the upload has spooled to a file on disk."""
        return not getattr(self.file, "_rolled", False)

    def write_sync(self, data: bytes) -> None:
        """Append bytes (used while parsing)."""
        self.size += len(data)
        self.file.write(data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all by default)."""
        return self.file.read(size)

    async def seek(self, offset: int) -> None:
        """Move the read position."""
        self.file.seek(offset)

    async def close(self) -> None:
        """Release the file (and its temporary file on disk)."""
        self.file.close()

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, size={self.size})"


class FormData(MultiDict):
    """Parsed form fields: strings for fields, :class:`UploadFile` for files."""

    __slots__ = ()

    async def close(self) -> None:
        """Close every uploaded file."""
        for _, v in self._list:
            if isinstance(v, UploadFile):
                await v.close()
