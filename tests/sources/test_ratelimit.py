from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.sources.base import QuotaExhausted, Throttled
from app.sources.ratelimit import MemoryRateLimiter, RedisRateLimiter
from tests.conftest import REDIS_URL, port_open, require
from tests.sources.test_failover import Clock


async def test_memory_limiter_spaces_calls_and_caps_the_day() -> None:
    clock = Clock(start=86_400 * 20_000 + 10.0)
    limiter = MemoryRateLimiter(
        source="av", per_minute=5, per_day=7, clock=clock, sleep=clock.sleep
    )
    for _ in range(5):
        await limiter.acquire()
    assert clock.slept == []
    await limiter.acquire()  # the sixth call waits for the oldest to leave the window
    assert clock.slept == [60.0]
    await limiter.acquire()
    assert await limiter.remaining_today() == 0
    with pytest.raises(QuotaExhausted):
        await limiter.acquire()


async def test_memory_limiter_refuses_to_wait_beyond_max_wait() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(
        source="av", per_minute=1, per_day=9, max_wait=5.0, clock=clock, sleep=clock.sleep
    )
    await limiter.acquire()
    with pytest.raises(Throttled):
        await limiter.acquire()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_redis_limiter_is_shared_between_replicas(redis: Redis) -> None:
    clock = Clock(start=86_400 * 20_000 + 5.0)
    prefix = f"test:{uuid.uuid4().hex}"
    replicas = [
        RedisRateLimiter(
            redis,
            source="av",
            per_minute=3,
            per_day=4,
            prefix=prefix,
            clock=clock,
            sleep=clock.sleep,
        )
        for _ in range(2)
    ]
    await replicas[0].acquire()
    await replicas[1].acquire()
    await replicas[0].acquire()
    assert clock.slept == []
    await replicas[1].acquire()  # fourth call this minute: waits for the next window
    assert clock.slept == [55.0]
    assert await replicas[0].remaining_today() == 0
    with pytest.raises(QuotaExhausted):
        await replicas[1].acquire()
    clock.now += 86_400
    await replicas[0].exhaust_today()
    with pytest.raises(QuotaExhausted):
        await replicas[1].acquire()
    keys = await redis.keys(f"{prefix}:*")
    ttls = [await redis.ttl(k) for k in keys]
    assert keys and all(0 < ttl <= 2 * 86_400 for ttl in ttls)
    await redis.delete(*keys)
