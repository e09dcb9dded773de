"""Take a test's own models off the shared ``Model`` again (tables and mappers).

Every model class registers on the one ``Model`` base, process-wide: a test that defines
models in a module of its own (a docs example, a project written to ``tmp_path``) leaves
them there for every later test in the same process, where a second ``class Member(Model)``
then fails with "Table 'member' is already defined". Such tests call :func:`forget_models`
when they end, whatever order the tests run in.
"""

from __future__ import annotations

from carboy.db import Model


def _in(module: str, names: tuple[str, ...]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


def forget_models(*modules: str) -> None:
    """Forget the models defined in ``modules`` (and their submodules).

    Their tables go from ``Model.metadata``, with the tables named after them (a user
    model's ``member_groups`` and ``member_permissions``), and their mappers from the registry.
    """
    for mapper in list(Model.registry.mappers):
        if not _in(mapper.class_.__module__, modules):
            continue
        table = mapper.local_table
        prefix = str(table.name) + "_"  # type: ignore[attr-defined]
        for other in list(Model.metadata.sorted_tables):
            if other is table or other.name.startswith(prefix):
                Model.metadata.remove(other)
        Model.registry._dispose_manager_and_mapper(mapper.class_manager)
        del Model.registry._managers[mapper.class_manager]
