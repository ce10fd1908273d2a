"""APScheduler 3 in the event loop: the daily jobs, a catch-up run, leader election.

Every replica may start an `IngestScheduler`; only the one that holds the leader lock adds
jobs. The others retry the lock every `leader_retry_seconds` and take over when the leader
goes away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from app.ingest import ledger
from app.ingest.jobs import FX_JOB, PRICES_JOB, behind, run_daily_fx, run_daily_prices
from app.ingest.leader import LeaderLock
from app.ingest.pipeline import Ingestor, RunResult

log = logging.getLogger(__name__)

JobFn = Callable[[Ingestor], Awaitable[RunResult]]
# An open ledger row older than this belongs to a process that died (CLI runs may be open).
ABANDONED_AFTER = timedelta(hours=6)


class IngestScheduler:
    def __init__(self, ingestor: Ingestor, lock: LeaderLock) -> None:
        self.ingestor, self.lock = ingestor, lock
        self.scheduler: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.became_leader = asyncio.Event()
        metrics = ingestor.telemetry.metrics
        self._events, self._lag, self._leader = metrics.job_events, metrics.job_lag, metrics.leader
        self._leader.set(0)

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._elect(), name="scheduler-election")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self._leader.set(0)
        await asyncio.to_thread(self.lock.release)

    async def _elect(self) -> None:
        retry = self.ingestor.settings.leader_retry_seconds
        while not self._stopping.is_set():
            held = await asyncio.to_thread(lambda: self.lock.held) if self.is_leader else False
            if self.is_leader and not held:
                log.warning("lost the scheduler lock; standing down")
                self._stand_down()
            if not self.is_leader and await asyncio.to_thread(self.lock.try_acquire):
                await self._lead()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=retry)
            except TimeoutError:
                continue

    def _stand_down(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self._leader.set(0)
        self.became_leader.clear()

    async def _lead(self) -> None:
        settings = self.ingestor.settings
        abandoned = await asyncio.to_thread(
            ledger.close_abandoned, self.ingestor.engine, older_than=ABANDONED_AFTER
        )
        if abandoned:
            log.warning("marked %d interrupted ingest runs as failed", abandoned)
        late = await asyncio.to_thread(behind, self.ingestor) if settings.catch_up_on_start else {}
        now = datetime.now(UTC)
        scheduler = AsyncIOScheduler(timezone=UTC)
        for job_id, cron, fn, kind in (
            (PRICES_JOB, settings.prices_cron, run_daily_prices, "prices"),
            (FX_JOB, settings.fx_cron, run_daily_fx, "fx"),
        ):
            trigger = CronTrigger.from_crontab(cron, timezone=UTC)
            options = {"next_run_time": now} if late.get(kind) else {}
            scheduler.add_job(
                self._run,
                trigger,
                args=[job_id, fn],
                id=job_id,
                name=job_id,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
                replace_existing=True,
                **options,
            )
        scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MISSED)
        scheduler.start()
        self.scheduler = scheduler
        self._leader.set(1)
        self.became_leader.set()
        log.info("scheduler leader; catch-up: %s", late)

    def _on_event(self, event: SchedulerEvent) -> None:
        if isinstance(event, JobSubmissionEvent) and event.scheduled_run_times:
            lag = datetime.now(UTC) - max(event.scheduled_run_times)
            self._lag.labels(event.job_id).set(max(0.0, lag.total_seconds()))
        elif isinstance(event, JobExecutionEvent) and event.code == EVENT_JOB_MISSED:
            self._events.labels(event.job_id, "missed").inc()

    async def _run(self, job_id: str, fn: JobFn) -> None:
        try:
            result = await fn(self.ingestor)
        except Exception:
            self._events.labels(job_id, "error").inc()
            log.exception("scheduled job %s failed", job_id)
            return
        self._events.labels(job_id, "executed").inc()
        log.info(
            "job %s run %s: %s",
            result.job,
            result.run_id,
            result.outcome,
            extra={"run_id": result.run_id},
        )
