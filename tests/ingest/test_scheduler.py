from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from app import db
from app.ingest.leader import AdvisoryLock, FileLock, leader_lock
from app.ingest.scheduler import IngestScheduler
from tests.ingest.helpers import count, daily_bar, fx_rate, ingest_run, make_ingestor


async def wait_for(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    """Poll the database (another task writes it; there is no event to wait on)."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_leader_catches_up_on_start_and_schedules_both_jobs(engine: Engine) -> None:
    scheduler = IngestScheduler(make_ingestor(engine), leader_lock(engine))
    await scheduler.start()
    try:
        await asyncio.wait_for(scheduler.became_leader.wait(), 10)
        await wait_for(
            lambda: count(engine, ingest_run, ingest_run.c.finished_at.is_not(None)) == 2
        )
        assert count(engine, daily_bar) == 30 and count(engine, fx_rate) == 60
        assert scheduler.scheduler is not None
        jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
        assert set(jobs) == {"prices_daily", "fx_daily"}
        assert jobs["prices_daily"].max_instances == 1 and jobs["prices_daily"].coalesce
        assert (
            str(jobs["prices_daily"].trigger)
            == "cron[month='*', day='*', day_of_week='mon-fri', hour='22', minute='30']"
        )
    finally:
        await scheduler.stop()


async def test_two_schedulers_one_leader_and_takeover(pg_url: str) -> None:
    engines = [db.make_engine(pg_url) for _ in range(2)]
    db.upgrade(engines[0])
    first, second = (
        IngestScheduler(
            make_ingestor(e, leader_retry_seconds=0.2, catch_up_on_start=False), leader_lock(e)
        )
        for e in engines
    )
    assert isinstance(first.lock, AdvisoryLock)
    await first.start()
    await asyncio.wait_for(first.became_leader.wait(), 10)
    await second.start()
    await asyncio.sleep(0.8)  # several election rounds
    assert first.is_leader and not second.is_leader
    await first.stop()  # releases the lock; the standby takes over
    await asyncio.wait_for(second.became_leader.wait(), 10)
    assert second.is_leader
    await second.stop()
    for e in engines:
        e.dispose()


async def test_a_dead_leaders_lock_frees_itself(pg_url: str) -> None:
    engines = [db.make_engine(pg_url) for _ in range(2)]
    first, second = AdvisoryLock(engines[0]), AdvisoryLock(engines[1])
    assert first.try_acquire() and not second.try_acquire()
    engines[0].dispose()  # the leader's connections vanish (process death)
    first._connection.invalidate()  # type: ignore[union-attr]
    assert not first.held
    assert second.try_acquire()
    second.release()
    engines[1].dispose()


def test_sqlite_uses_an_exclusive_file_lock(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    one, two = leader_lock(engine), leader_lock(engine)
    assert isinstance(one, FileLock)
    assert one.try_acquire() and not two.try_acquire()
    one.release()
    assert two.try_acquire()
    two.release()
