"""Client-side call budgets per provider: calls per minute and per UTC day.

`MemoryRateLimiter` serves one process; `RedisRateLimiter` shares the budget between
replicas (and across a leader change), with fixed windows kept in Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Protocol

from redis.asyncio import Redis

from app.sources.base import QuotaExhausted, Throttled

Sleep = Callable[[float], Awaitable[None]]


class RateLimiter(Protocol):
    async def acquire(self) -> None:
        """Take one call from the budget, waiting for the minute window if allowed to."""

    async def exhaust_today(self) -> None:
        """The upstream says the daily quota is spent: refuse until the next UTC day."""

    async def remaining_today(self) -> int | None: ...


class Unlimited:
    async def acquire(self) -> None:
        return None

    async def exhaust_today(self) -> None:
        return None

    async def remaining_today(self) -> int | None:
        return None


def _utc_day(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


class MemoryRateLimiter:
    def __init__(
        self,
        *,
        source: str,
        per_minute: int,
        per_day: int,
        max_wait: float = 65.0,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.source, self.per_minute, self.per_day = source, per_minute, per_day
        self.max_wait, self._clock, self._sleep = max_wait, clock, sleep
        self._recent: deque[float] = deque()
        self._day = _utc_day(clock())
        self._used_today = 0
        self._lock = asyncio.Lock()

    def _roll_day(self, now: float) -> None:
        today = _utc_day(now)
        if today != self._day:
            self._day, self._used_today = today, 0

    async def acquire(self) -> None:
        async with self._lock:
            now = self._clock()
            self._roll_day(now)
            if self._used_today >= self.per_day:
                raise QuotaExhausted(f"{self.per_day} calls/day used", source=self.source)
            while self._recent and self._recent[0] <= now - 60.0:
                self._recent.popleft()
            if len(self._recent) >= self.per_minute:
                wait = self._recent[0] + 60.0 - now
                if wait > self.max_wait:
                    raise Throttled("client-side limit", source=self.source, retry_after=wait)
                await self._sleep(wait)
                now = self._clock()
                self._recent.popleft()
            self._recent.append(now)
            self._used_today += 1

    async def exhaust_today(self) -> None:
        self._roll_day(self._clock())
        self._used_today = self.per_day

    async def remaining_today(self) -> int | None:
        self._roll_day(self._clock())
        return max(0, self.per_day - self._used_today)


class RedisRateLimiter:
    """Fixed one-minute and one-day windows in Redis (INCR + EXPIRE), shared by replicas."""

    def __init__(
        self,
        redis: Redis,
        *,
        source: str,
        per_minute: int,
        per_day: int,
        max_wait: float = 65.0,
        prefix: str = "tickerconv:ratelimit",
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._redis = redis
        self.source, self.per_minute, self.per_day = source, per_minute, per_day
        self.max_wait, self._prefix = max_wait, prefix
        self._clock, self._sleep = clock, sleep

    def _day_key(self, now: float) -> str:
        return f"{self._prefix}:{self.source}:day:{_utc_day(now).isoformat()}"

    async def _incr(self, key: str, ttl: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl)
            count, _ = await pipe.execute()
        return int(count)

    async def acquire(self) -> None:
        now = self._clock()
        day_key = self._day_key(now)
        used = await self._redis.get(day_key)
        if used is not None and int(used) >= self.per_day:
            raise QuotaExhausted(f"{self.per_day} calls/day used", source=self.source)
        while True:
            minute = int(now // 60)
            count = await self._incr(f"{self._prefix}:{self.source}:minute:{minute}", 120)
            if count <= self.per_minute:
                break
            wait = (minute + 1) * 60 - now
            if wait > self.max_wait:
                raise Throttled("client-side limit", source=self.source, retry_after=wait)
            await self._sleep(wait)
            now = self._clock()
        if await self._incr(day_key, 2 * 86_400) > self.per_day:
            raise QuotaExhausted(f"{self.per_day} calls/day used", source=self.source)

    async def exhaust_today(self) -> None:
        await self._redis.set(self._day_key(self._clock()), self.per_day, ex=2 * 86_400)

    async def remaining_today(self) -> int | None:
        used = await self._redis.get(self._day_key(self._clock()))
        return max(0, self.per_day - int(used or 0))
