"""Tables. Money and rates are exact decimals; times are timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db_types import MONEY, RATE, RATIO, UTCDateTime

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only


def utc_now() -> datetime:
    return datetime.now(UTC)


class Symbol(SQLModel, table=True):
    __tablename__ = "symbol"

    symbol: str = Field(primary_key=True, max_length=12)
    currency: str = Field(default="USD", max_length=3)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class DailyBar(SQLModel, table=True):
    __tablename__ = "daily_bar"
    __table_args__ = (
        UniqueConstraint("symbol", "day", name="uq_daily_bar_symbol_day"),
        Index("ix_daily_bar_day", "day"),
    )

    id: int | None = Field(default=None, sa_column=Column(_BIG_ID, primary_key=True))
    symbol: str = Field(foreign_key="symbol.symbol", max_length=12)
    day: date
    open: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    high: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    low: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    close: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    volume: int = Field(sa_type=BigInteger)
    suspicious: bool = False
    source: str = Field(max_length=32)
    ingested_at: datetime = Field(sa_type=UTCDateTime)


class FxRate(SQLModel, table=True):
    __tablename__ = "fx_rate"
    __table_args__ = (UniqueConstraint("base", "quote", "day", name="uq_fx_rate_base_quote_day"),)

    id: int | None = Field(default=None, sa_column=Column(_BIG_ID, primary_key=True))
    base: str = Field(max_length=3)
    quote: str = Field(max_length=3)
    day: date
    rate: Decimal = Field(sa_column=Column(RATE, nullable=False))
    source: str = Field(max_length=32)
    ingested_at: datetime = Field(sa_type=UTCDateTime)


class IngestRun(SQLModel, table=True):
    __tablename__ = "ingest_run"
    __table_args__ = (Index("ix_ingest_run_job_started", "job", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32)
    sources: str = Field(default="", max_length=128)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=16)  # success | partial | failed
    fetched: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    quality_score: Decimal | None = Field(default=None, sa_column=Column(RATIO))
    error_summary: str | None = Field(default=None, sa_column=Column(Text))
    trace_id: str | None = Field(default=None, max_length=32)


class QualityIssue(SQLModel, table=True):
    __tablename__ = "quality_issue"
    __table_args__ = (Index("ix_quality_issue_run", "run_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, foreign_key="ingest_run.id")
    kind: str = Field(max_length=8)  # bar | fx
    rule: str = Field(max_length=48)
    severity: str = Field(max_length=8)  # rejected | warning
    key: str = Field(sa_column=Column(String(64), nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    detected_at: datetime = Field(sa_type=UTCDateTime)


daily_bar = DailyBar.__table__  # type: ignore[attr-defined]
fx_rate = FxRate.__table__  # type: ignore[attr-defined]
symbol_table = Symbol.__table__  # type: ignore[attr-defined]
ingest_run = IngestRun.__table__  # type: ignore[attr-defined]
quality_issue = QualityIssue.__table__  # type: ignore[attr-defined]
