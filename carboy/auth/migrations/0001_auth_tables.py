"""auth tables

The auth battery's first revision: users, groups, permissions and their links.

Revision: 705b0c987d31
Parent: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "705b0c987d31"
down_revision = None
branch_labels = ("auth",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_group")),
        sa.UniqueConstraint("name", name=op.f("uq_auth_group_name")),
    )
    op.create_table(
        "auth_permission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("codename", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_permission")),
        sa.UniqueConstraint("label", "codename", name=op.f("uq_auth_permission_label_codename")),
    )
    op.create_table(
        "auth_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("username_key", sa.String(length=450), nullable=False),
        sa.Column("email_key", sa.String(length=762), nullable=True),
        sa.Column("password", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_staff", sa.Boolean(), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=True),
        sa.Column("date_joined", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_generation", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_user")),
        sa.UniqueConstraint("email_key", name=op.f("uq_auth_user_email_key")),
        sa.UniqueConstraint("username_key", name=op.f("uq_auth_user_username_key")),
    )
    op.create_table(
        "auth_group_permissions",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["auth_group.id"],
            name=op.f("fk_auth_group_permissions_group_id_auth_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["auth_permission.id"],
            name=op.f("fk_auth_group_permissions_permission_id_auth_permission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "group_id", "permission_id", name=op.f("pk_auth_group_permissions")
        ),
    )
    op.create_table(
        "auth_user_groups",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["auth_group.id"],
            name=op.f("fk_auth_user_groups_group_id_auth_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["auth_user.id"],
            name=op.f("fk_auth_user_groups_user_id_auth_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "group_id", name=op.f("pk_auth_user_groups")),
    )
    op.create_table(
        "auth_user_permissions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["auth_permission.id"],
            name=op.f("fk_auth_user_permissions_permission_id_auth_permission"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["auth_user.id"],
            name=op.f("fk_auth_user_permissions_user_id_auth_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "permission_id", name=op.f("pk_auth_user_permissions")),
    )


def downgrade() -> None:
    op.drop_table("auth_user_permissions")
    op.drop_table("auth_user_groups")
    op.drop_table("auth_group_permissions")
    op.drop_table("auth_user")
    op.drop_table("auth_permission")
    op.drop_table("auth_group")
