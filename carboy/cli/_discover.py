"""Finding the project's app: ``--app module:attr``, ``CARBOY_APP``, or by convention.

Without an explicit location, the current directory is searched in this
order, and the first module that has an app wins:

1. ``app.py``, ``main.py``, ``asgi.py``;
2. a package (a folder with ``__init__.py``) that has an ``app.py`` (the
   layout ``carboy new`` makes), the package named like the current directory
   first, then the others alphabetically;
3. a package whose ``__init__.py`` creates the app.

In a module, the app is the ``app`` attribute (a :class:`~carboy.Carboy`), a
``create_app()`` factory, or else the only ``Carboy`` instance it has.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from carboy.app import Carboy
from carboy.cli._console import CliError
from carboy.exceptions import ConfigurationError

_CONVENTIONAL_FILES = ("app.py", "main.py", "asgi.py")
_FACTORY_NAME = "create_app"
_HOW_TO_POINT = (
    "Pass --app module:attr (e.g. `carboy --app mysite.app:app run`) or set CARBOY_APP, "
    "or run carboy from your project's folder. To start a new project: carboy new mysite"
)
# ``C:\\path`` keeps its drive colon; only a colon not followed by a slash splits.
_SPEC_SPLIT = re.compile(r":(?![\\/])")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class NoAppFoundError(CliError):
    """No app where one was looked for; the message lists what was tried.

    Example:
        >>> discover_app(directory="/tmp/empty")
        Traceback (most recent call last):
        NoAppFoundError: No carboy app found in /tmp/empty: looked for app.py, ...
    """


class AppImportError(CliError):
    """The user's module raised while it was imported; ``details`` holds its traceback.

    Example:
        >>> try:
        ...     discover_app("broken:app")
        ... except AppImportError as exc:
        ...     print(exc.details)  # the traceback of broken.py
    """


class AppConfigError(CliError):
    """The app's configuration is refused (a :class:`ConfigurationError`).

    Its message is what to fix; the traceback is kept in ``full_traceback``
    and shown only on request (``carboy --traceback ...``).

    Example:
        >>> try:
        ...     found.app.build()
        ... except ConfigurationError as exc:
        ...     raise AppConfigError(str(exc), exc) from exc
    """

    def __init__(self, message: str, error: BaseException) -> None:
        super().__init__(message)
        self.full_traceback = user_traceback(error)


@dataclass(frozen=True, slots=True)
class DiscoveredApp:
    """A loaded app and where it came from, so a server can import it again.

    Attributes:
        app: The app (not built yet).
        module: Dotted name of the module that holds it, or ``None`` for an app
            handed over as an object.
        attr: The attribute: the app, or its factory when ``factory`` is true.
        factory: Whether ``attr`` is a zero-argument function that makes the app.
        directory: The folder put on ``sys.path`` to import ``module``.

    Example:
        >>> found = discover_app("mysite.app:app")
        >>> found.import_string
        'mysite.app:app'
    """

    app: Carboy
    module: str | None
    attr: str
    factory: bool
    directory: Path

    @property
    def import_string(self) -> str | None:
        """``module:attr``, as uvicorn and granian take it (``None`` without a module)."""
        return f"{self.module}:{self.attr}" if self.module is not None else None


def discover_app(
    spec: str | None = None, directory: str | os.PathLike[str] | None = None
) -> DiscoveredApp:
    """Import the project's app from ``spec`` (``module:attr``) or by convention.

    ``directory`` (default: the current directory) is put on ``sys.path``
    first, so the project's modules import as they do under a server.

    Args:
        spec: ``module``, ``module:attr`` or ``path/to/file.py:attr``; ``attr`` is
            an app or a zero-argument factory. ``None`` searches ``directory``.
        directory: The project folder.

    Raises:
        NoAppFoundError: Nothing found; the message says what was tried and what to do.
        AppImportError: The user's module (or factory) raised; the traceback is kept.
        AppConfigError: A module or factory raised a ``ConfigurationError``.

    Example:
        >>> found = discover_app()          # app.py, main.py, mysite/app.py...
        >>> found.app, found.import_string
        (<Carboy 'mysite' debug=True>, 'mysite.app:app')
    """
    root = Path(directory if directory is not None else os.getcwd()).resolve()
    importlib.invalidate_caches()
    if spec:
        return _load_spec(spec.strip(), root)
    return _search(root)


# -- an explicit location ------------------------------------------------------
def _load_spec(spec: str, root: Path) -> DiscoveredApp:
    module_part, *rest = _SPEC_SPLIT.split(spec, maxsplit=1)
    attr = rest[0] if rest else ""
    if module_part.endswith(".py") or "/" in module_part or os.sep in module_part:
        path = Path(module_part)
        path = (path if path.is_absolute() else root / path).resolve()
        if not path.is_file() and not (path / "__init__.py").is_file():
            raise NoAppFoundError(f"--app {spec!r}: there is no file {path}. {_HOW_TO_POINT}")
        directory, module_name = _module_name_for(path)
    else:
        directory, module_name = root, module_part
    if not _DOTTED.match(module_name) or (rest and not _DOTTED.match(attr)):
        raise NoAppFoundError(
            f"--app {spec!r} is not a module:attr location; write it like 'mysite.app:app', "
            "'app:create_app' or 'path/to/app.py:app'."
        )
    _put_on_path(directory)
    module = _import(module_name)
    if module is None:
        raise NoAppFoundError(
            f"--app {spec!r}: no module named {module_name!r} can be imported from "
            f"{directory}. Check the spelling, or run carboy from the folder that contains it."
        )
    if not attr:
        found = _find_in_module(module, directory)
        if found is None:
            raise NoAppFoundError(
                f"Module {module_name!r} has no `app` (a Carboy instance) or `{_FACTORY_NAME}()`"
                f"; name the attribute: --app {module_name}:<name>"
            )
        return found
    obj: object = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise NoAppFoundError(
                f"--app {spec!r}: module {module_name!r} has no attribute {attr!r}."
            )
        obj = getattr(obj, part)
    return _app_from(obj, module_name, attr, directory)


def _module_name_for(path: Path) -> tuple[Path, str]:
    """The ``sys.path`` folder and dotted name of a file, walking up enclosing packages."""
    if path.is_dir():
        path = path / "__init__.py"
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


# -- the conventional places -----------------------------------------------------
def _search(root: Path) -> DiscoveredApp:
    tried: list[str] = []
    for filename in _CONVENTIONAL_FILES:
        path = root / filename
        if not path.is_file():
            tried.append(filename)
            continue
        found = _try_module(path, tried, filename)
        if found is not None:
            return found
    packages = _packages(root)
    for package in packages:
        if (package / "app.py").is_file():
            found = _try_module(package / "app.py", tried, f"{package.name}/app.py")
            if found is not None:
                return found
    for package in packages:
        init = package / "__init__.py"
        if _mentions_an_app(init):
            found = _try_module(init, tried, f"{package.name}/__init__.py")
            if found is not None:
                return found
    if not any("/" in label for label in tried):
        tried.append("<package>/app.py, <package>/__init__.py")
    raise NoAppFoundError(
        f"No carboy app found in {root}: looked for {', '.join(tried)}. {_HOW_TO_POINT}"
    )


def _packages(root: Path) -> list[Path]:
    """Importable packages in ``root``; the one named like ``root`` first."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    packages = [
        entry
        for entry in entries
        if entry.name.isidentifier() and (entry / "__init__.py").is_file()
    ]
    return sorted(packages, key=lambda p: (p.name != root.name, p.name))


def _mentions_an_app(path: Path) -> bool:
    # Importing every package of a project to look inside would run its code;
    # a package that creates the app names Carboy or the factory somewhere.
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "Carboy" in text or _FACTORY_NAME in text


def _try_module(path: Path, tried: list[str], label: str) -> DiscoveredApp | None:
    directory, module_name = _module_name_for(path)
    _put_on_path(directory)
    module = _import(module_name)
    if module is None:  # pragma: no cover - the file exists; only a race removes it
        tried.append(label)
        return None
    loaded_from = getattr(module, "__file__", None)
    if loaded_from is None or Path(loaded_from).resolve() != path.resolve():
        raise NoAppFoundError(
            f"{label} cannot be imported as {module_name!r}: that name is taken by "
            f"{loaded_from or 'a built-in module'}, which Python imports instead. Rename "
            "your module or package."
        )
    found = _find_in_module(module, directory)
    if found is None:
        tried.append(f"{label} (it has no `app` or `{_FACTORY_NAME}`)")
    return found


# -- importing -----------------------------------------------------------------
def _put_on_path(directory: Path) -> None:
    entry = str(directory)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _import(name: str) -> ModuleType | None:
    """Import ``name``; ``None`` if that module does not exist, errors of its code raised."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            return None
        raise _import_error(name, exc) from exc
    except ConfigurationError as exc:
        raise AppConfigError(f"While importing {name!r}: {exc}", exc) from exc
    except Exception as exc:
        raise _import_error(name, exc) from exc


def _import_error(name: str, exc: BaseException) -> AppImportError:
    summary = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return AppImportError(
        f"Importing {name!r} failed: {summary}",
        details=user_traceback(exc),
    )


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` from the first frame of the user's code on.

    Frames of this module and of Python's import machinery are left out: they
    are the same for every project and hide where the problem is.

    Example:
        >>> print(user_traceback(exc))
        Traceback (most recent call last):
          File "/srv/mysite/app.py", line 3, in <module>
        ...
    """
    tb = exc.__traceback__
    while tb is not None and _is_machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


_IMPORTLIB_DIR = os.path.dirname(importlib.__file__)


def _is_machinery(filename: str) -> bool:
    return (
        filename == __file__
        or filename.startswith("<frozen importlib")
        or os.path.dirname(filename) == _IMPORTLIB_DIR
    )


# -- what a module holds -----------------------------------------------------------
def _find_in_module(module: ModuleType, directory: Path) -> DiscoveredApp | None:
    candidate = getattr(module, "app", None)
    if isinstance(candidate, Carboy):
        return DiscoveredApp(candidate, module.__name__, "app", False, directory)
    factory = getattr(module, _FACTORY_NAME, None)
    if callable(factory):
        return _app_from(factory, module.__name__, _FACTORY_NAME, directory)
    apps = [(name, value) for name, value in vars(module).items() if isinstance(value, Carboy)]
    if len(apps) == 1:
        name, value = apps[0]
        return DiscoveredApp(value, module.__name__, name, False, directory)
    if len(apps) > 1:
        names = ", ".join(f"{module.__name__}:{name}" for name, _ in apps)
        raise NoAppFoundError(
            f"Module {module.__name__!r} has several Carboy apps ({names}); pick one with "
            f"--app, e.g. --app {module.__name__}:{apps[0][0]}"
        )
    return None


def _app_from(obj: object, module: str, attr: str, directory: Path) -> DiscoveredApp:
    where = f"{module}:{attr}"
    if isinstance(obj, Carboy):
        return DiscoveredApp(obj, module, attr, False, directory)
    if not callable(obj):
        raise NoAppFoundError(
            f"{where} is a {type(obj).__name__}, not a Carboy app or a function that returns one."
        )
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        signature = None
    if signature is not None:
        required = [
            p.name
            for p in signature.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            raise NoAppFoundError(
                f"{where} takes arguments ({', '.join(required)}); an app factory must be "
                "callable with none (give its parameters defaults)."
            )
    try:
        app = obj()
    except ConfigurationError as exc:
        raise AppConfigError(f"While calling {where}(): {exc}", exc) from exc
    except Exception as exc:
        summary = traceback.format_exception_only(type(exc), exc)[-1].strip()
        raise AppImportError(
            f"Calling {where}() failed: {summary}",
            details=user_traceback(exc),
        ) from exc
    if not isinstance(app, Carboy):
        raise NoAppFoundError(f"{where}() returned {app!r}, not a Carboy app.")
    return DiscoveredApp(app, module, attr, True, directory)
