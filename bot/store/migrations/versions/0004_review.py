"""insight loop: review decisions, and indexes for the analytics report

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_decisions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("text_key", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("predicted", sa.String(length=64), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("text_key"),
    )
    op.create_index("ix_msg_dir_created", "messages", ["direction", "created_at"])
    op.create_index("ix_nlu_created", "nlu_results", ["created_at"])
    op.create_index("ix_esc_conv_created", "escalations", ["conversation_id", "created_at"])
    op.create_index("ix_esc_created", "escalations", ["created_at"])
    op.create_index("ix_audit_kind_at", "audit_events", ["kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_kind_at", table_name="audit_events")
    op.drop_index("ix_esc_created", table_name="escalations")
    op.drop_index("ix_esc_conv_created", table_name="escalations")
    op.drop_index("ix_nlu_created", table_name="nlu_results")
    op.drop_index("ix_msg_dir_created", table_name="messages")
    op.drop_table("review_decisions")
