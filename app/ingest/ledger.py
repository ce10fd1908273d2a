"""The `ingest_run` ledger: one row per job run, opened before work starts, closed after."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert, select, update

from app.models import IngestRun, ingest_run, utc_now

SUCCESS, PARTIAL, FAILED = "success", "partial", "failed"
OUTCOMES = (SUCCESS, PARTIAL, FAILED)


@dataclass
class RunTotals:
    fetched: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    valid: int = 0
    checked: int = 0
    sources: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def quality_score(self) -> Decimal | None:
        if not self.checked:
            return None
        return (Decimal(self.valid) / Decimal(self.checked)).quantize(Decimal("0.000001"))


def open_run(engine: Engine, job: str, *, trace_id: str | None = None) -> int:
    with engine.begin() as connection:
        run_id = connection.execute(
            insert(ingest_run)
            .values(
                job=job,
                sources="",
                started_at=utc_now(),
                fetched=0,
                stored=0,
                unchanged=0,
                rejected=0,
                trace_id=trace_id,
            )
            .returning(ingest_run.c.id)
        ).scalar_one()
    return int(run_id)


def close_run(engine: Engine, run_id: int, *, outcome: str, totals: RunTotals) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    summary = "; ".join(totals.errors)[:4000] or None
    with engine.begin() as connection:
        connection.execute(
            update(ingest_run)
            .where(ingest_run.c.id == run_id)
            .values(
                finished_at=utc_now(),
                outcome=outcome,
                sources=",".join(sorted(totals.sources)),
                fetched=totals.fetched,
                stored=totals.stored,
                unchanged=totals.unchanged,
                rejected=totals.rejected,
                quality_score=totals.quality_score,
                error_summary=summary,
            )
        )


def close_abandoned(engine: Engine, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Runs left open by a process that died: mark them failed so the ledger tells the truth."""
    cutoff = (now or utc_now()) - older_than
    with engine.begin() as connection:
        result = connection.execute(
            update(ingest_run)
            .where(ingest_run.c.finished_at.is_(None), ingest_run.c.started_at < cutoff)
            .values(
                finished_at=utc_now(), outcome=FAILED, error_summary="interrupted: process ended"
            )
        )
    return int(result.rowcount)


def get_run(engine: Engine, run_id: int) -> IngestRun:
    with engine.connect() as connection:
        row = connection.execute(select(ingest_run).where(ingest_run.c.id == run_id)).one()
    return IngestRun.model_validate(row._asdict())
