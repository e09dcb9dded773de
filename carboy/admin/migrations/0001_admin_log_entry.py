"""admin log entry

The admin battery's first revision: the history of changes made in the admin.

Revision: 6a1d2c0e4b7f
Parent: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "6a1d2c0e4b7f"
down_revision = None
branch_labels = ("admin",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_log_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=254), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=False),
        sa.Column("object_repr", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("add", "change", "delete", name="changekind", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_log_entry")),
    )
    op.create_index(
        op.f("ix_admin_log_entry_created_at"), "admin_log_entry", ["created_at"], unique=False
    )
    op.create_index(
        "ix_admin_log_entry_model_object_id",
        "admin_log_entry",
        ["model", "object_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_admin_log_entry_model_object_id", table_name="admin_log_entry")
    op.drop_index(op.f("ix_admin_log_entry_created_at"), table_name="admin_log_entry")
    op.drop_table("admin_log_entry")
