"""carboy.db's public API: one sorted, complete ``__all__``."""

from __future__ import annotations

import types

import carboy.db


def _sort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_complete() -> None:
    exported = list(carboy.db.__all__)
    assert exported == sorted(exported, key=_sort_key)
    assert len(exported) == len(set(exported))
    for name in exported:
        assert hasattr(carboy.db, name), name
    public = {
        name
        for name, value in vars(carboy.db).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "").startswith("carboy.db")
    }
    assert public - set(exported) == set()


def test_importing_carboy_db_does_not_import_alembic() -> None:
    import subprocess
    import sys

    code = "import sys, carboy.db; print('alembic' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
