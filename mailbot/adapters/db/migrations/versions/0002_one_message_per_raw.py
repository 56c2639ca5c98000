"""one inbound message per stored raw message

Two workers processing the same stored message once opened two tickets (issue 10): the claim now
locks the row, and this index makes the database itself refuse a second processed copy.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("uq_messages_raw_message_id", "messages", ["raw_message_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_messages_raw_message_id", table_name="messages")
