"""auth session

The auth battery's sessions table, for DatabaseStore.

Revision: 9842513fa8fd
Parent: 705b0c987d31
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9842513fa8fd"
down_revision = "705b0c987d31"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_session",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_auth_session")),
    )
    op.create_index(
        op.f("ix_auth_session_expires_at"), "auth_session", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_session_expires_at"), table_name="auth_session")
    op.drop_table("auth_session")
