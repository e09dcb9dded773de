"""carboy.admin: the admin site for carboy.db models, on carboy.auth's users and permissions.

Example:
    >>> from carboy.admin import Admin, ModelAdmin
    >>> admin = Admin()
    >>> class PostAdmin(ModelAdmin):
    ...     list_display = ["title", "published"]
    >>> admin.register(Post, PostAdmin)  # doctest: +SKIP
    >>> app.install(admin)  # doctest: +SKIP
"""

from carboy.admin._auth_models import GroupAdmin as GroupAdmin
from carboy.admin._auth_models import UserAdmin as UserAdmin
from carboy.admin._csv import neutralize as neutralize
from carboy.admin._module import Admin as Admin
from carboy.admin._module import Registration as Registration
from carboy.admin._options import Inline as Inline
from carboy.admin._options import ModelAdmin as ModelAdmin
from carboy.admin._options import action as action
from carboy.admin._options import display as display
from carboy.admin.models import ChangeKind as ChangeKind
from carboy.admin.models import LogEntry as LogEntry

__all__ = [
    "Admin",
    "ChangeKind",
    "GroupAdmin",
    "Inline",
    "LogEntry",
    "ModelAdmin",
    "Registration",
    "UserAdmin",
    "action",
    "display",
    "neutralize",
]
