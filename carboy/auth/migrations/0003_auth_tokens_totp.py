"""auth tokens and two-factor

Personal access tokens (auth_token), TOTP authenticators (auth_totp) and
recovery codes (auth_recovery_code). Each names its user by pk, with no
foreign key, so that a user store that is not SQL works too.

Revision: 3f6c1a2b9d70
Parent: 9842513fa8fd
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3f6c1a2b9d70"
down_revision = "9842513fa8fd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_token")),
        sa.UniqueConstraint("key", name=op.f("uq_auth_token_key")),
    )
    op.create_index(op.f("ix_auth_token_user_id"), "auth_token", ["user_id"])
    op.create_table(
        "auth_totp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_totp")),
        sa.UniqueConstraint("user_id", name=op.f("uq_auth_totp_user_id")),
    )
    op.create_table(
        "auth_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_recovery_code")),
    )
    op.create_index(op.f("ix_auth_recovery_code_user_id"), "auth_recovery_code", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_recovery_code_user_id"), table_name="auth_recovery_code")
    op.drop_table("auth_recovery_code")
    op.drop_table("auth_totp")
    op.drop_index(op.f("ix_auth_token_user_id"), table_name="auth_token")
    op.drop_table("auth_token")
