"""The forms battery as one module: ``app.install(Forms())``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carboy.exceptions import HTTPException
from carboy.forms._form import BaseForm
from carboy.forms._storage import FileSystemStorage, Storage
from carboy.modules import Module
from carboy.staticfiles import StaticFiles

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.types import Receive, Scope, Send


class Forms(Module):
    """Form classes injectable into handlers, their templates, and where uploads go.

    Once installed, a handler parameter typed with a form class is that form,
    bound to the request and validated (``async def create(form: PostForm)``),
    ``forms/...`` templates are found (and overridden by the app's own), and
    :class:`~carboy.forms.Storage` is injectable.

    Args:
        storage: Where uploaded files are saved; by default a
            :class:`~carboy.forms.FileSystemStorage` in the ``media_dir`` setting's
            folder, served under the ``media_url`` setting.
        serve_media: Serve that folder under ``media_url`` (default: in debug
            mode only; in production let the web server or a CDN serve it).

    Example:
        >>> from carboy import Carboy
        >>> app = Carboy()
        >>> app.install(Forms())
    """

    def __init__(self, *, storage: Storage | None = None, serve_media: bool | None = None) -> None:
        super().__init__("forms", templates="templates", root=Path(__file__).parent)
        self._storage = storage
        self.serve_media = serve_media
        self._dependencies: dict[type[BaseForm], Callable[..., Any]] = {}
        self._set_up = False

    @property
    def storage(self) -> Storage:
        """The storage of uploaded files (known once the app is built)."""
        if self._storage is None:
            raise RuntimeError("Forms.storage is set when the app builds; build the app first")
        return self._storage

    def setup(self, app: Carboy) -> None:
        # The provider and the media route live on this module, so they are added once:
        # by the first app's settings when this module goes on several apps.
        if self._set_up:
            return
        self._set_up = True
        settings = app.settings
        if self._storage is None:
            self._storage = FileSystemStorage(
                Path(app.root) / settings.media_dir, base_url=settings.media_url
            )
        self.provide(Storage, self._storage)  # type: ignore[type-abstract]
        self.provide_subclasses(BaseForm, self._dependency_for)
        if self.serve_media is not False and isinstance(self._storage, FileSystemStorage):
            files = StaticFiles(directory=self._storage.root, check_dir=False)
            self.mount(settings.media_url, _Media(self, files), name="media")

    def _dependency_for(self, cls: type[BaseForm]) -> Callable[..., Any]:
        # One dependency per class, so two parameters of one form class share the form.
        if cls not in self._dependencies:
            if not hasattr(cls, "schema"):
                from carboy.exceptions import ConfigurationError

                raise ConfigurationError(
                    f"Cannot inject {cls.__qualname__}: it has no schema. Use Form[YourModel] "
                    "(or a subclass of it), or ModelForm[YourModel]"
                )
            self._dependencies[cls] = cls.dependency()
        return self._dependencies[cls]


class _Media:
    """The uploads folder, on each app that serves media: ``serve_media``, else in debug."""

    def __init__(self, forms: Forms, files: StaticFiles) -> None:
        self.forms = forms
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope.get("app")
        if self.forms.serve_media is None and app is not None and not app.debug:
            raise HTTPException(404)
        await self.files(scope, receive, send)
