"""a partial index over the open tickets (issue 15): staff lists, the digest and the sweep

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status NOT IN ('resolved', 'closed')")


def upgrade() -> None:
    op.create_index("ix_tickets_open", "tickets", ["opened_at"], postgresql_where=_OPEN, sqlite_where=_OPEN)


def downgrade() -> None:
    op.drop_index("ix_tickets_open", table_name="tickets")
