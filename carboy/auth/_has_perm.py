"""``has_perm``'s rules, shared by every user class (SQL and in-memory)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``Auth(object_permissions=hook)``: ``hook(user, perm, obj)`` decides a permission
#: for one object: True grants, False refuses, None defers to the model-level one.
ObjectPermissionHook = Callable[[Any, str, Any], "bool | None"]


def check_permission(
    user: Any,
    perm: str,
    obj: Any,
    permissions: Callable[[], frozenset[str]],
    hook: ObjectPermissionHook | None,
) -> bool:
    """The one decision: inactive holds nothing, superuser everything, then the lists."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    if obj is not None and hook is not None:
        decided = hook(user, perm, obj)
        if decided is not None:
            return bool(decided)
    return perm in permissions()
