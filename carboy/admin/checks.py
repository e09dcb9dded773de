"""Start-up checks of the registered models' options (``admin.E1xx``).

Each finding names the model, the option and the entry that is wrong, so a
typo in ``list_display`` stops the app at start-up rather than failing a page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carboy.admin._changelist import RESERVED
from carboy.admin._filters import make_filter
from carboy.admin._meta import Kind
from carboy.modules import CheckLevel, CheckMessage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from carboy.admin._options import ModelAdmin


def _error(code: str, admin: ModelAdmin, message: str, hint: str) -> CheckMessage:
    return CheckMessage(
        f"admin.{code}",
        message,
        hint,
        obj=f"{type(admin).__name__}({admin.model.__name__})",
        level=CheckLevel.ERROR,
    )


def check_model_admin(
    admin: ModelAdmin, registry: Mapping[tuple[str, str], ModelAdmin]
) -> list[CheckMessage]:
    """The findings about one model's options."""
    found: list[CheckMessage] = []
    fields = admin.info.fields
    for entry in admin.get_list_display():
        if callable(entry) or entry == "__str__" or entry in fields:
            continue
        if callable(getattr(admin, entry, None)) or hasattr(admin.model, entry):
            continue
        found.append(
            _error(
                "E101",
                admin,
                f"list_display has {entry!r}, which is not a field of {admin.model.__name__}, "
                "a method of the admin or an attribute of the model",
                f"Fields are: {', '.join(fields)}",
            )
        )
    for entry in admin.get_search_fields():
        name = entry[1:] if entry[:1] in "^=" else entry
        info = fields.get(name)
        if info is None or info.kind not in (Kind.TEXT, Kind.LONGTEXT, Kind.CHOICE):
            found.append(
                _error(
                    "E102",
                    admin,
                    f"search_fields has {entry!r}, which is not a text field of "
                    f"{admin.model.__name__}",
                    "Search looks in text columns; prefix ^ for starts-with, = for exact",
                )
            )
    for name in admin.get_list_filter():
        info = fields.get(name)
        if info is None:
            found.append(
                _error(
                    "E103",
                    admin,
                    f"list_filter has {name!r}, which is not a field of {admin.model.__name__}",
                    f"Fields are: {', '.join(fields)}",
                )
            )
            continue
        if name in RESERVED:
            found.append(
                _error(
                    "E107",
                    admin,
                    f"list_filter has {name!r}, a name the list page uses for itself",
                    f"The list page's own parameters are {', '.join(sorted(RESERVED))}",
                )
            )
        try:
            make_filter(info)
        except ValueError as exc:
            found.append(_error("E103", admin, f"list_filter: {exc}", "Remove it from list_filter"))
        if info.kind is Kind.FOREIGN_KEY and (info.target is None or info.column is None):
            found.append(_error("E103", admin, f"list_filter: {name!r} has no model", ""))
    for entry in admin.get_ordering():
        name = entry.lstrip("-")
        info = fields.get(name)
        if info is None or info.column is None:
            found.append(
                _error(
                    "E104",
                    admin,
                    f"ordering has {entry!r}, which is not a column of {admin.model.__name__}",
                    "Order by column fields, '-name' for descending",
                )
            )
    for option in ("fields", "readonly_fields"):
        names = admin.get_fields() if option == "fields" else list(admin.readonly_fields)
        for name in names:
            if name not in fields:
                found.append(
                    _error(
                        "E105",
                        admin,
                        f"{option} has {name!r}, which is not a field of {admin.model.__name__}",
                        f"Fields are: {', '.join(fields)}",
                    )
                )
    for name in admin.autocomplete_fields:
        info = fields.get(name)
        if info is None or info.kind is not Kind.FOREIGN_KEY:
            found.append(
                _error(
                    "E106",
                    admin,
                    f"autocomplete_fields has {name!r}, which is not a foreign key of "
                    f"{admin.model.__name__}",
                    "Autocomplete is for foreign keys",
                )
            )
            continue
        target = next((a for a in registry.values() if a.model is info.target), None)
        if target is None or not target.get_search_fields():
            found.append(
                _error(
                    "E106",
                    admin,
                    f"autocomplete_fields has {name!r}: its model "
                    f"{getattr(info.target, '__name__', '?')} must be registered in the admin "
                    "with search_fields",
                    "admin.register() the related model, with search_fields",
                )
            )
    for name, fn in admin.get_actions().items():
        if not callable(fn):
            found.append(_error("E108", admin, f"actions has {name!r}, which is not callable", ""))
    for inline in admin.inline_admins:
        found.extend(check_model_admin(inline, registry))
    return found


def check_admin(registry: Mapping[tuple[str, str], ModelAdmin]) -> list[CheckMessage]:
    """The findings about every registered model (run at start-up)."""
    found: list[CheckMessage] = []
    for admin in registry.values():
        found.extend(check_model_admin(admin, registry))
    return found
