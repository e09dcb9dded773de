"""Alembic's environment script for carboy: the settings come from ``carboy.db.migrations``.

carboy's commands (``carboy migrate``, ``carboy makemigrations``) hand the
connection and options to Alembic through ``config.attributes``; nothing here
needs editing.
"""

from alembic import context

from carboy.db.migrations import run_environment

run_environment(context)  # type: ignore[arg-type]  # the module proxies an EnvironmentContext
