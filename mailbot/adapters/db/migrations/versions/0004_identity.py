"""identity checks of GDPR requests (issue 11): the ticket's identity status and how it was verified

Only the fact and the method are kept (R-A7: "ID checked", never a copy of a document).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("identity_method", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("identity_method")
        batch_op.drop_column("identity_status")
