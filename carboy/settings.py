"""Typed settings from code, the environment and a ``.env`` file.

Values are looked up in this order, first found wins: arguments given to
``Settings(...)``, environment variables (``CARBOY_<FIELD>``), the ``.env``
file in the working directory, then the defaults below.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretBytes, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from carboy.exceptions import ConfigurationError

#: Production refuses to start with a shorter secret key.
MIN_SECRET_KEY_LENGTH = 32
#: ``carboy check --deploy`` warns below this length (Django's figure).
RECOMMENDED_SECRET_KEY_LENGTH = 50

_GENERATE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
_HOW_TO_SET_KEY = (
    "Set CARBOY_SECRET_KEY in the environment or in the .env file, or pass "
    "Settings(secret_key=...). Generate a key with:\n    " + _GENERATE_KEY
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_DEV_KEY_PREFIXES = ("secret",)
#: Words that mark a development, demo or example key (``carboy check --deploy`` fails).
_DEV_KEY_WORDS = ("insecure", "changeme", "example", "demo", "dev")
# Field names whose rejected input must never be echoed in an error message.
_SENSITIVE_WORDS = ("secret", "password", "token", "key", "credential")


class Settings(BaseSettings):
    """The app's configuration; subclass it to add your own fields.

    Every field can be set as an argument, as an environment variable named
    ``CARBOY_`` plus the field name in capitals, or in a ``.env`` file.
    Bad values raise :class:`~carboy.exceptions.ConfigurationError` naming the
    field and its environment variable.

    Example:
        >>> settings = Settings(debug=True, allowed_hosts=["example.com"])
        >>> settings.allowed_hosts
        ['example.com']

        Your own fields, loaded the same way (``CARBOY_SITE_NAME``):

        >>> class MySettings(Settings):
        ...     site_name: str = "My site"
    """

    model_config = SettingsConfigDict(
        env_prefix="CARBOY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_nested_delimiter="__",
    )

    debug: bool = Field(
        default=False,
        description="Debug mode: detailed error pages, every host allowed. Never in production.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs sessions, CSRF tokens and other signed values. "
        f"Required in production, at least {MIN_SECRET_KEY_LENGTH} characters.",
    )
    secret_key_fallbacks: list[SecretStr] = Field(
        default=[],
        description="Former secret keys, newest first: values signed with them still verify, "
        "while only secret_key signs. Move the old key here when you rotate it, and drop it "
        "once what it signed has expired. From the environment as a JSON list.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=["localhost", "127.0.0.1", "[::1]"],
        description="Host names the app answers to; '.example.com' matches the domain and "
        "its subdomains, '*' matches any host. Ignored in debug mode, where every host "
        "is allowed. From the environment as JSON or comma-separated.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Addresses and networks ('10.0.0.0/8') of the proxies in front of the app. "
        "Only from these peers do Forwarded and X-Forwarded-For/-Proto/-Host set the client, "
        "scheme and host. Empty: those headers are ignored. From the environment as JSON or "
        "comma-separated.",
    )
    max_body_size: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="Largest request body accepted, in bytes; bigger bodies get a 413.",
    )
    templates_dir: str = Field(
        default="templates", description="Folder of the app's Jinja2 templates."
    )
    static_dir: str = Field(default="static", description="Folder of the app's static files.")
    static_url: str = Field(
        default="/static", description="URL path where static files are served; starts with '/'."
    )
    https_redirect: bool = Field(
        default=False,
        description="Redirect every plain-HTTP request to the same URL over HTTPS (308, path "
        "and query kept). Behind a TLS-terminating proxy, list it in trusted_proxies.",
    )
    database_url: str | None = Field(
        default=None,
        description="Database URL for the carboy.db battery, e.g. 'sqlite+aiosqlite:///app.db'.",
    )
    cache_url: str = Field(
        default="memory://",
        description="Cache URL for the carboy.cache battery: 'memory://' (one process) or "
        "'redis://host:6379/0' (shared by every process).",
    )
    tasks_url: str = Field(
        default="inprocess://",
        description="Backend of the carboy.tasks battery: 'inprocess://' (in the app's process), "
        "'immediate://' (at once, for tests), 'celery+amqp://host:5672//' or "
        "'celery+redis://host:6379/1' (Celery workers started by carboy worker).",
    )
    tasks_result_url: str | None = Field(
        default=None,
        description="Where Celery keeps task results, e.g. 'redis://host:6379/2'; with a Redis "
        "broker and none set, the broker's Redis keeps them.",
    )
    channels_url: str = Field(
        default="memory://",
        description="Backend of the carboy.channels battery: 'memory://' (one process) or "
        "'redis://host:6379/0' (pub/sub shared by every process).",
    )
    sessions_url: str = Field(
        default="cookie://",
        description="Where carboy.auth keeps sessions: 'cookie://' (signed into the cookie), "
        "'database://' (the app's carboy.db database), 'redis://host:6379/0', or 'memory://' "
        "(one process, for tests).",
    )
    api_docs: bool | None = Field(
        default=None,
        description="Serve the OpenAPI document and the docs page of each carboy.api API "
        "(<prefix>/openapi.json, <prefix>/docs). Unset: on in debug mode, off in production.",
    )
    api_max_page_size: int = Field(
        default=100,
        gt=0,
        description="The most items one page of a carboy.api resource list may have, whatever "
        "its pagination allows; a larger page_size or limit is a 422.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Format of carboy's log lines when configure_logging() or carboy run sets "
        "them up: 'text' (time level logger: message) or 'json' (one JSON object per line).",
    )
    access_log: bool = Field(
        default=False,
        description="Log one line per request on the carboy.request logger: method, path, "
        "status, time taken and the request id.",
    )
    gc_freeze: bool = Field(
        default=True,
        description="Once a server's start-up hooks have run, collect garbage and freeze "
        "every object alive (gc.freeze(), once per process; not under the test clients): the "
        "collector's full passes then skip the modules, the app and what start-up opened, "
        "which keeps their pauses out of the response times.",
    )
    server_header: str | None = Field(
        default=None,
        description="Value of the Server response header, e.g. 'carboy'; None (the default) "
        "sends none, so the response does not advertise the software it runs.",
    )
    media_dir: str = Field(
        default="media",
        description="Folder where carboy.forms stores uploaded files (its default "
        "FileSystemStorage), relative to the app's folder.",
    )
    media_url: str = Field(
        default="/media",
        description="URL path uploaded files are served under (FileSystemStorage.url); the "
        "Forms module serves them there in debug mode or with Forms(serve_media=True).",
    )
    # -- hardening limits (forms, WebSockets, the server `carboy run` starts) --
    form_max_fields: int = Field(
        default=1000,
        gt=0,
        description="Most non-file fields a form body (urlencoded or multipart) may have; "
        "413 past it.",
    )
    form_max_files: int = Field(
        default=100, gt=0, description="Most files a multipart body may carry; 413 past it."
    )
    form_max_field_size: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest non-file form field, in bytes; 413 past it.",
    )
    csrf_trusted_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins ('https://shop.example.com') or host patterns ('.example.com') "
        "whose pages may send unsafe requests (POST...) under a session, besides the "
        "request's own origin: the CSRF check of carboy.auth refuses the others with 403.",
    )
    websocket_allowed_origins: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Origins ('https://app.example.com') or host patterns ('.example.com') "
        "whose pages may open WebSockets, besides the page's own; None means the "
        "allowed_hosts, '*' any origin. Checked outside debug mode; other origins get 403.",
    )
    websocket_max_message_size: int = Field(
        default=1024 * 1024,
        ge=0,
        description="Largest WebSocket message the app reads, in bytes; a bigger one closes "
        "the connection with 1009. 0 means no limit.",
    )
    websocket_max_messages_per_second: int = Field(
        default=100,
        ge=0,
        description="Messages per second one WebSocket may send (bursts up to the same "
        "number); faster clients are closed with 1008. 0 means no limit.",
    )

    if not TYPE_CHECKING:
        # Hidden from type checkers so the pydantic plugin keeps the typed
        # keyword signature of the fields; at run time it only rewords errors.
        def __init__(self, /, **values: Any) -> None:
            try:
                super().__init__(**values)
            except ValidationError as exc:
                # ``from None``: pydantic's own message would echo secret inputs.
                raise ConfigurationError(_describe_validation_error(type(self), exc)) from None
            except SettingsError as exc:
                raise ConfigurationError(
                    f"{type(self).__name__}: {exc}. Values of list, dict and model fields "
                    "given in the environment or .env must be JSON."
                ) from None

    # -- validation ----------------------------------------------------
    @field_validator(
        "allowed_hosts",
        "websocket_allowed_origins",
        "csrf_trusted_origins",
        "trusted_proxies",
        mode="before",
    )
    @classmethod
    def _parse_hosts(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"looks like a JSON list but is not valid JSON ({exc.msg}); use "
                    "'[\"example.com\", \".example.org\"]' or 'example.com,.example.org'"
                ) from None
        return text.split(",")

    @field_validator(
        "allowed_hosts", "websocket_allowed_origins", "csrf_trusted_origins", mode="after"
    )
    @classmethod
    def _clean_hosts(cls, hosts: list[str] | None) -> list[str] | None:
        if hosts is None:
            return None
        cleaned = [host.strip().lower() for host in hosts]
        return [host for host in cleaned if host]

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _check_proxies(cls, proxies: list[str]) -> list[str]:
        cleaned = [entry.strip() for entry in proxies if entry.strip()]
        for entry in cleaned:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network; write '10.0.0.5', "
                    "'10.0.0.0/8' or '::1' (host names are not resolved)"
                ) from None
        return cleaned

    @field_validator("static_url", "media_url", mode="after")
    @classmethod
    def _check_static_url(cls, url: str) -> str:
        if not url.startswith("/") or url.startswith("//"):
            raise ValueError("must be a path starting with a single '/', like '/static'")
        return url.rstrip("/") or "/"

    # -- changes -------------------------------------------------------
    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied and validated (the environment is not re-read).

        Unlike pydantic's ``model_copy(update=...)``, the new values are
        validated and converted: a ``secret_key`` string becomes a ``SecretStr``.

        Example:
            >>> Settings().replace(debug=True, allowed_hosts="a.com,b.com").allowed_hosts
            ['a.com', 'b.com']
        """
        try:
            return self.model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            raise ConfigurationError(_describe_validation_error(type(self), exc)) from None

    # -- checks --------------------------------------------------------
    def require_secret_key(self) -> str:
        """The secret key, or a :class:`ConfigurationError` that says how to set one.

        Batteries that sign data (sessions, CSRF) call this when they start.

        Example:
            >>> Settings(secret_key="x" * 50).require_secret_key() == "x" * 50
            True
        """
        if self.secret_key is None or not self.secret_key.get_secret_value():
            raise ConfigurationError(f"No secret key is set. {_HOW_TO_SET_KEY}")
        return self.secret_key.get_secret_value()

    def signing_keys(self) -> list[str]:
        """The keys that verify signatures, oldest first: the fallbacks, then the secret key.

        The last one signs (the order itsdangerous expects). In debug mode
        without a secret key, a random key made once per process signs (with a
        warning on the ``carboy`` logger): what it signed, sessions included,
        ends when the process restarts. Outside debug mode, raises like
        :meth:`require_secret_key` when no secret key is set.

        Example:
            >>> Settings(secret_key="new", secret_key_fallbacks=["old"]).signing_keys()
            ['old', 'new']
        """
        if self.debug and (self.secret_key is None or not self.secret_key.get_secret_value()):
            current = _development_key()
        else:
            current = self.require_secret_key()
        fallbacks = [key.get_secret_value() for key in reversed(self.secret_key_fallbacks)]
        return [key for key in fallbacks if key] + [current]

    def validate_for_startup(self) -> None:
        """Refuse settings that are unsafe to serve with; the app calls this at start-up.

        In production (``debug`` off) a secret key is required and must be at
        least ``MIN_SECRET_KEY_LENGTH`` characters, and so must every key in
        ``secret_key_fallbacks``. Debug mode accepts anything.

        Example:
            >>> Settings(debug=True).validate_for_startup()  # fine in development
        """
        if self.debug:
            return
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if not key:
            raise ConfigurationError(
                "carboy refuses to start in production without a secret key "
                f"(debug is off). {_HOW_TO_SET_KEY}\n"
                "For local development, set CARBOY_DEBUG=1 instead."
            )
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"carboy refuses to start in production with a secret key of {len(key)} "
                f"characters; it must be at least {MIN_SECRET_KEY_LENGTH} characters long "
                "(a short key can be guessed). "
                f"Generate a new one with:\n    {_GENERATE_KEY}"
            )
        for index, fallback in enumerate(self.secret_key_fallbacks):
            length = len(fallback.get_secret_value())
            if length < MIN_SECRET_KEY_LENGTH:
                raise ConfigurationError(
                    f"carboy refuses to start in production with secret_key_fallbacks[{index}] "
                    f"of {length} characters: a fallback key still verifies signatures, so it "
                    f"must be at least {MIN_SECRET_KEY_LENGTH} characters long too. Drop it "
                    "from CARBOY_SECRET_KEY_FALLBACKS if it is no longer needed."
                )

    def deploy_warnings(self) -> list[tuple[str, str]]:
        """Deployment problems as ``(check_id, message)`` pairs, for ``carboy check --deploy``.

        The IDs are stable. Errors (``.E``) make ``carboy check --deploy``
        fail: ``security.E001`` debug on, ``E002`` any host allowed
        (``'*'``), ``E003`` a secret key containing a development word
        (``insecure``, ``dev``, ``demo``, ``example``, ``changeme``), ``E004``
        no HTTPS redirect and no trusted proxy (that could redirect).
        Warnings: ``W003`` missing or weak secret key, ``W004`` no HTTPS
        redirect behind trusted proxies (make sure they redirect), ``W006``
        only local hosts allowed. ``carboy check --deploy`` adds ``E005``, a
        secret key committed to the project's git repository.

        Example:
            >>> [check_id for check_id, _ in Settings(debug=True).deploy_warnings()][:2]
            ['security.E001', 'security.W003']
        """
        warnings: list[tuple[str, str]] = []
        if self.debug:
            warnings.append(
                (
                    "security.E001",
                    "debug is on. Debug pages show source code, settings and tracebacks to "
                    "anyone, and every host is allowed. Set CARBOY_DEBUG=0 in production.",
                )
            )
        if "*" in self.allowed_hosts:
            warnings.append(
                (
                    "security.E002",
                    "allowed_hosts contains '*', so any Host header is accepted (host header "
                    "attacks, poisoned password-reset links). List your domains in "
                    "CARBOY_ALLOWED_HOSTS, e.g. 'example.com,.example.com'.",
                )
            )
        word = self._secret_key_dev_word()
        if word:
            warnings.append(
                (
                    "security.E003",
                    f"secret_key contains {word!r}, so it looks like a development or example "
                    f"key that others may know. {_HOW_TO_SET_KEY}",
                )
            )
        else:
            problem = self._secret_key_problem()
            if problem:
                warnings.append(("security.W003", f"{problem} {_HOW_TO_SET_KEY}"))
        if not self.https_redirect and not self.trusted_proxies:
            warnings.append(
                (
                    "security.E004",
                    "https_redirect is off and no trusted proxy is configured, so nothing "
                    "redirects plain HTTP to HTTPS. Set CARBOY_HTTPS_REDIRECT=1, or, behind a "
                    "proxy that redirects, list it in CARBOY_TRUSTED_PROXIES.",
                )
            )
        elif not self.https_redirect:
            warnings.append(
                (
                    "security.W004",
                    "https_redirect is off: make sure the trusted proxies in front redirect "
                    "plain HTTP to HTTPS (or set CARBOY_HTTPS_REDIRECT=1).",
                )
            )
        if not set(self.allowed_hosts) - _LOCAL_HOSTS:
            warnings.append(
                (
                    "security.W006",
                    f"allowed_hosts is {self.allowed_hosts!r}: outside debug mode the app "
                    "answers only requests for these local names. Add your domain to "
                    "CARBOY_ALLOWED_HOSTS.",
                )
            )
        return warnings

    def _secret_key_dev_word(self) -> str:
        key = self.secret_key.get_secret_value().lower() if self.secret_key is not None else ""
        return next((word for word in _DEV_KEY_WORDS if word in key), "")

    def _secret_key_problem(self) -> str:
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if not key:
            return "secret_key is not set."
        if key.lower().startswith(_DEV_KEY_PREFIXES):
            return "secret_key looks like a development key (it starts with a well-known prefix)."
        if len(key) < RECOMMENDED_SECRET_KEY_LENGTH or len(set(key)) < 5:
            return (
                f"secret_key is weak: use at least {RECOMMENDED_SECRET_KEY_LENGTH} random "
                "characters with at least 5 different ones."
            )
        return ""

    # -- display -------------------------------------------------------
    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name == "database_url" and isinstance(value, str):
                value = _hide_url_password(value)
            yield name, value


# One per process, so every signer of a debug app without a key agrees on it.
_dev_key: list[str] = []


def _development_key() -> str:
    """The random signing key of a debug-mode process that has no secret key (made once)."""
    if not _dev_key:
        _dev_key.append(secrets.token_urlsafe(50))
        logging.getLogger("carboy").warning(
            "No secret key is set: signing with a random key made for this process (debug "
            "mode only). Sessions and other signed values end when it restarts. %s",
            _HOW_TO_SET_KEY,
        )
    return _dev_key[0]


def _hide_url_password(url: str) -> str:
    """``postgresql://u:pw@h/db`` -> ``postgresql://u:***@h/db``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))


def _describe_validation_error(cls: type[BaseSettings], exc: ValidationError) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    delimiter = str(cls.model_config.get("env_nested_delimiter") or "__")
    lines = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        field = ".".join(loc) or "(settings)"
        # Nested model fields map to VAR__SUB; list indexes have no variable of their own.
        names: list[str] = []
        for part in error["loc"]:
            if not isinstance(part, str):
                break
            names.append(part)
        env = (prefix + delimiter.join(names)).upper() if names else ""
        where = f"{field} (environment variable {env})" if env else field
        msg = error["msg"].removeprefix("Value error, ")
        line = f"  {where}: {msg}"
        if not _is_sensitive(cls, loc[0] if loc else ""):
            line += f"; got {error['input']!r}"
        lines.append(line)
    count = len(lines)
    noun = "setting is" if count == 1 else "settings are"
    return f"{count} {noun} invalid in {cls.__name__}:\n" + "\n".join(lines)


def _is_sensitive(cls: type[BaseSettings], name: str) -> bool:
    if any(word in name.lower() for word in _SENSITIVE_WORDS):
        return True
    field = cls.model_fields.get(name)
    if field is None:
        return False
    annotation = repr(field.annotation)
    return SecretStr.__name__ in annotation or SecretBytes.__name__ in annotation
