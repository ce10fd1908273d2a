"""The ingest ledger and the quality quarantine, newest first, paginated by id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Table, select

from app.api.deps import RuntimeDep
from app.api.errors import ApiError
from app.api.http import decode_cursor, encode_cursor
from app.api.schemas import IngestRunOut, IssuePage, QualityIssueOut, RunPage, dec
from app.ingest.quality import RULES
from app.models import ingest_run, quality_issue

router = APIRouter(prefix="/api/v1", tags=["ingest"])
Limit = Annotated[int, Query(ge=1, le=500)]


def _page(
    runtime: RuntimeDep, table: Table, limit: int, cursor: str | None, *where: Any
) -> tuple[list[Any], str | None]:
    before = decode_cursor(cursor)
    query = select(table).where(*where)
    if before is not None:
        if not before.isdigit():
            raise ApiError(422, "invalid_cursor", "cursor is not one this API handed out")
        query = query.where(table.c.id < int(before))
    query = query.order_by(table.c.id.desc()).limit(limit + 1)
    with runtime.engine.connect() as connection:
        rows = connection.execute(query).all()
    page = list(rows[:limit])
    more = len(rows) > limit and page
    return page, encode_cursor(str(page[-1].id)) if more else None


@router.get("/ingest/runs", response_model=RunPage)
def runs(
    runtime: RuntimeDep, limit: Limit = 50, cursor: str | None = None, job: str | None = None
) -> RunPage:
    where = [ingest_run.c.job == job] if job else []
    page, next_cursor = _page(runtime, ingest_run, limit, cursor, *where)
    items = [
        IngestRunOut(
            **{k: v for k, v in row._asdict().items() if k != "quality_score"},
            quality_score=dec(row.quality_score) if row.quality_score is not None else None,
        )
        for row in page
    ]
    return RunPage(items=items, next_cursor=next_cursor)


@router.get("/quality/issues", response_model=IssuePage)
def issues(
    runtime: RuntimeDep,
    limit: Limit = 50,
    cursor: str | None = None,
    rule: str | None = None,
    run_id: int | None = None,
) -> IssuePage:
    if rule is not None and rule not in RULES:
        raise ApiError(422, "unknown_rule", f"rule must be one of {list(RULES)}")
    where = []
    if rule:
        where.append(quality_issue.c.rule == rule)
    if run_id is not None:
        where.append(quality_issue.c.run_id == run_id)
    page, next_cursor = _page(runtime, quality_issue, limit, cursor, *where)
    return IssuePage(
        items=[QualityIssueOut(**row._asdict()) for row in page], next_cursor=next_cursor
    )
