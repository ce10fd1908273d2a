"""Response bodies. Amounts and rates are strings ("123.45"): JSON numbers are floats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


def dec(value: Decimal) -> str:
    """Plain notation, never an exponent: 1E+2 -> "100"."""
    return format(value, "f")


class Conversion(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "amount": "100",
                    "from": "USD",
                    "to": "GBP",
                    "rate": "0.7720100000",
                    "rate_date": "2025-03-12",
                    "rate_age_days": 0,
                    "converted": "77.20",
                }
            ]
        },
        populate_by_name=True,
    )

    amount: str
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    rate: str
    rate_date: date
    rate_age_days: int
    converted: str


class FxRate(BaseModel):
    base: str
    quote: str
    rate: str
    rate_date: date
    rate_age_days: int
    on: date


class FxPoint(BaseModel):
    day: date
    rate: str


class FxHistory(BaseModel):
    base: str
    quote: str
    start: date
    end: date
    items: list[FxPoint]


class Currency(BaseModel):
    code: str
    name: str
    minor_units: int
    latest_rate_date: date | None = Field(description="Latest stored rate against the FX base")


class Stock(BaseModel):
    symbol: str
    currency: str
    latest_day: date | None
    latest_close: str | None


class Price(BaseModel):
    day: date
    open: str
    high: str
    low: str
    close: str
    volume: int
    rate: str
    rate_date: date
    suspicious: bool


class PricePage(BaseModel):
    symbol: str
    currency: str
    items: list[Price]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page")


class StockQuote(Price):
    symbol: str
    currency: str
    rate_age_days: int


class Performer(BaseModel):
    symbol: str
    day: date
    close: str
    previous_close: str
    change_pct: str
    currency: str
    rate: str


class TopPerformers(BaseModel):
    day: date
    currency: str
    items: list[Performer]


class Performance(BaseModel):
    symbol: str
    currency: str
    window_days: int
    first_day: date
    last_day: date
    average_close: str
    average_volume: str
    change_pct: str
    volatility_pct: str | None
    rank: int
    of: int


class IngestRunOut(BaseModel):
    id: int
    job: str
    sources: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    fetched: int
    stored: int
    unchanged: int
    rejected: int
    quality_score: str | None
    error_summary: str | None
    trace_id: str | None = Field(None, description="the run's trace (when traced)")


class RunPage(BaseModel):
    items: list[IngestRunOut]
    next_cursor: str | None


class QualityIssueOut(BaseModel):
    id: int
    run_id: int | None
    kind: str
    rule: str
    severity: str
    key: str
    payload: str
    detected_at: datetime


class IssuePage(BaseModel):
    items: list[QualityIssueOut]
    next_cursor: str | None
