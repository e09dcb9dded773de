"""What every admin page shares: finding the model, checking permissions, the
template to draw, the navigation, links to objects and the history log."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from carboy.admin.models import ChangeKind, LogEntry
from carboy.exceptions import HTTPException
from carboy.requests import Request

if TYPE_CHECKING:
    from carboy.admin._options import ModelAdmin
    from carboy.db import Database


class Admin(Protocol):
    """What the pages need of the :class:`~carboy.admin.Admin` module (a Protocol, so the
    pages never import the module that adds them)."""

    title: str
    site_url: str | None
    count_limit: int
    registry: dict[tuple[str, str], ModelAdmin]

    @property
    def database(self) -> Database:
        """The app's database."""
        ...

    def admin_for(self, model: type) -> ModelAdmin | None:
        """The admin of ``model``, or None."""
        ...


#: Every POST of the admin is checked for CSRF, with or without a session cookie.
CSRF = {"csrf_required": True}
#: Longest object text kept in a history entry.
MAX_REPR = 200


def model_admin_for(site: Admin, label: str, model: str) -> ModelAdmin:
    """The registered admin of ``label.model``; 404 when there is none."""
    found = site.registry.get((label, model))
    if found is None:
        raise HTTPException(404, f"No model {label}.{model} in the admin")
    return found


def require(admin: ModelAdmin, request: Request, what: str, obj: Any = None) -> None:
    """403 unless the user has ``what`` (``view``, ``add``...) on the model (or ``obj``)."""
    if not admin.has_permission(request, what, obj):
        raise HTTPException(403, f"You do not have permission to {what} {admin.name_plural}")


def pk_text(obj: Any) -> str:
    """The object's primary key as URL text."""
    identity = inspect(obj).identity
    if not identity:
        return ""
    return str(identity[0])


def template_names(admin: ModelAdmin | None, page: str, override: str | None = None) -> list[str]:
    """Templates tried for ``page``: the admin's own, the model's, the label's, the default."""
    names = [override] if override else []
    if admin is not None:
        names.append(f"admin/{admin.label}/{admin.model_name}/{page}")
        names.append(f"admin/{admin.label}/{page}")
    names.append(f"admin/{page}")
    return names


def pick_template(request: Request, names: Sequence[str]) -> str:
    """The first of ``names`` the app's templates have."""
    env = request.app.templates.env
    return str(env.select_template(list(names)).name)


@dataclass(frozen=True, slots=True)
class NavItem:
    """A model in the navigation."""

    label: str
    name: str
    url: str | None
    add_url: str | None
    key: tuple[str, str]


def navigation(site: Admin, request: Request) -> list[tuple[str, list[NavItem]]]:
    """The models the user may see, by label: ``[(label, [item, ...]), ...]``."""
    groups: dict[str, list[NavItem]] = {}
    for key, admin in sorted(site.registry.items()):
        can_view = admin.has_view_permission(request)
        can_add = admin.has_add_permission(request)
        if not (can_view or can_add):
            continue
        params = {"label": admin.label, "model": admin.model_name}
        groups.setdefault(admin.label, []).append(
            NavItem(
                admin.label,
                admin.name_plural.capitalize(),
                request.url_for("admin.changelist", **params) if can_view else None,
                request.url_for("admin.add", **params) if can_add else None,
                key,
            )
        )
    return [(label.capitalize(), items) for label, items in groups.items()]


def base_context(
    site: Admin, request: Request, admin: ModelAdmin | None, title: str, **values: Any
) -> dict[str, Any]:
    """The context every admin template gets."""
    try:
        logout_url: str | None = request.url_for("auth.logout")
    except Exception:  # the Auth module without its pages: no sign-out form
        logout_url = None
    return {
        "logout_url": logout_url,
        "site": site,
        "site_title": site.title,
        "title": title,
        "nav": navigation(site, request),
        "current": (admin.label, admin.model_name) if admin is not None else None,
        "opts": admin,
        **values,
    }


def object_url(site: Admin, request: Request, obj: Any) -> str | None:
    """The change page of ``obj`` if its model is registered and the user may see it."""
    admin = site.admin_for(type(obj))
    if admin is None or not admin.has_view_permission(request):
        return None
    return request.url_for(
        "admin.change", label=admin.label, model=admin.model_name, pk=quote(pk_text(obj), safe="")
    )


def log(
    session: Session,
    request: Request,
    admin: ModelAdmin,
    obj: Any,
    kind: ChangeKind,
    changes: Sequence[Mapping[str, Any]] = (),
    message: str = "",
    *,
    object_id: str | None = None,
) -> LogEntry:
    """Record a change in the history (in the request's transaction)."""
    user = request.user
    entry = LogEntry(
        user_id=str(getattr(user, "pk", "")),
        user_name=str(getattr(user, "display_name", "") or "")[:254],
        model=admin.key,
        object_id=(object_id if object_id is not None else pk_text(obj))[:255],
        object_repr=str(obj)[:MAX_REPR],
        kind=kind,
        changes_json=json.dumps(list(changes), ensure_ascii=False),
        message=message[:500],
    )
    session.add(entry)
    return entry


def back_query(raw: Any) -> str:
    """A list page's query string carried through a form: ``?...`` only, else empty."""
    if not isinstance(raw, str) or not raw.startswith("?") or len(raw) > 2000:
        return ""
    if any(ch in raw for ch in "\r\n\\") or "//" in raw:
        return ""
    return raw
