"""The admin pages of carboy.auth's users and groups, registered when the app has them.

``Admin()`` administers the auth battery's ``User`` and ``Group`` models (as
Django's admin does its own) when carboy.auth keeps users in the database with
its default model, unless the project registered them itself or turned it off
with ``Admin(auth_models=False)``. The password hash never reaches a page: the
list says whether a user can sign in with a password, and a password is set by
its owner (the auth battery's reset page); ``carboy createuser`` makes a user
with one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carboy.admin._options import ModelAdmin, action, display

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from carboy.app import Carboy
    from carboy.auth.models import User
    from carboy.requests import Request


@action(description="Sign the selected {plural} out everywhere")
def end_sessions(admin: ModelAdmin, request: Request, session: Session, users: list[User]) -> str:
    """End every session of the chosen users (a bulk action): each must sign in again."""
    for user in users:
        user.session_generation += 1
    return f"Signed {len(users)} {admin.name_for(len(users))} out of every session."


class UserAdmin(ModelAdmin):
    """carboy.auth's users: who they are, what they may do, and their sign-in state.

    The form never holds the password (nor its hash): users added here get an
    unusable password until they set one through the password-reset page
    (``carboy createuser`` makes a user with a password). Subclass it to change the lists
    and register your subclass: ``admin.register(User, MyUserAdmin)``.
    """

    list_display = ["username", "email", "is_staff", "is_active", "can_sign_in"]
    search_fields = ["username", "email"]
    list_filter = ["is_staff", "is_superuser", "is_active", "date_joined"]
    ordering = ["username"]
    fieldsets = [
        (None, {"fields": ["username", "email", "email_verified"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]
    actions = [end_sessions]

    @display(description="Password", boolean=True)
    def can_sign_in(self, user: User) -> bool:
        """Whether the user has a usable password (never the hash itself)."""
        from carboy.auth.passwords import is_usable

        return is_usable(user.password)


class GroupAdmin(ModelAdmin):
    """carboy.auth's groups: a name and the permissions every member holds."""

    list_display = ["name"]
    search_fields = ["name"]
    ordering = ["name"]
    fields = ["name", "permissions"]


def auth_models_to_register(app: Carboy) -> dict[type, type[ModelAdmin]]:
    """The auth battery's models the admin should administer in ``app``, with their admins.

    Only when carboy.auth keeps its users in the database with the default
    ``User`` model (a project with a model of its own registers it itself).
    """
    from carboy.auth import Auth
    from carboy.auth.models import Group, User
    from carboy.auth.users import SQLUserStore
    from carboy.exceptions import ConfigurationError

    try:
        users = app.get_module(Auth).users
    except ConfigurationError:
        return {}
    if not isinstance(users, SQLUserStore) or users.model is not User:
        return {}
    return {User: UserAdmin, Group: GroupAdmin}
