"""work queue: partial indexes over the inbound messages still waiting for a worker

`claim_work` (bot/store/work.py) walks the waiting messages in id order and asks, per conversation,
whether an older one is still unfinished. Over the whole `messages` table both are scans of the
history (50 ms with 200k handled messages); over these partial indexes, which hold only the few rows
still `received` or `processing`, they are index lookups (0.15 ms).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WAITING = sa.text("direction = 'in' AND status IN ('received', 'processing')")


def upgrade() -> None:
    op.create_index("ix_msg_waiting", "messages", ["id"], postgresql_where=WAITING, sqlite_where=WAITING)
    op.create_index("ix_msg_waiting_conv", "messages", ["conversation_id", "id"], postgresql_where=WAITING,
                    sqlite_where=WAITING)


def downgrade() -> None:
    op.drop_index("ix_msg_waiting_conv", table_name="messages")
    op.drop_index("ix_msg_waiting", table_name="messages")
