"""Initial schema: symbols, daily bars, FX rates, the ingest ledger and quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db_types import ExactDecimal, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "symbol",
        sa.Column("symbol", sa.String(12), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "daily_bar",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("symbol", sa.String(12), sa.ForeignKey("symbol.symbol"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("open", ExactDecimal(18, 6), nullable=False),
        sa.Column("high", ExactDecimal(18, 6), nullable=False),
        sa.Column("low", ExactDecimal(18, 6), nullable=False),
        sa.Column("close", ExactDecimal(18, 6), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("suspicious", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("symbol", "day", name="uq_daily_bar_symbol_day"),
    )
    op.create_index("ix_daily_bar_day", "daily_bar", ["day"])
    op.create_table(
        "fx_rate",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("quote", sa.String(3), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", ExactDecimal(24, 12), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("base", "quote", "day", name="uq_fx_rate_base_quote_day"),
    )
    op.create_table(
        "ingest_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("sources", sa.String(128), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("quality_score", ExactDecimal(7, 6), nullable=True),
        sa.Column("error_summary", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_ingest_run_job_started", "ingest_run", ["job", "started_at"])
    op.create_table(
        "quality_issue",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("ingest_run.id"), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(48), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_quality_issue_run", "quality_issue", ["run_id"])


def downgrade() -> None:
    op.drop_table("quality_issue")
    op.drop_table("ingest_run")
    op.drop_table("fx_rate")
    op.drop_index("ix_daily_bar_day", "daily_bar")
    op.drop_table("daily_bar")
    op.drop_table("symbol")
