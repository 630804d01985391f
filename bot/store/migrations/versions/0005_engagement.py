"""polls and giveaways, with the hash-chained engagement log

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "polls",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("question", sa.String(length=300), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("changeable", sa.Boolean(), nullable=False),
        sa.Column("style", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("chats", sa.JSON(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_poll_status", "polls", ["status", "closes_at"])
    op.create_table(
        "poll_posts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("poll_id", _ID, nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("native_id", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "chat_id", name="uq_poll_post_chat"),
        sa.UniqueConstraint("native_id", name="uq_poll_post_native"),
    )
    op.create_table(
        "poll_votes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("poll_id", _ID, nullable=False),
        sa.Column("voter", sa.String(length=128), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "voter", name="uq_poll_vote_voter"),
    )
    op.create_table(
        "giveaways",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("prize", sa.String(length=300), nullable=False),
        sa.Column("winners", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("keyword", sa.String(length=64), nullable=True),
        sa.Column("question", sa.String(length=300), nullable=True),
        sa.Column("answer", sa.String(length=300), nullable=True),
        sa.Column("member_of", sa.String(length=128), nullable=True),
        sa.Column("entry_post", sa.String(length=64), nullable=True),
        sa.Column("announce", sa.JSON(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("entries_hash", sa.String(length=64), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_giveaway_status", "giveaways", ["status", "closes_at"])
    op.create_table(
        "giveaway_entries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("giveaway_id", _ID, nullable=False),
        sa.Column("entrant", sa.String(length=160), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("giveaway_id", "entrant", name="uq_giveaway_entrant"),
    )
    op.create_table(
        "engagement_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prev_hash", name="uq_engagement_log_prev"),
    )


def downgrade() -> None:
    op.drop_table("engagement_log")
    op.drop_table("giveaway_entries")
    op.drop_index("ix_giveaway_status", table_name="giveaways")
    op.drop_table("giveaways")
    op.drop_table("poll_votes")
    op.drop_table("poll_posts")
    op.drop_index("ix_poll_status", table_name="polls")
    op.drop_table("polls")
